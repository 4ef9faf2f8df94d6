import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import { assessApp } from './assess.js';
import { SyncEngine } from './engine.js';
import { buildPlan } from './plan.js';
import { AppRuntime } from './runtime.js';
import type { AppInput } from './types.js';

/** ConfigMaps in namespace `shop`, kept in memory; applies fail while `failing` is set. */
function cluster() {
  const objects = new Map<string, KubeObject>();
  const state = { failing: false };
  let rv = 0;
  const client = {
    isNamespaced: (_v: string, kind: string) => Promise.resolve(kind !== 'Namespace'),
    getOrUndefined: (_v: string, kind: string, name: string) =>
      Promise.resolve(
        kind === 'Namespace' ? { apiVersion: 'v1', kind, metadata: { name } } : objects.get(name),
      ),
    apply: (obj: KubeObject, _fm: string, opts: { dryRun?: boolean } = {}) => {
      if (state.failing) return Promise.reject(new Error('503 Service Unavailable'));
      const result = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      if (!opts.dryRun) objects.set(obj.metadata.name, result);
      return Promise.resolve(result);
    },
  } as unknown as KubeClient;
  const watches = {
    all: () => [],
    waitSynced: () => Promise.resolve(),
    cached: () => undefined,
  } as unknown as WatchCache;
  const engine = new SyncEngine(
    client,
    watches,
    {
      saveInventory: () => Promise.resolve(),
      markApplied: () => Promise.resolve(),
      event: () => undefined,
    },
    { fieldManager: 'axle', agentName: 'east', applyConcurrency: 1 },
  );
  return { engine, objects, state };
}

const cm = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: { k: name },
});

const app = (generation: number): AppInput => ({
  appId: 'a',
  appName: 'app-a',
  generation,
  namespace: 'shop',
  policy: { automated: true, prune: true, selfHeal: true },
  options: { createNamespace: true, validate: true } as AppInput['options'],
  inventory: [],
});

describe('assessApp', () => {
  it('keeps snapshots and apply errors only for the objects of the current plan', async () => {
    const { engine, objects, state } = cluster();
    const rt = new AppRuntime('a');
    // Every commit renames the ConfigMap (a kustomize configMapGenerator hash suffix).
    for (let gen = 1; gen <= 5; gen++) {
      const name = `settings-${gen}`;
      rt.resetPlan(`k${gen}`, buildPlan([cm(name)]));
      // Applied (a snapshot), then deleted by someone and its re-apply failed (an apply error).
      await engine.heal(rt, app(gen), new Set([`/ConfigMap/shop/${name}`]));
      expect(objects.has(name)).toBe(true);
      objects.delete(name);
      state.failing = true;
      await engine.heal(rt, app(gen), new Set([`/ConfigMap/shop/${name}`]));
      state.failing = false;
      await assessApp(engine, rt, app(gen));
    }
    expect([...rt.snapshots.keys()]).toEqual(['/ConfigMap/shop/settings-5']);
    expect([...rt.applyErrors.keys()]).toEqual(['/ConfigMap/shop/settings-5']);
  });
});
