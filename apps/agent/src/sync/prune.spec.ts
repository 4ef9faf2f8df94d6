import { describe, expect, it } from 'vitest';
import {
  resourceKey,
  type KubeObject,
  type ResourceKey,
} from '../../../../libs/manifests/src/index.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import type { Applier } from './apply.js';
import { Pruner } from './prune.js';
import { ARGO_HOOK } from './options.js';
import { APP_LABEL, TRACKING_ANNOTATION, trackingId } from './resources.js';
import type { AppRuntime } from './runtime.js';
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

/** `live` is what the API server has; `watched` is also in the watch caches (as labelled). */
function pruner(live: KubeObject[], watched: KubeObject[] = []) {
  const deleted: string[] = [];
  const byName = new Map(live.map((o) => [o.metadata.name, o]));
  const applier = {
    prepare: () => Promise.resolve(new Error('unused')),
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
    { event: () => undefined },
    { applyConcurrency: 2 },
  );
  return { p, deleted };
}

const app = (inventory: KubeObject[]): AppInput => ({
  appId: 'a',
  appName: 'app-a',
  generation: 2,
  namespace: 'shared',
  policy: { automated: true, prune: true, selfHeal: false },
  options: { propagationPolicy: 'Background' } as AppInput['options'],
  inventory: inventory.map(resourceKey),
});

const rt = () =>
  ({
    plan: { resources: [] },
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
});
