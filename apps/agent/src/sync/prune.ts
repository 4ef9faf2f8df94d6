import {
  resourceId,
  resourceKey,
  type KubeObject,
  type ResourceKey,
} from '../../../../libs/manifests/src/index.js';
import {
  apiVersionOf,
  kubeError,
  type KubeClient,
  type PropagationPolicy,
} from '../kube/kube-client.js';
import { isChildApplication, isHook } from '../../../../libs/health/src/index.js';
import type { WatchCache } from '../kube/watch-cache.js';
import { mapLimit } from '../../../../libs/workqueue/src/index.js';
import type { Applier } from './apply.js';
import { resourceSyncOptions, syncWave } from './options.js';
import { DEFAULT_PRUNE_HOLD, pruneHeldMessage, pruneHoldReason } from './prune-hold.js';
import { keyRef, ownedByApp } from './resources.js';
import type { AppRuntime, Operation } from './runtime.js';
import type { AppInput, EngineCallbacks, EngineOptions } from './types.js';

/**
 * Pruning: what an app has in the cluster and no longer wants (its inventory and whatever carries
 * its label), deleted in reverse apply order with the propagation policy asked for; Prune=false
 * and Delete=false objects are left alone, PruneLast ones wait for the end of the operation. Only
 * objects whose label and tracking id still name the app are deleted: one in its inventory that
 * another app has applied since (moved between apps) is that app's. A prune that would delete
 * most of what the app runs is held for a person's confirmation instead (see prune-hold.ts).
 */
export class Pruner {
  constructor(
    private readonly applier: Applier,
    private readonly client: KubeClient,
    private readonly watches: WatchCache,
    private readonly cb: Pick<EngineCallbacks, 'event'>,
    private readonly opts: Pick<EngineOptions, 'applyConcurrency' | 'pruneHold'>,
  ) {}

  /**
   * What the app has in the cluster that is no longer desired: its inventory plus any live
   * object carrying its label and tracking id (so a lost inventory still prunes correctly).
   * Objects whose kind could not be resolved this time are never treated as leftovers.
   */
  async leftovers(rt: AppRuntime, app: AppInput): Promise<ResourceKey[]> {
    const desired = new Set<string>();
    const unresolved = new Set<string>();
    for (const item of rt.plan.resources) {
      const p = await this.applier.prepare(rt, app, item);
      if (p instanceof Error) unresolved.add(`${item.raw.kind}/${item.raw.metadata.name}`);
      else desired.add(p.id);
    }
    const out = new Map<string, ResourceKey>();
    const consider = (k: ResourceKey) => {
      const id = resourceId(k);
      if (!desired.has(id) && !unresolved.has(`${k.kind}/${k.name}`)) out.set(id, k);
    };
    app.inventory.forEach(consider);
    for (const obj of this.labelled(app.appId)) consider(resourceKey(obj));
    return [...out.values()];
  }

  /** Live objects in the watch caches that the agent applied for this app. */
  private labelled(appId: string, includeHooks = false): KubeObject[] {
    const out: KubeObject[] = [];
    for (const inf of this.watches.all()) {
      for (const obj of inf.objects.values()) {
        if (ownedByApp(obj, appId) && (includeHooks || !isHook(obj))) out.push(obj);
      }
    }
    return out;
  }

  /**
   * How many live objects the app runs (its inventory and whatever carries its label, hooks
   * aside): what the prune guard measures a prune against. One that cannot be read now is not
   * counted: the guard errs towards holding, and the sync itself goes on.
   */
  async owned(app: AppInput): Promise<number> {
    const keys = new Map<string, ResourceKey>();
    for (const k of app.inventory) keys.set(resourceId(k), k);
    for (const obj of this.labelled(app.appId))
      keys.set(resourceId(resourceKey(obj)), resourceKey(obj));
    let n = 0;
    for (const k of keys.values()) {
      const live = await this.applier.live(k).catch(() => undefined);
      if (live && ownedByApp(live, app.appId)) n++;
    }
    return n;
  }

  /**
   * The prune step: leftovers deleted now, or kept for the end (PruneLast); none at all when the
   * guard holds the prune (the rest of the sync goes on: what it applied stays applied).
   */
  async pruneStep(rt: AppRuntime, app: AppInput, op: Operation): Promise<string | undefined> {
    if (!app.policy.prune) return undefined;
    const now: ResourceKey[] = [];
    const last: ResourceKey[] = [];
    let confirm = 0;
    for (const k of await this.leftovers(rt, app)) {
      const live = await this.applier.live(k);
      // Another app's now (it was moved there and applied by it first): not ours to delete. A hook
      // is never pruned (see reportLeftovers), nor an Argo CD Application an earlier agent applied
      // (the hub keeps those as child applications now; deleting one would let an Argo CD in the
      // cluster delete what it deployed).
      if (!live || !ownedByApp(live, app.appId) || isHook(live) || isChildApplication(live))
        continue;
      const o = resourceSyncOptions(live);
      if (!o.prune) continue;
      if (o.pruneConfirm) confirm++;
      if (o.pruneLast ?? app.options.pruneLast) last.push(k);
      else now.push(k);
    }
    if (this.hold(rt, app, op, now.length + last.length, confirm)) return undefined;
    op.deferredPrune.push(...last);
    return this.deleteKeys(app, now, 'Pruned');
  }

  /**
   * Whether the prune of `count` objects is held (nothing deleted, PruneLast ones included): too
   * large a share of what the app ran before the sync, everything when the bundle has no objects,
   * or `confirm` of them marked Prune=confirm; and not confirmed by a person for this generation.
   * Announced once per generation (a SyncNow or a restart that holds it again says nothing new);
   * kept in the runtime for the app's status.
   */
  private hold(
    rt: AppRuntime,
    app: AppInput,
    op: Operation,
    count: number,
    confirm: number,
  ): boolean {
    const reason = app.policy.pruneConfirmed
      ? undefined
      : confirm > 0
        ? `${confirm === 1 ? '1 object asks' : `${confirm} objects ask`} for it: Prune=confirm`
        : pruneHoldReason(
            count,
            op.ownedBefore ?? 0,
            rt.plan.resources.length,
            this.opts.pruneHold ?? DEFAULT_PRUNE_HOLD,
          );
    if (!reason) {
      rt.pruneHeld = undefined;
      return false;
    }
    const announced = rt.pruneHeld?.generation === app.generation;
    const message = pruneHeldMessage(app.appName, count, reason);
    rt.pruneHeld = { generation: app.generation, count, message };
    if (!announced) this.cb.event(app.appId, 'Warning', 'PruneHeld', message, app.generation);
    return true;
  }

  /** Deletes in reverse apply order (later waves first, namespaces and CRDs last). */
  async deleteKeys(
    app: AppInput,
    keys: ResourceKey[],
    reason: string,
    policy: PropagationPolicy = app.options.propagationPolicy,
  ): Promise<string | undefined> {
    if (keys.length === 0) return undefined;
    const waves = new Map<string, number>();
    for (const k of keys) waves.set(resourceId(k), syncWave(await this.applier.live(k)));
    const rank = (k: ResourceKey) =>
      k.kind === 'Namespace' ? 2 : k.kind === 'CustomResourceDefinition' ? 1 : 0;
    const buckets = new Map<string, ResourceKey[]>();
    for (const k of keys) {
      const b = `${rank(k)}:${-(waves.get(resourceId(k)) ?? 0)}`;
      buckets.set(b, [...(buckets.get(b) ?? []), k]);
    }
    const order = [...buckets.keys()].sort((a, b) => {
      const [ra, wa] = a.split(':').map(Number);
      const [rb, wb] = b.split(':').map(Number);
      return ra - rb || wa - wb;
    });
    const errors: string[] = [];
    for (const b of order) {
      await mapLimit(buckets.get(b)!, this.opts.applyConcurrency, async (k) => {
        try {
          const ns = k.namespace || undefined;
          if (await this.client.delete(apiVersionOf(k), k.kind, k.name, ns, policy)) {
            this.cb.event(app.appId, 'Normal', reason, `${keyRef(k)} deleted`, app.generation);
          }
        } catch (e) {
          errors.push(`${keyRef(k)}: ${kubeError(e).message}`);
        }
      });
    }
    return errors.length ? `delete failed: ${errors.join('; ')}` : undefined;
  }

  /**
   * Deletes what an app put in the cluster (the app was deleted), hooks included, except
   * Delete=false ones.
   */
  async removeApp(rt: AppRuntime, app: AppInput): Promise<string | undefined> {
    const keys = new Map<string, ResourceKey>();
    for (const k of app.inventory) keys.set(resourceId(k), k);
    // Hooks too (Jobs left by PreSync/PostSync hooks with no delete policy): they carry the app's
    // label and tracking id and go with it, as in Argo CD's cascading delete. Pruning leaves
    // them alone: they are never desired resources.
    for (const obj of this.labelled(app.appId, true))
      keys.set(resourceId(resourceKey(obj)), resourceKey(obj));
    const doomed: ResourceKey[] = [];
    for (const k of keys.values()) {
      const live = await this.applier.live(k);
      if (live && ownedByApp(live, app.appId) && resourceSyncOptions(live).delete) doomed.push(k);
    }
    rt.dispose();
    return this.deleteKeys(app, doomed, 'Deleted');
  }
}
