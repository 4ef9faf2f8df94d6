import { describe, expect, it } from 'vitest';
import {
  resourceId,
  resourceKey,
  type KubeObject,
  type ResourceKey,
} from '../../../../libs/manifests/src/index.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import type { Applier } from './apply.js';
import { Pruner } from './prune.js';
import type { PruneHoldLimits } from './prune-hold.js';
import { ARGO_HOOK } from './options.js';
import { APP_LABEL, TRACKING_ANNOTATION, trackingId } from './resources.js';
import type { AppRuntime, Operation } from './runtime.js';
import type { AppInput } from './types.js';

/** A ConfigMap as the agent applied it for `appId`. */
function applied(appId: string, name: string): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'shared', labels: { [APP_LABEL]: appId } },
  };
  obj.metadata.annotations = { [TRACKING_ANNOTATION]: trackingId(appId, resourceKey(obj)) };
  return obj;
}

/** A PreSync hook Job as the agent applied it for `appId` (labelled and tracked as the rest). */
function hook(appId: string, name: string): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: 'shared',
      labels: { [APP_LABEL]: appId },
      annotations: { [ARGO_HOOK]: 'PreSync' },
    },
  };
  obj.metadata.annotations![TRACKING_ANNOTATION] = trackingId(appId, resourceKey(obj));
  return obj;
}

/**
 * `live` is what the API server has; `watched` is also in the watch caches (as labelled).
 * `limits`: the prune guard's (default: the agent's default).
 */
function pruner(live: KubeObject[], watched: KubeObject[] = [], limits?: PruneHoldLimits) {
  const deleted: string[] = [];
  const events: string[] = [];
  const byName = new Map(live.map((o) => [o.metadata.name, o]));
  const applier = {
    // What the plan holds is prepared under its own id (a desired resource, never a leftover).
    prepare: (_rt: unknown, _app: unknown, item: { raw: KubeObject }) =>
      Promise.resolve({ id: resourceId(resourceKey(item.raw)) }),
    live: (k: ResourceKey) => Promise.resolve(byName.get(k.name)),
  } as unknown as Applier;
  const client = {
    delete: (_v: string, _k: string, name: string) => (deleted.push(name), Promise.resolve(true)),
  } as unknown as KubeClient;
  for (const o of watched) byName.set(o.metadata.name, o);
  const objects = new Map(watched.map((o) => [o.metadata.name, o]));
  const watches = { all: () => [{ objects }] } as unknown as WatchCache;
  const p = new Pruner(
    applier,
    client,
    watches,
    {
      event: (_app, type, reason, message, generation) =>
        void events.push(`${type} ${reason} ${generation}: ${message}`),
    },
    { applyConcurrency: 2, pruneHold: limits },
  );
  return { p, deleted, events };
}

const app = (inventory: KubeObject[], policy: Partial<AppInput['policy']> = {}): AppInput => ({
  appId: 'a',
  appName: 'app-a',
  generation: 2,
  namespace: 'shared',
  policy: { automated: true, prune: true, selfHeal: false, ...policy },
  options: { propagationPolicy: 'Background' } as AppInput['options'],
  inventory: inventory.map(resourceKey),
});

/** The runtime of an app whose new bundle holds `desired` (by default one object of its own). */
const rt = (desired: KubeObject[] = [applied('a', 'kept')]) =>
  ({
    plan: { resources: desired.map((raw) => ({ raw })) },
    prepared: new Map(),
    dispose: () => undefined,
  }) as unknown as AppRuntime;

describe('Pruner', () => {
  const mine = applied('a', 'mine');
  // In app a's inventory, but moved to app b, which applied it first (its label and id now b's).
  const moved = applied('b', 'moved');

  it('prunes what the app still owns, not an object of its inventory another app took over', async () => {
    const { p, deleted } = pruner([mine, moved]);
    const op = { deferredPrune: [] } as never;
    expect(await p.pruneStep(rt(), app([mine, moved]), op)).toBeUndefined();
    expect(deleted).toEqual(['mine']);
  });

  it('removes with the app only what it still owns', async () => {
    const { p, deleted } = pruner([mine, moved]);
    expect(await p.removeApp(rt(), app([mine, moved]))).toBeUndefined();
    expect(deleted).toEqual(['mine']);
  });

  it('removes the hooks the app ran with it, but never prunes them', async () => {
    // Hooks are in no inventory: only their label and tracking id (in the watch caches) find them.
    const presync = hook('a', 'migrate');
    const others = hook('b', 'their-migrate');
    const pruning = pruner([mine], [presync, others]);
    expect(await pruning.p.pruneStep(rt(), app([mine]), { deferredPrune: [] } as never)).toBe(
      undefined,
    );
    expect(pruning.deleted).toEqual(['mine']);
    const removing = pruner([mine], [presync, others]);
    expect(await removing.p.removeApp(rt(), app([mine]))).toBeUndefined();
    expect(removing.deleted.sort()).toEqual(['migrate', 'mine']);
  });

  it('never prunes a hook still in the inventory (applied as a resource before Helm hooks were read)', async () => {
    // A chart's test pod, applied as a plain resource by an earlier agent: in the inventory.
    const testPod = applied('a', 'chart-test');
    testPod.metadata.annotations!['helm.sh/hook'] = 'test';
    const { p, deleted } = pruner([mine, testPod]);
    await p.pruneStep(rt(), app([mine, testPod]), { deferredPrune: [] } as never);
    expect(deleted).toEqual(['mine']);
  });

  it('never prunes an Argo CD Application an earlier agent applied (the hub keeps it as a child)', async () => {
    const argoApp: KubeObject = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'child', namespace: 'shared', labels: { [APP_LABEL]: 'a' } },
    };
    argoApp.metadata.annotations = {
      [TRACKING_ANNOTATION]: trackingId('a', resourceKey(argoApp)),
    };
    const { p, deleted } = pruner([mine, argoApp]);
    await p.pruneStep(rt(), app([mine, argoApp]), { deferredPrune: [] } as never);
    expect(deleted).toEqual(['mine']);
  });
});

describe('Pruner: the prune guard', () => {
  /** `n` ConfigMaps the agent applied for app a (cm-0, cm-1, …). */
  const objects = (n: number) => Array.from({ length: n }, (_, i) => applied('a', `cm-${i}`));
  /** The operation as the engine starts it: the app ran `owned` objects before the sync. */
  const op = (owned: number) => ({ deferredPrune: [], ownedBefore: owned }) as unknown as Operation;
  const held = (n: number, share: string) =>
    `prune of ${n} objects (${share}) held: confirm with "axle app sync app-a --prune"`;

  it('holds the prune of an emptied bundle: nothing deleted, said in the status and once as an event', async () => {
    const all = objects(10);
    const { p, deleted, events } = pruner(all);
    const r = rt([]);
    expect(await p.pruneStep(r, app(all), op(10))).toBeUndefined(); // not a failure
    expect(deleted).toEqual([]);
    const message = held(10, 'all it runs: the new bundle has no objects');
    expect(r.pruneHeld).toEqual({ generation: 2, count: 10, message });
    expect(events).toEqual([`Warning PruneHeld 2: ${message}`]);
    // The same generation again (a SyncNow, a resync after a restart): held, not announced again.
    await p.pruneStep(r, app(all), op(10));
    expect(deleted).toEqual([]);
    expect(events).toHaveLength(1);
  });

  it('holds the prune of most of what the app runs, PruneLast objects included', async () => {
    const all = objects(10);
    const kept = all.slice(0, 4);
    all[9].metadata.annotations!['argocd.argoproj.io/sync-options'] = 'PruneLast=true';
    const { p, deleted } = pruner(all);
    const r = rt(kept);
    const o = op(10);
    await p.pruneStep(r, app(all), o);
    expect(deleted).toEqual([]);
    expect(o.deferredPrune).toEqual([]);
    expect(r.pruneHeld?.message).toBe(held(6, '60% of what it runs'));
  });

  it('prunes as before what drops out of a bundle that keeps most of the app', async () => {
    const all = objects(10);
    const { p, deleted, events } = pruner(all);
    const r = rt(all.slice(1));
    await p.pruneStep(r, app(all), op(10));
    expect(deleted).toEqual(['cm-0']);
    expect(r.pruneHeld).toBeUndefined();
    expect(events.filter((e) => e.includes('PruneHeld'))).toEqual([]);
    // Half is not more than half (the default share): pruned too.
    const half = pruner(all);
    await half.p.pruneStep(rt(all.slice(5)), app(all), op(10));
    expect(half.deleted.sort()).toEqual(['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4']);
  });

  it('does not hold a small app (fewer objects than the minimum), unless its bundle is empty', async () => {
    const all = objects(3);
    const shrunk = pruner(all);
    await shrunk.p.pruneStep(rt(all.slice(2)), app(all), op(3));
    expect(shrunk.deleted.sort()).toEqual(['cm-0', 'cm-1']); // 67%, but only 2 objects
    // An empty render is the failure the guard is for, whatever the app's size.
    const emptied = pruner(all);
    const r = rt([]);
    await emptied.p.pruneStep(r, app(all), op(3));
    expect(emptied.deleted).toEqual([]);
    expect(r.pruneHeld?.count).toBe(3);
  });

  it('lets a held prune through for a generation a person confirmed', async () => {
    const all = objects(10);
    const { p, deleted, events } = pruner(all);
    const r = rt([]);
    await p.pruneStep(r, app(all), op(10));
    expect(deleted).toEqual([]);
    // `axle app sync app-a --prune`: a new generation whose policy carries the confirmation.
    const confirmed = { ...app(all, { pruneConfirmed: true }), generation: 3 };
    expect(await p.pruneStep(r, confirmed, op(10))).toBeUndefined();
    expect(deleted).toHaveLength(10);
    expect(r.pruneHeld).toBeUndefined();
    expect(events.filter((e) => e.includes('PruneHeld'))).toHaveLength(1);
  });

  it('holds a prune of what asks for it (Prune=confirm) until a person confirms; keeps Delete=confirm', async () => {
    const all = objects(10);
    all[9].metadata.annotations!['argocd.argoproj.io/sync-options'] = 'Prune=Confirm';
    const { p, deleted, events } = pruner(all);
    const r = rt(all.slice(0, 9)); // one object out: far below the share rule
    await p.pruneStep(r, app(all), op(10));
    expect(deleted).toEqual([]);
    const message =
      'prune of 1 object (1 object asks for it: Prune=confirm) held: confirm with "axle app sync app-a --prune"';
    expect(r.pruneHeld?.message).toBe(message);
    expect(events).toEqual([`Warning PruneHeld 2: ${message}`]);
    const confirmed = { ...app(all, { pruneConfirmed: true }), generation: 3 };
    await p.pruneStep(r, confirmed, op(10));
    expect(deleted).toEqual(['cm-9']);
    // Deleting the app asks nobody: what asks for a confirmation is kept, as Delete=false is.
    all[0].metadata.annotations!['argocd.argoproj.io/sync-options'] = 'Delete=confirm';
    const removal = pruner(all);
    await removal.p.removeApp(rt([]), app(all));
    expect(removal.deleted).toHaveLength(9);
    expect(removal.deleted).not.toContain('cm-0');
  });

  it('follows the configured limits (a share of 1 turns the share rule off)', async () => {
    const all = objects(10);
    const strict = pruner(all, [], { share: 0.2, min: 2 });
    await strict.p.pruneStep(rt(all.slice(7)), app(all), op(10));
    expect(strict.deleted).toEqual([]); // 7 of 10 > 20%
    const off = pruner(all, [], { share: 1, min: 1 });
    await off.p.pruneStep(rt(all.slice(9)), app(all), op(10));
    expect(off.deleted).toHaveLength(9);
  });

  it('never holds the removal of the whole app (an explicit deletion)', async () => {
    const all = objects(10);
    const { p, deleted, events } = pruner(all);
    expect(await p.removeApp(rt([]), app(all))).toBeUndefined();
    expect(deleted).toHaveLength(10);
    expect(events.filter((e) => e.includes('PruneHeld'))).toEqual([]);
  });

  it('counts what the app runs: its inventory and its labelled objects, live and still its own', async () => {
    const all = objects(4);
    const found = applied('a', 'not-in-inventory');
    const gone = applied('a', 'deleted-by-someone');
    const moved = applied('b', 'moved');
    const { p } = pruner(all, [found]);
    expect(await p.owned(app([...all, gone, moved]))).toBe(5);
  });
});
