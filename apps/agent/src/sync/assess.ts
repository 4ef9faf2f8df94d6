import {
  assessHealth,
  isChildApplication,
  isHook,
  worstHealth,
  type HealthStatus,
} from '../../../../libs/health/src/index.js';
import { resourceId, type ResourceKey } from '../../../../libs/manifests/src/index.js';
import { NoKindError } from '../kube/kube-client.js';
import { diffObject } from './diff.js';
import type { AppInput, SyncEngine } from './engine.js';
import { resourceSyncOptions } from './options.js';
import type { PlanItem } from './plan.js';
import { guessKey, keyRef, ownedByApp } from './resources.js';
import type { AppReport, AppRuntime, ResourceReport, SyncState } from './runtime.js';

export interface Assessment {
  report: AppReport;
  /** Desired resources that drifted or went missing: what self-heal would re-apply. */
  healIds: Set<string>;
  /**
   * Inventory entries that are no longer the app's: gone from the cluster, or taken over by
   * another app (their label and tracking id name it now).
   */
  gone: ResourceKey[];
}

/**
 * Compares every desired resource with the cluster: health, and (for fields the agent owns) the
 * differences someone else made. Leftovers that were not pruned are reported too.
 */
export async function assessApp(
  engine: SyncEngine,
  rt: AppRuntime,
  app: AppInput,
): Promise<Assessment> {
  const ctx: Ctx = {
    engine,
    rt,
    app,
    healIds: new Set(),
    counted: [],
    // After a failed sync of this generation, differences are changes not applied yet, not
    // drift (and self-heal must not apply them: a failed PreSync hook gates them).
    failed: rt.lastOp?.phase === 'Failed' && rt.lastOp.generation === app.generation,
  };
  const resources: ResourceReport[] = [];
  for (const item of rt.plan.resources) resources.push(await assessResource(ctx, item));
  // Every object of the plan is prepared now: what the runtime holds for any other is stale
  // (leftovers and pruning read live objects, not snapshots).
  rt.keepOnly(new Set([...rt.prepared.values()].map((p) => p.id)));
  const gone = await reportLeftovers(engine, rt, app, resources, ctx.counted);
  return { report: summarise(rt, app, resources, ctx.counted), healIds: ctx.healIds, gone };
}

interface Ctx {
  engine: SyncEngine;
  rt: AppRuntime;
  app: AppInput;
  healIds: Set<string>;
  counted: HealthStatus[];
  failed: boolean;
}

async function assessResource(ctx: Ctx, item: PlanItem): Promise<ResourceReport> {
  const { engine, rt, app } = ctx;
  const p = await engine.applier.prepare(rt, app, item);
  if (p instanceof Error) {
    return {
      ...blank(guessKey(item.raw, app.namespace), item.wave),
      sync: 'OutOfSync',
      health: p instanceof NoKindError ? 'Missing' : 'Unknown',
      message: p.message,
    };
  }
  const r: ResourceReport = blank(p.key, item.wave);
  const pending = rt.op !== undefined && !rt.op.appliedIds.has(p.id);
  const applyError = rt.applyErrors.get(p.id);
  let live;
  try {
    live = await engine.applier.freshest(rt, p);
  } catch (e) {
    return { ...r, sync: 'Unknown', health: 'Unknown', message: (e as Error).message };
  }
  if (!live) return missing(ctx, r, p.id, pending, applyError);
  const h = assessHealth(live);
  r.health = h.status;
  if (!pending) ctx.counted.push(h.status);
  let snap = rt.snapshots.get(p.id);
  if (!snap || snap.hash !== p.hash) {
    if (pending) return { ...r, sync: 'OutOfSync', message: `pending (wave ${item.wave})` };
    try {
      snap = await engine.applier.dryRunSnapshot(rt, p, ctx.app.options.validate);
    } catch (e) {
      return {
        ...r,
        sync: 'Unknown',
        message: applyError ?? `cannot compare: ${(e as Error).message}`,
      };
    }
  }
  const d = diffObject(rt, app, p, snap, live);
  r.diffs = d.diffs;
  r.diffTotal = d.total;
  r.drifted = d.total > 0 && !(ctx.failed && snap.dryRun);
  r.sync = d.total > 0 || applyError ? 'OutOfSync' : 'Synced';
  const diffText =
    d.total > 0 ? diffMessage(r, r.drifted ? 'drift in' : 'differs from git in') : '';
  r.message = applyError ?? (diffText || (h.message ?? ''));
  if (r.drifted && !pending) ctx.healIds.add(p.id);
  return r;
}

function missing(
  ctx: Ctx,
  r: ResourceReport,
  id: string,
  pending: boolean,
  applyError: string | undefined,
): ResourceReport {
  r.sync = 'OutOfSync';
  r.health = 'Missing';
  // A failed re-apply (a namespace still terminating, a 5xx) must not end self-heal for the
  // object: the heal backoff already spaces the next attempts, as for drifted objects.
  r.drifted = !pending && !ctx.failed;
  r.message = applyError ?? (pending ? `pending (wave ${r.wave})` : 'resource is missing');
  if (!pending) ctx.counted.push('Missing');
  if (r.drifted) ctx.healIds.add(id);
  return r;
}

async function reportLeftovers(
  engine: SyncEngine,
  rt: AppRuntime,
  app: AppInput,
  resources: ResourceReport[],
  counted: HealthStatus[],
): Promise<ResourceKey[]> {
  const gone: ResourceKey[] = [];
  for (const k of await engine.pruner.leftovers(rt, app)) {
    let live;
    try {
      live = await engine.applier.live(k);
    } catch {
      continue;
    }
    // An object another app applied since (moved there, and that app synced first) is never
    // pruned by this one (see Pruner), so it is not this app's leftover: reported, it would keep
    // the app OutOfSync for good, and kept in the inventory it would never leave it. So is a hook
    // (an object applied as a resource by an agent that did not read Helm's hook annotations):
    // hooks go by their delete policies, never by pruning, as in gitops-engine. So is an Argo CD
    // Application an earlier agent applied: the hub keeps those (see Pruner).
    if (!live || !ownedByApp(live, app.appId) || isHook(live) || isChildApplication(live)) {
      gone.push(k);
      continue;
    }
    const h = assessHealth(live);
    const deleting = Boolean(live.metadata.deletionTimestamp);
    const optOut = !resourceSyncOptions(live).prune;
    counted.push(h.status);
    resources.push({
      ...blank(k, 0),
      sync: 'OutOfSync',
      health: h.status,
      requiresPruning: true,
      message: deleting
        ? 'being deleted'
        : optOut
          ? 'no longer desired; not pruned (Prune=false)'
          : heldFor(rt, app)
            ? 'no longer desired; prune held for confirmation'
            : app.policy.prune
              ? 'no longer desired; to be pruned'
              : 'no longer desired; requires pruning',
    });
  }
  return gone;
}

function summarise(
  rt: AppRuntime,
  app: AppInput,
  resources: ResourceReport[],
  counted: HealthStatus[],
): AppReport {
  const syncs = new Set<SyncState>(resources.map((r) => r.sync));
  const sync: SyncState = syncs.has('OutOfSync')
    ? 'OutOfSync'
    : syncs.has('Unknown')
      ? 'Unknown'
      : rt.op
        ? 'OutOfSync'
        : 'Synced';
  let health = worstHealth(counted);
  if (rt.op && health === 'Healthy') health = 'Progressing';
  const drifted = resources.filter((r) => r.drifted);
  const worst = resources.find((r) => r.health === health && r.health !== 'Healthy');
  const held = heldFor(rt, app);
  let message: string;
  if (rt.op?.waiting) message = rt.op.waiting;
  else if (rt.lastOp?.phase === 'Failed' && rt.lastOp.generation === app.generation)
    message = `sync failed: ${rt.lastOp.message}`;
  // Held until a person confirms it: said first (drift elsewhere is healed, this is not).
  else if (held && resources.some((r) => r.requiresPruning)) message = held.message;
  else if (drifted.length)
    message = `${keyRef(drifted[0].key)}: ${drifted[0].message}${drifted.length > 1 ? ` (and ${drifted.length - 1} more drifted)` : ''}`;
  else if (worst)
    message = `${keyRef(worst.key)} is ${worst.health}${worst.message ? `: ${worst.message}` : ''}`;
  else message = resources.find((r) => r.sync !== 'Synced')?.message ?? '';
  if (app.options.observeOnly) message = `observe only${message ? `: ${message}` : ''}`;
  return {
    sync,
    health,
    message,
    resources,
    drifted: drifted.length > 0,
    observeOnly: app.options.observeOnly,
    operation: rt.lastOp,
  };
}

/** The prune the guard holds for the app's generation, if any. */
function heldFor(rt: AppRuntime, app: AppInput) {
  return rt.pruneHeld?.generation === app.generation ? rt.pruneHeld : undefined;
}

function blank(key: ResourceKey, wave: number): ResourceReport {
  return {
    key,
    sync: 'Synced',
    health: 'Healthy',
    message: '',
    drifted: false,
    diffs: [],
    diffTotal: 0,
    requiresPruning: false,
    wave,
  };
}

/** `drift in /data/a (desired "x", live "y")`, the first few fields. */
export function diffMessage(r: ResourceReport, prefix: string): string {
  const parts = r.diffs
    .slice(0, 3)
    .map((d) => `${d.path} (desired ${d.desired || 'absent'}, live ${d.live || 'absent'})`);
  const more = r.diffTotal > 3 ? ` and ${r.diffTotal - 3} more field(s)` : '';
  return `${prefix} ${parts.join(', ')}${more}`.slice(0, 900);
}

export function keyId(k: ResourceKey): string {
  return resourceId(k);
}
