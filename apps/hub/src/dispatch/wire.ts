import type { AppStatus } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { decodeHealth, decodeSync } from '../../../../libs/proto/src/codec.js';
import type { ResourceState } from '../applications/app-target.entity.js';
import type { StatusRow } from '../applications/targets.repository.js';

/** An agent's status report as stored, bounded field by field. */
export function statusRow(clusterId: string, s: AppStatus): StatusRow {
  const resources: ResourceState[] = s.resources.slice(0, 10_000).map((r) => ({
    group: r.group,
    version: r.version,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    sync: decodeSync(r.sync) ?? 'Unknown',
    health: decodeHealth(r.health) ?? 'Unknown',
    ...(r.message ? { message: r.message.slice(0, 2000) } : {}),
    ...(r.drifted ? { drifted: true } : {}),
    ...(r.diffs.length
      ? {
          diffs: r.diffs.slice(0, 20).map((d) => ({
            path: d.path.slice(0, 512),
            desired: d.desired.slice(0, 512),
            live: d.live.slice(0, 512),
          })),
        }
      : {}),
    ...(r.requiresPruning ? { requiresPruning: true } : {}),
    ...(r.syncWave ? { syncWave: r.syncWave } : {}),
  }));
  return {
    appId: s.appId,
    clusterId,
    generation: s.generation,
    revision: s.revision.slice(0, 64) || null,
    sync: decodeSync(s.sync) ?? 'Unknown',
    health: decodeHealth(s.health) ?? 'Unknown',
    message: s.message.slice(0, 4000),
    resources,
    observedAt: s.observedAtUnixMs || Date.now(),
    drifted: s.drifted,
    observeOnly: s.observeOnly,
    operation: s.operation ? operationJson(s.operation) : null,
  };
}

/** The operation as JSON, at most 64 KiB: beyond that, without its hooks. */
function operationJson(op: NonNullable<AppStatus['operation']>): string {
  const full = JSON.stringify(op);
  if (full.length <= 64 * 1024) return full;
  return JSON.stringify({ ...op, message: op.message.slice(0, 2000), hooks: [] });
}
