import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import { Applier } from './apply.js';
import { Hooks, hookResult } from './hooks.js';
import { ARGO_HOOK, ARGO_HOOK_DELETE_POLICY, appSyncOptions } from './options.js';
import { buildPlan } from './plan.js';
import { AppRuntime, type HookRun, type Operation } from './runtime.js';
import type { AppInput } from './types.js';

describe('hookResult', () => {
  it('follows a Pod by its phase', () => {
    const pod = (phase?: string, message?: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'migrate' },
      status: { phase, message },
    });
    expect(hookResult(pod('Succeeded'))).toEqual({ phase: 'Succeeded', message: '' });
    expect(hookResult(pod('Failed', 'exit 1'))).toEqual({ phase: 'Failed', message: 'exit 1' });
    expect(hookResult(pod('Pending'))).toEqual({ phase: 'Running', message: 'Pending' });
  });

  it('follows anything else by its health (a Job: complete or failed)', () => {
    const job = (conditions: { type: string; status: string }[]) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'seed' },
      status: { conditions },
    });
    expect(hookResult(job([{ type: 'Complete', status: 'True' }])).phase).toBe('Succeeded');
    expect(hookResult(job([{ type: 'Failed', status: 'True' }])).phase).toBe('Failed');
    expect(hookResult(job([])).phase).toBe('Running');
  });
});

/** A finished Job as the API server returns it. */
function job(uid: string, rv: string, done: 'Complete' | 'Failed'): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'migrate', namespace: 'shop', uid, resourceVersion: rv },
    status: { conditions: [{ type: done, status: 'True' }] },
  };
}

/**
 * A PreSync hook Job whose previous run, completed, was deleted (BeforeHookCreation) and is still
 * in the watch cache, as when the informer has not processed its DELETED event yet.
 */
function rerun(deletePolicy: string) {
  const raw: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'migrate',
      annotations: { [ARGO_HOOK]: 'PreSync', [ARGO_HOOK_DELETE_POLICY]: deletePolicy },
    },
  };
  const state: { etcd?: KubeObject; cache?: KubeObject; deleted: number } = {
    etcd: job('old', '10', 'Complete'),
    cache: job('old', '10', 'Complete'),
    deleted: 0,
  };
  const client = {
    isNamespaced: () => Promise.resolve(true),
    invalidate: () => undefined,
    getOrUndefined: (_v: string, kind: string, name: string) =>
      Promise.resolve(kind === 'Namespace' ? { metadata: { name } } : state.etcd),
    apply: (o: KubeObject) =>
      Promise.resolve(
        (state.etcd = { ...o, metadata: { ...o.metadata, uid: 'new', resourceVersion: '11' } }),
      ),
    delete: () => {
      state.deleted++;
      const found = state.etcd !== undefined;
      state.etcd = undefined;
      return Promise.resolve(found);
    },
  } as unknown as KubeClient;
  const watches = {
    waitSynced: () => Promise.resolve(),
    cached: (_v: string, kind: string) => (kind === 'Namespace' ? { metadata: {} } : state.cache),
  } as unknown as WatchCache;
  const applier = new Applier(client, watches, {
    fieldManager: 'axle',
    agentName: 'east',
    applyConcurrency: 1,
  });
  const events: string[] = [];
  const hooks = new Hooks(applier, client, { event: (_a, _t, reason) => void events.push(reason) });
  const plan = buildPlan([raw]);
  const rt = new AppRuntime('a');
  rt.resetPlan('k', plan);
  const policy = { automated: true, prune: true, selfHeal: false };
  const app: AppInput = {
    appId: 'a',
    appName: 'app-a',
    generation: 2,
    namespace: 'shop',
    policy,
    options: appSyncOptions(policy),
    inventory: [],
  };
  const run: HookRun = {
    type: 'PreSync',
    step: 0,
    item: plan.hooks[0],
    phase: 'Running',
    message: '',
  };
  const op = { generation: 2, stepIndex: 0, hooks: [run] } as unknown as Operation;
  return { hooks, rt, app, run, op, state, events };
}

describe('a hook re-created (BeforeHookCreation)', () => {
  it('is not taken for its previous run the watch cache still holds', async () => {
    const h = rerun('BeforeHookCreation,HookSucceeded');
    await h.hooks.start(h.rt, h.app, h.run);
    expect(h.run.phase).toBe('Running');

    // The cache still has the old, completed Job: the new one has not run yet.
    expect(await h.hooks.check(h.rt, h.app, h.op)).toEqual({
      waiting: 'waiting for PreSync hook Job/shop/migrate',
    });
    expect(h.run.phase).toBe('Running');
    expect(h.events).toEqual([]);
    expect(h.state.deleted).toBe(1); // the old run only, not the new Job (HookSucceeded)

    // The cache catches up, the new Job still running; then it completes.
    h.state.cache = h.state.etcd;
    await h.hooks.check(h.rt, h.app, h.op);
    expect(h.run.phase).toBe('Running');
    h.state.etcd = h.state.cache = job('new', '12', 'Complete');
    expect(await h.hooks.check(h.rt, h.app, h.op)).toEqual({ waiting: undefined });
    expect(h.run.phase).toBe('Succeeded');
    expect(h.events).toEqual(['HookSucceeded']);
    // HookSucceeded: deleted once the whole operation succeeded, not with the hook.
    expect(h.state.deleted).toBe(1);
    await h.hooks.cleanUp(h.op, false);
    expect(h.state.deleted).toBe(1); // a failed operation keeps it (no HookFailed)
    await h.hooks.cleanUp(h.op, true);
    expect(h.state.deleted).toBe(2);
  });

  it('follows its own status, read directly while the cache lags', async () => {
    const h = rerun('BeforeHookCreation');
    await h.hooks.start(h.rt, h.app, h.run);
    h.state.etcd = job('new', '12', 'Failed');
    await h.hooks.check(h.rt, h.app, h.op);
    expect(h.run.phase).toBe('Failed');
    expect(h.events).toEqual(['HookFailed']);
  });

  it('fails when its object is gone, though the cache still holds the previous run', async () => {
    const h = rerun('BeforeHookCreation');
    await h.hooks.start(h.rt, h.app, h.run);
    h.state.etcd = undefined;
    expect((await h.hooks.check(h.rt, h.app, h.op)).failed).toBe(
      'PreSync hook Job/shop/migrate failed: the hook object disappeared',
    );
  });
});
