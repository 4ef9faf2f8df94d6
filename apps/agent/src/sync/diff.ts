import {
  diffOwnedFields,
  ignoredManagerFields,
  ignoreFor,
} from '../../../../libs/diff/src/index.js';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import type { Applier } from './apply.js';
import type { Prepared } from './resources.js';
import type { AppRuntime, Snapshot } from './runtime.js';
import type { AppInput } from './types.js';

/**
 * Desired against live: the fields the agent's last apply owns, less ignoreDifferences (pointers
 * and managers), Secrets redacted. Memoised per object, snapshot and live resourceVersion.
 */
export function diffObject(
  rt: AppRuntime,
  app: AppInput,
  p: Prepared,
  snap: Snapshot,
  live: KubeObject,
) {
  const rv = live.metadata.resourceVersion;
  const memoKey = `${p.id}|${snap.seq}|${typeof rv === 'string' ? rv : ''}`;
  const hit = rt.diffMemo.get(memoKey);
  if (hit) return hit;
  const ignore = ignoreFor(app.policy.ignoreDifferences ?? [], p.key);
  const r = diffOwnedFields(snap.expected, live, snap.owned, {
    ignorePointers: ignore.pointers,
    ignoreFields: ignoredManagerFields(live, ignore.managers),
    redact: p.key.group === '' && p.key.kind === 'Secret',
  });
  if (rt.diffMemo.size > 20_000) rt.diffMemo.clear();
  rt.diffMemo.set(memoKey, r);
  return r;
}

/** ApplyOutOfSyncOnly: the last apply of this exact object still matches the live one. */
export async function inSync(
  applier: Applier,
  rt: AppRuntime,
  app: AppInput,
  p: Prepared,
): Promise<boolean> {
  const snap = rt.snapshots.get(p.id);
  if (!snap || snap.hash !== p.hash || snap.dryRun) return false;
  const live = await applier.freshest(rt, p);
  if (!live) return false;
  return diffObject(rt, app, p, snap, live).total === 0;
}
