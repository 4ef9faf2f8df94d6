import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import { tempDir } from '../../../../test/support/temp-dir.js';
import type { AllowList } from '../allow-list.js';
import { BundleCache } from '../bundle-cache.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import type { StatusReporter } from '../outbound/status-reporter.js';
import { StateStore } from '../state-store.js';
import { SyncEngine } from '../sync/engine.js';
import { APP_LABEL } from '../sync/resources.js';
import type { AppReport } from '../sync/runtime.js';
import { AppReconciler } from './app-reconciler.js';

// Every case has a state store of its own on disk.
let dir: Awaited<ReturnType<typeof tempDir>>;
let store: StateStore;
beforeEach(async () => {
  dir = await tempDir('axle-reconciler-');
  store = new StateStore(dir.path);
});
afterEach(async () => {
  await store.close();
  await dir.remove();
});

describe('AppReconciler: removing an app', () => {
  beforeEach(() => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  function reconciler(removeApp: () => Promise<string | undefined>) {
    const removals = vi.fn(removeApp);
    const engine = { removeApp: removals } as unknown as SyncEngine;
    const events: string[] = [];
    const reporter = {
      forget: () => undefined,
      event: (_app: string, _type: string, reason: string) => void events.push(reason),
    } as unknown as StatusReporter;
    const watches = { release: () => undefined } as unknown as WatchCache;
    const r = new AppReconciler(
      store,
      new BundleCache(store),
      watches,
      engine,
      reporter,
      () => false,
      {
        concurrency: 1,
        observeOnly: false,
        selfHeal: { delayMs: 1000, maxDelayMs: 300_000 },
        resyncSeconds: 3600,
      },
    );
    return { r, removals, events };
  }

  const app = {
    appId: 'a',
    appName: 'app-a',
    generation: 1,
    revision: 'r',
    bundleHash: 'sha256:x',
    namespace: 'default',
    policy: { automated: true, prune: true, selfHeal: false },
    applied: { generation: 1, resources: [] },
  } as Parameters<StateStore['put']>[0];

  it('keeps the app and tries again when its resources could not be deleted', async () => {
    let calls = 0;
    const { r, removals, events } = reconciler(() =>
      ++calls === 1
        ? Promise.reject(new Error('503 Service Unavailable'))
        : Promise.resolve(undefined),
    );
    await store.put(app);
    await r.remove('a', true); // resolves after the first attempt: the hub's messages go on
    expect(removals).toHaveBeenCalledTimes(1);
    expect(store.get('a')).toBeDefined(); // its inventory is kept for the next attempt
    await vi.waitFor(() => expect(store.get('a')).toBeUndefined(), {
      timeout: 5_000,
      interval: 50,
    });
    expect(removals).toHaveBeenCalledTimes(2);
    expect(events).toEqual(['Removed']);
    await r.stop();
  });

  it('does not remove an app wanted again after its removal failed', async () => {
    const { r, removals } = reconciler(() => Promise.resolve('delete failed: cm/x: 429'));
    await store.put(app);
    await r.remove('a', true);
    r.cancelRemoval('a'); // a new deploy
    await new Promise((res) => setTimeout(res, 2_500));
    expect(removals).toHaveBeenCalledTimes(1);
    expect(store.get('a')).toBeDefined();
    await r.stop();
  });

  it('keeps an app deployed again while its resources were being deleted, and applies it anew', async () => {
    let release = () => undefined as void;
    const held = new Promise<void>((res) => (release = res));
    const { r, removals, events } = reconciler(async () => {
      await held;
      return undefined;
    });
    await store.put(app);
    const removing = r.remove('a', true);
    await vi.waitFor(() => expect(removals).toHaveBeenCalledTimes(1));
    // A new deploy while the deletes run: stored and acknowledged (the hub's inbound does this).
    await store.put({ ...app, generation: 2, bundleHash: 'sha256:y' });
    r.cancelRemoval('a');
    release();
    await removing;
    expect(store.get('a')?.generation).toBe(2);
    expect(events).not.toContain('Removed');
    await r.stop();
  });

  /**
   * Removing `a` fails once (then succeeds; its retry is due after `random` × 2 s); removing `b`
   * then holds the only queue slot until released, so whatever comes for `a` waits in the queue.
   */
  async function removalsBehindB(random: number) {
    vi.spyOn(Math, 'random').mockReturnValue(random);
    let release = () => undefined as void;
    const held = new Promise<void>((res) => (release = res));
    let attemptsOfA = 0;
    const { r } = reconciler(async (...args: unknown[]) => {
      if ((args[1] as { appId: string }).appId === 'b') await held;
      else if (++attemptsOfA === 1) return 'delete failed: cm/x: 429';
      return undefined;
    });
    await store.put(app);
    await store.put({ ...app, appId: 'b', appName: 'app-b' });
    await r.remove('a', true);
    const removingB = r.remove('b', true);
    const finish = async () => {
      release();
      await removingB;
      await r.idle();
    };
    return { r, finish, attemptsOfA: () => attemptsOfA };
  }

  it('does not remove an app wanted again while its retried removal waits in the queue', async () => {
    const { r, finish, attemptsOfA } = await removalsBehindB(0);
    await new Promise((res) => setTimeout(res, 50)); // the retry of a came due: queued behind b
    r.cancelRemoval('a'); // a new deploy, stored and acknowledged
    await finish();
    expect(attemptsOfA()).toBe(1);
    expect(store.get('a')).toBeDefined();
    expect(store.get('b')).toBeUndefined();
    await r.stop();
  });

  it("answers the hub's Remove that waited in the queue while a retry of it came due", async () => {
    const { r, finish } = await removalsBehindB(0.5); // the retry is due in 1 s
    let answered = false;
    // The hub sends Remove again (its next messages wait for the answer); the retry comes due.
    const removingA = r.remove('a', true).then(() => (answered = true));
    await new Promise((res) => setTimeout(res, 1_200));
    await finish();
    expect(store.get('a')).toBeUndefined();
    expect(answered).toBe(true);
    await removingA;
    await r.stop();
  });
});

/** A reconciler over the real sync engine, with `client` and `watches` as its cluster. */
function wired(
  client: KubeClient,
  watches: WatchCache,
  reporter: StatusReporter,
  selfHeal = { delayMs: 1000, maxDelayMs: 300_000 },
  allowList?: AllowList,
) {
  const engine: SyncEngine = new SyncEngine(
    client,
    watches,
    {
      saveInventory: (appId, keys) => r.saveApplied(appId, undefined, keys),
      markApplied: (appId, generation, outcome) =>
        r.saveApplied(appId, generation, undefined, outcome),
      event: (appId, type, reason, message, generation) =>
        reporter.event(appId, type, reason, message, generation),
    },
    { fieldManager: 'axle', agentName: 'east', applyConcurrency: 1 },
  );
  const bundles = new BundleCache(store);
  const r = new AppReconciler(store, bundles, watches, engine, reporter, () => false, {
    concurrency: 1,
    selfHeal,
    resyncSeconds: 3600,
    allowList,
  });
  return { r, bundles };
}

describe('AppReconciler: retries', () => {
  /** A reconciler whose kube client fails every object; an empty bundle syncs. */
  function retrying() {
    const events: string[] = [];
    const reporter = {
      report: () => undefined,
      event: (_app: string, _type: string, reason: string, _m: string, generation: number) =>
        void events.push(`${reason} ${generation}`),
    } as unknown as StatusReporter;
    const watches = { use: () => undefined, all: () => [] } as unknown as WatchCache;
    // Any object fails to apply (its kind cannot be looked up); an empty bundle syncs.
    const client = {
      isNamespaced: () => Promise.reject(new Error('403 Forbidden')),
    } as unknown as KubeClient;
    const { r, bundles } = wired(client, watches, reporter);
    const app = {
      appId: 'a',
      appName: 'app-a',
      generation: 1,
      revision: 'r1',
      bundleHash: 'sha256:bad',
      namespace: 'default',
      policy: {
        automated: true,
        prune: false,
        selfHeal: false,
        retry: { limit: 5, durationMs: 60_000, factor: 2, maxDurationMs: 300_000 },
      },
      applied: null,
    } as Parameters<StateStore['put']>[0];
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } };
    bundles.remember('sha256:bad', [cm]);
    bundles.remember('sha256:good', []);
    return { r, app, events };
  }

  it("syncs a new generation at once, not after the failed one's retry backoff", async () => {
    const { r, app, events } = retrying();
    await store.put(app);
    r.enqueue('a');
    await r.idle();
    expect(events).toEqual(['SyncStarted 1', 'SyncFailed 1', 'SyncRetrying 1']);

    await store.put({ ...app, generation: 2, revision: 'r2', bundleHash: 'sha256:good' });
    r.enqueue('a');
    await r.idle();
    expect(events.slice(3)).toEqual(['SyncStarted 2', 'SyncSucceeded 2']);
    expect(store.get('a')?.applied?.generation).toBe(2);
    await r.stop();
  });

  it('syncs at once when asked to (sync now), not after the retry backoff', async () => {
    const { r, app, events } = retrying();
    await store.put(app);
    r.enqueue('a');
    await r.idle();
    expect(events).toEqual(['SyncStarted 1', 'SyncFailed 1', 'SyncRetrying 1']);
    r.requestSync('a');
    await r.idle();
    expect(events.slice(3, 5)).toEqual(['SyncStarted 1', 'SyncFailed 1']);
    await r.stop();
  });
});

/**
 * A small in-memory API server: ConfigMaps in namespace `shop` (which exists), applied and
 * deleted by the agent or by the test; `failApplies` applies fail with a 503 first, deletes of
 * the names in `refuseDeletes` with a 403.
 */
function inMemoryCluster() {
  const objects = new Map<string, KubeObject>();
  let rv = 0;
  const state = { failApplies: 0, applies: 0, refuseDeletes: new Set<string>() };
  const id = (kind: string, ns: string | undefined, name: string) => `${kind}/${ns ?? ''}/${name}`;
  const client = {
    isNamespaced: (_v: string, kind: string) =>
      Promise.resolve(kind !== 'Namespace' && kind !== 'ClusterRoleBinding'),
    invalidate: () => undefined,
    getOrUndefined: (_v: string, kind: string, name: string, ns?: string) =>
      Promise.resolve(
        kind === 'Namespace' && name === 'shop'
          ? { apiVersion: 'v1', kind, metadata: { name } }
          : objects.get(id(kind, ns, name)),
      ),
    apply: (obj: KubeObject, _fm: string, opts: { dryRun?: boolean } = {}) => {
      if (opts.dryRun) return Promise.resolve({ ...obj });
      state.applies++;
      if (state.failApplies > 0) {
        state.failApplies--;
        return Promise.reject(new Error('503 Service Unavailable'));
      }
      const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      objects.set(id(obj.kind, obj.metadata.namespace, obj.metadata.name), stored);
      return Promise.resolve(stored);
    },
    delete: (_v: string, kind: string, name: string, ns?: string) =>
      state.refuseDeletes.has(name)
        ? Promise.reject(new Error('403 Forbidden: admission webhook denied the request'))
        : Promise.resolve(objects.delete(id(kind, ns, name))),
  } as unknown as KubeClient;
  const watches = {
    use: () => undefined,
    release: () => undefined,
    all: () => [],
    waitSynced: () => Promise.resolve(),
    cached: () => undefined,
  } as unknown as WatchCache;
  return { client, watches, objects, state, id };
}

describe('AppReconciler: against a cluster', () => {
  beforeEach(() => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  function setup(selfHeal = { delayMs: 1000, maxDelayMs: 300_000 }, cluster = inMemoryCluster()) {
    const reports: AppReport[] = [];
    const events: string[] = [];
    const reporter = {
      report: (_app: unknown, a: AppReport) => void reports.push(a),
      event: (_app: string, _type: string, reason: string) => void events.push(reason),
      forget: () => undefined,
    } as unknown as StatusReporter;
    const { r, bundles } = wired(cluster.client, cluster.watches, reporter, selfHeal);
    return { r, cluster, bundles, reports, events };
  }

  const cm = (name: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name },
    data: { k: 'v' },
  });
  const appState = (appId: string, bundleHash: string, selfHeal = false) =>
    ({
      appId,
      appName: `app-${appId}`,
      generation: 1,
      revision: 'r1',
      bundleHash,
      namespace: 'shop',
      policy: { automated: true, prune: true, selfHeal },
      applied: null,
    }) as Parameters<StateStore['put']>[0];

  it('lets an object go that another app took over, instead of reporting it to prune for good', async () => {
    const { r, cluster, bundles, reports } = setup();
    bundles.remember('sha256:with', [cm('moved')]);
    bundles.remember('sha256:without', []);
    await store.put(appState('a', 'sha256:with'));
    r.enqueue('a');
    await r.idle();
    expect(store.get('a')?.applied?.resources.map((k) => k.name)).toEqual(['moved']);

    // A commit moves the ConfigMap from a to b, and b syncs first: the object is b's now.
    await store.put(appState('b', 'sha256:with'));
    r.enqueue('b');
    await r.idle();
    const live = cluster.objects.get(cluster.id('ConfigMap', 'shop', 'moved'));
    expect(live?.metadata.labels?.[APP_LABEL]).toBe('b');

    await store.put({ ...store.get('a')!, generation: 2, bundleHash: 'sha256:without' });
    reports.length = 0;
    r.enqueue('a');
    await r.idle();
    expect(cluster.objects.has(cluster.id('ConfigMap', 'shop', 'moved'))).toBe(true); // b's
    expect(reports.at(-1)).toMatchObject({ sync: 'Synced', resources: [] });
    expect(store.get('a')?.applied).toEqual({
      generation: 2,
      resources: [],
      revision: expect.any(String),
      bundleHash: 'sha256:without',
    });
    await r.stop();
  });
  /** A SyncFail hook Job, deleted once it succeeds. */
  const syncFailJob: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'notify',
      annotations: {
        'argocd.argoproj.io/hook': 'SyncFail',
        'argocd.argoproj.io/hook-delete-policy': 'HookSucceeded',
      },
    },
  };

  /** Syncs `a` (a ConfigMap and the SyncFail hook); the ConfigMap's apply fails with a 503. */
  async function failedSync() {
    const t = setup();
    t.bundles.remember('sha256:x', [cm('x'), syncFailJob]);
    await store.put(appState('a', 'sha256:x'));
    t.cluster.state.failApplies = 1;
    t.r.enqueue('a');
    await t.r.idle();
    const jobId = t.cluster.id('Job', 'shop', 'notify');
    expect(t.events).toEqual(['SyncStarted', 'HookStarted', 'SyncFailed']);
    expect(t.cluster.objects.has(jobId)).toBe(true);
    /** The hook Job completes (its watch event brings the app back). */
    const complete = () => {
      const job = t.cluster.objects.get(jobId)!;
      t.cluster.objects.set(jobId, {
        ...job,
        status: { conditions: [{ type: 'Complete', status: 'True' }] },
      });
      t.r.enqueue('a');
      return t.r.idle();
    };
    return { ...t, jobId, complete };
  }

  it('follows SyncFail hooks after the sync failed: reported, deleted by their policy', async () => {
    const { r, cluster, reports, events, jobId, complete } = await failedSync();
    expect(reports.at(-1)?.operation).toMatchObject({
      phase: 'Failed',
      hooks: [{ type: 'SyncFail', phase: 'Running' }],
    });

    await complete();
    expect(events.at(-1)).toBe('HookSucceeded');
    expect(cluster.objects.has(jobId)).toBe(false); // HookSucceeded delete policy
    expect(reports.at(-1)?.operation).toMatchObject({
      phase: 'Failed',
      hooks: [{ type: 'SyncFail', phase: 'Succeeded' }],
    });

    // Followed no more: later passes neither report it again nor look at it.
    const n = events.length;
    r.enqueue('a');
    await r.idle();
    expect(events.length).toBe(n);
    await r.stop();
  });

  it('follows the SyncFail hooks of a failed attempt after a new one started', async () => {
    const { r, cluster, events, jobId, complete } = await failedSync();
    await store.put({ ...store.get('a')!, generation: 2 });
    r.enqueue('a');
    await r.idle();
    expect(events.slice(3)).toEqual(['SyncStarted', 'SyncSucceeded']);

    // The earlier attempt's hook finishes: its event and its delete policy still apply.
    await complete();
    expect(events.at(-1)).toBe('HookSucceeded');
    expect(cluster.objects.has(jobId)).toBe(false);
    await r.stop();
  });

  it('heals a deleted object again after a failed re-apply, with backoff', async () => {
    const { r, cluster, bundles, events } = setup({ delayMs: 200, maxDelayMs: 2_000 });
    bundles.remember('sha256:x', [cm('x')]);
    await store.put(appState('a', 'sha256:x', true));
    r.enqueue('a');
    await r.idle();
    const id = cluster.id('ConfigMap', 'shop', 'x');
    expect(cluster.objects.has(id)).toBe(true);

    // Someone deletes it, and the first re-apply fails (a 503, a namespace terminating).
    cluster.objects.delete(id);
    cluster.state.failApplies = 1;
    r.enqueue('a');
    await vi.waitFor(() => expect(events).toContain('SelfHealFailed'), { timeout: 2_000 });
    const applies = cluster.state.applies;

    // Passes right after it (watch events, resync) wait for the backoff: no tight loop.
    r.enqueue('a');
    await r.idle();
    r.enqueue('a');
    await r.idle();
    expect(cluster.state.applies).toBe(applies);

    // After the backoff it is healed.
    await vi.waitFor(() => expect(cluster.objects.has(id)).toBe(true), {
      timeout: 3_000,
      interval: 50,
    });
    expect(cluster.state.applies).toBe(applies + 1);
    expect(events.at(-1)).toBe('SelfHealed');
    await r.stop();
  });
  /** The agent stops; a new one starts over the same state dir, against the same cluster. */
  async function restart(
    before: { r: AppReconciler; cluster: ReturnType<typeof inMemoryCluster> },
    selfHeal: { delayMs: number; maxDelayMs: number },
  ) {
    await before.r.stop();
    await store.close();
    store = new StateStore(dir.path);
    return setup(selfHeal, before.cluster);
  }

  const migrate: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'migrate', annotations: { 'argocd.argoproj.io/hook': 'PreSync' } },
  };
  const fastHeal = { delayMs: 50, maxDelayMs: 1_000 };

  /** Syncs `a` (self-heal on, no retry): its PreSync hook fails, the ConfigMap it gates waits. */
  async function failedPreSync() {
    const t = setup(fastHeal);
    t.bundles.remember('sha256:x', [migrate, cm('x')]);
    await store.put(appState('a', 'sha256:x', true));
    t.r.enqueue('a');
    await t.r.idle();
    const jobId = t.cluster.id('Job', 'shop', 'migrate');
    const setJob = (condition: string) => {
      const job = t.cluster.objects.get(jobId)!;
      t.cluster.objects.set(jobId, {
        ...job,
        status: { conditions: [{ type: condition, status: 'True' }] },
      });
    };
    setJob('Failed');
    t.r.enqueue('a');
    await t.r.idle();
    expect(t.events).toContain('SyncFailed');
    return { ...t, setJob, cmId: t.cluster.id('ConfigMap', 'shop', 'x') };
  }

  /** A few passes after the self-heal delay: enough for a heal, were one to happen. */
  async function passes(r: AppReconciler) {
    for (let i = 0; i < 3; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r.enqueue('a');
      await r.idle();
    }
  }

  it('after a restart, a failed PreSync hook still gates the Sync phase: self-heal does not apply it', async () => {
    const before = await failedPreSync();
    await passes(before.r);
    expect(before.cluster.objects.has(before.cmId)).toBe(false);

    const t = await restart(before, fastHeal);
    t.bundles.remember('sha256:x', [migrate, cm('x')]);
    t.r.start();
    await t.r.idle();
    await passes(t.r);
    expect(t.cluster.objects.has(before.cmId)).toBe(false);
    expect(t.events).not.toContain('SelfHealed');
    expect(t.reports.at(-1)).toMatchObject({
      message: expect.stringMatching(/^sync failed: PreSync hook Job\/shop\/migrate failed/),
      operation: { phase: 'Failed', generation: 1 },
    });
    expect(store.get('a')?.applied).toMatchObject({
      generation: 1,
      failed: { message: expect.stringContaining('PreSync hook') },
    });

    // A new generation (the migration fixed, say) is synced, and the failure is forgotten.
    t.bundles.remember('sha256:y', [cm('x')]);
    await store.put({ ...store.get('a')!, generation: 2, bundleHash: 'sha256:y' });
    t.r.enqueue('a');
    await t.r.idle();
    expect(t.cluster.objects.has(before.cmId)).toBe(true);
    expect(store.get('a')?.applied?.failed).toBeUndefined();
    await t.r.stop();
  });

  it('after a restart, a sync asked for (SyncNow) runs the failed PreSync hook again, then the Sync phase', async () => {
    const before = await failedPreSync();
    const t = await restart(before, fastHeal);
    t.bundles.remember('sha256:x', [migrate, cm('x')]);
    t.r.start();
    await t.r.idle();
    t.r.requestSync('a');
    await t.r.idle();
    expect(t.events.slice(0, 1)).toEqual(['SyncStarted']);
    expect(t.cluster.objects.has(before.cmId)).toBe(false); // waits for the hook

    before.setJob('Complete');
    t.r.enqueue('a');
    await t.r.idle();
    expect(t.cluster.objects.has(before.cmId)).toBe(true);
    expect(t.events).toContain('SyncSucceeded');
    expect(store.get('a')?.applied).toEqual({
      generation: 1,
      resources: [expect.objectContaining({ kind: 'ConfigMap', name: 'x' })],
      revision: expect.any(String),
      bundleHash: expect.any(String),
    });
    await t.r.stop();
  });
  it('after a restart, a removal that failed half-way goes on: what it deleted is not re-created', async () => {
    const before = setup(fastHeal);
    before.bundles.remember('sha256:x', [cm('one'), cm('two')]);
    await store.put(appState('a', 'sha256:x', true));
    before.r.enqueue('a');
    await before.r.idle();
    const one = before.cluster.id('ConfigMap', 'shop', 'one');
    const two = before.cluster.id('ConfigMap', 'shop', 'two');
    expect(before.cluster.objects.size).toBe(2);

    // The hub removes the app; deleting `two` is refused: the app's state stays, for a retry.
    before.cluster.state.refuseDeletes.add('two');
    await before.r.remove('a', true);
    expect(before.cluster.objects.has(one)).toBe(false);
    expect(before.cluster.objects.has(two)).toBe(true);

    const t = await restart(before, fastHeal);
    t.bundles.remember('sha256:x', [cm('one'), cm('two')]);
    t.r.start();
    await t.r.idle();
    await passes(t.r);
    expect(t.cluster.objects.has(one)).toBe(false);
    expect(t.events).not.toContain('SyncStarted');
    expect(t.events).not.toContain('SelfHealed');
    expect(store.get('a')?.removing).toEqual({ prune: true });

    // Once the delete is allowed, a retry (with backoff) finishes the removal.
    t.cluster.state.refuseDeletes.clear();
    await vi.waitFor(() => expect(store.get('a')).toBeUndefined(), {
      timeout: 5_000,
      interval: 50,
    });
    expect(t.cluster.objects.size).toBe(0);
    expect(t.events.at(-1)).toBe('Removed');
    await t.r.stop();
  });

  it('after a restart, a removal that keeps the resources goes on: the app is dropped, not synced', async () => {
    const { r, cluster, bundles, events } = setup(fastHeal);
    bundles.remember('sha256:x', [cm('one')]);
    // Stopped after the mark was written, before the app's state was dropped.
    await store.put({ ...appState('a', 'sha256:x', true), removing: { prune: false } });
    r.start();
    await r.idle();
    expect(store.get('a')).toBeUndefined();
    expect(cluster.state.applies).toBe(0);
    expect(events).toEqual(['Removed']);
    await r.stop();
  });

  it('holds the prune of an emptied bundle, also through self-heal and a restart, until a person confirms it', async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const before = setup(fastHeal);
    before.bundles.remember('sha256:full', [...names.map(cm)]);
    before.bundles.remember('sha256:empty', []);
    await store.put(appState('a', 'sha256:full', true));
    before.r.enqueue('a');
    await before.r.idle();
    expect(before.cluster.objects.size).toBe(6);

    // A bad render: the bundle is empty. The sync goes through, deleting nothing.
    await store.put({ ...store.get('a')!, generation: 2, bundleHash: 'sha256:empty' });
    before.r.enqueue('a');
    await before.r.idle();
    await passes(before.r); // resyncs with self-heal on: no prune either
    expect(before.cluster.objects.size).toBe(6);
    const message =
      'prune of 6 objects (all it runs: the new bundle has no objects) held: confirm with "axle app sync app-a --prune"';
    expect(before.reports.at(-1)).toMatchObject({ sync: 'OutOfSync', message });
    expect(before.reports.at(-1)?.resources[0].message).toBe(
      'no longer desired; prune held for confirmation',
    );
    expect(before.events.filter((e) => e === 'PruneHeld')).toHaveLength(1);
    expect(store.get('a')?.applied).toMatchObject({ generation: 2, pruneHeld: { message } });

    // After a restart, and a sync asked again (SyncNow): still held, said, not announced again.
    const t = await restart(before, fastHeal);
    t.bundles.remember('sha256:empty', []);
    t.r.start();
    await t.r.idle();
    t.r.requestSync('a');
    await t.r.idle();
    expect(t.cluster.objects.size).toBe(6);
    expect(t.reports.at(-1)).toMatchObject({ sync: 'OutOfSync', message });
    expect(t.events).not.toContain('PruneHeld');

    // The person's sync with prune: a new generation whose policy carries the confirmation.
    const held = store.get('a')!;
    await store.put({ ...held, generation: 3, policy: { ...held.policy, pruneConfirmed: true } });
    t.r.enqueue('a');
    await t.r.idle();
    expect(t.cluster.objects.size).toBe(0);
    expect(t.reports.at(-1)).toMatchObject({ sync: 'Synced', resources: [] });
    expect(store.get('a')?.applied).toEqual({
      generation: 3,
      resources: [],
      revision: expect.any(String),
      bundleHash: expect.any(String),
    });
    await t.r.stop();
  });
});

describe('AppReconciler: the allow-list, for stored apps', () => {
  beforeEach(() => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  const selfHeal = { delayMs: 50, maxDelayMs: 1_000 };
  /** No ConfigMaps here any more: what an operator sets with AXLE_AGENT_DENIED_KINDS. */
  const noConfigMaps: AllowList = {
    namespaces: ['*'],
    allowedKinds: ['*'],
    deniedKinds: ['/ConfigMap'],
  };
  const refusedMessage =
    "refused by this cluster's allow-list: kind core/ConfigMap is not allowed on this cluster (ConfigMap/x)";

  /** An agent (re)started on the shared store and cluster, with `allowList`. */
  function agent(cluster: ReturnType<typeof inMemoryCluster>, allowList?: AllowList) {
    const events: string[] = [];
    const refused: string[] = [];
    const heldOf: string[] = [];
    const reports: AppReport[] = [];
    const reporter = {
      report: (_app: unknown, a: AppReport) => void reports.push(a),
      event: (_app: string, _type: string, reason: string, message: string) =>
        void events.push(`${reason}: ${message}`),
      refused: (
        appId: string,
        message: string,
        held?: { generation: number; revision: string },
      ) => {
        refused.push(`${appId}: ${message}`);
        heldOf.push(held ? `${held.generation}@${held.revision}` : '');
      },
    } as unknown as StatusReporter;
    const { r, bundles } = wired(cluster.client, cluster.watches, reporter, selfHeal, allowList);
    bundles.remember('sha256:x', [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { k: 'v' } },
    ]);
    return { r, bundles, events, refused, reports, heldOf };
  }

  const stored = {
    appId: 'a',
    appName: 'app-a',
    generation: 1,
    revision: 'r1',
    bundleHash: 'sha256:x',
    namespace: 'shop',
    policy: { automated: true, prune: true, selfHeal: true },
    applied: null,
  } as Parameters<StateStore['put']>[0];

  it('refuses a cluster-scoped object to an agent limited to some namespaces, whatever namespace it names', async () => {
    const cluster = inMemoryCluster();
    await store.put({ ...stored, bundleHash: 'sha256:crb' });
    const { r, bundles, events } = agent(cluster, {
      namespaces: ['shop'],
      allowedKinds: ['*'],
      deniedKinds: [],
    });
    bundles.remember('sha256:crb', [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { k: 'v' } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'everyone-admin', namespace: 'shop' },
      },
    ]);
    r.start();
    await r.idle();
    expect(cluster.state.applies).toBe(0);
    expect(events).toEqual([
      "SyncRefused: refused by this cluster's allow-list: kind rbac.authorization.k8s.io/ClusterRoleBinding may not be applied cluster-scoped on this cluster (ClusterRoleBinding/everyone-admin; AXLE_AGENT_ALLOWED_CLUSTER_KINDS)",
    ]);
  });

  it("refuses a stored generation its project's bound forbids: nothing applied, nothing healed", async () => {
    const cluster = inMemoryCluster();
    // Generation 1 ran (r0); generation 2 is refused: reported over what runs, after a restart too.
    await store.put({
      ...stored,
      generation: 2,
      revision: 'r2',
      bundleHash: 'sha256:crb2',
      policy: { ...stored.policy, clusterKinds: [{ group: '', kind: 'PersistentVolume' }] },
      applied: { generation: 1, resources: [], revision: 'r0', bundleHash: 'sha256:x' },
    });
    const { r, bundles, events, heldOf } = agent(cluster);
    bundles.remember('sha256:crb2', [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'everyone-admin' },
      },
    ]);
    r.start();
    await r.idle();
    expect(cluster.state.applies).toBe(0);
    expect(events).toEqual([
      "SyncRefused: refused by the application's project: kind rbac.authorization.k8s.io/ClusterRoleBinding may not be applied cluster-scoped (ClusterRoleBinding/everyone-admin; the project's spec.clusterKinds)",
    ]);
    expect(heldOf).toEqual(['1@r0']);
  });

  it('keeps what an applied generation was (revision, bundle) when it is the one held', async () => {
    const cluster = inMemoryCluster();
    await store.put(stored);
    const { r } = agent(cluster);
    await r.saveApplied('a', 1, []);
    expect(store.get('a')?.applied).toMatchObject({
      generation: 1,
      revision: 'r1',
      bundleHash: 'sha256:x',
    });
    // Marked for an older generation than the one held (a newer Deploy arrived meanwhile): unknown.
    await store.put({ ...store.get('a')!, generation: 2, revision: 'r2' });
    await r.saveApplied('a', 1, []);
    expect(store.get('a')?.applied?.revision).toBeUndefined();
    // The inventory alone: what was known stays.
    await r.saveApplied('a', 2, []);
    await r.saveApplied('a', undefined, []);
    expect(store.get('a')?.applied).toMatchObject({ generation: 2, revision: 'r2' });
  });

  it('does not sync a stored app the list now forbids after a restart: refused as its Deploy would be', async () => {
    const cluster = inMemoryCluster();
    await store.put(stored); // stored and acknowledged, not applied yet when the agent stopped
    const { r, events, refused, reports } = agent(cluster, noConfigMaps);
    r.start();
    await r.idle();
    expect(cluster.state.applies).toBe(0);
    expect(store.get('a')?.applied).toBeNull();
    expect(events).toEqual([`SyncRefused: ${refusedMessage}`]);
    expect(refused).toEqual([`a: ${refusedMessage}`]);
    expect(reports).toEqual([]); // its status is the refusal

    // Later passes (the resync) neither apply nor say it again: the reporter keeps the refusal
    // as the app's status, resent when the hub welcomes the agent (it may not be connected yet).
    r.enqueue('a');
    await r.idle();
    expect(cluster.state.applies).toBe(0);
    expect(events).toHaveLength(1);
    expect(refused).toHaveLength(1);
    await r.stop();
  });

  it('neither heals nor prunes a synced app the list now forbids after a restart', async () => {
    const cluster = inMemoryCluster();
    await store.put(stored);
    const before = agent(cluster);
    before.r.enqueue('a');
    await before.r.idle();
    await before.r.stop();
    const id = cluster.id('ConfigMap', 'shop', 'x');
    expect(cluster.objects.has(id)).toBe(true);
    expect(store.get('a')?.applied?.generation).toBe(1);

    // The operator denies ConfigMaps and restarts the agent, and someone deletes the object:
    // it is not put back (self-heal is on; it would be after 50 ms).
    cluster.objects.delete(id);
    const { r, events, refused } = agent(cluster, noConfigMaps);
    const applies = cluster.state.applies;
    r.start();
    await r.idle();
    await new Promise((res) => setTimeout(res, 3 * selfHeal.delayMs));
    r.enqueue('a');
    await r.idle();
    expect(cluster.state.applies).toBe(applies);
    expect(cluster.objects.has(id)).toBe(false);
    expect(events).toEqual([`SyncRefused: ${refusedMessage}`]);
    expect(refused[0]).toBe(`a: ${refusedMessage}`);
    // Its inventory is kept (nothing pruned or forgotten): a generation allowed again finds it.
    expect(store.get('a')?.applied?.resources.map((k) => k.name)).toEqual(['x']);
    await r.stop();
  });

  it('syncs again once a generation the list allows is stored', async () => {
    const cluster = inMemoryCluster();
    await store.put(stored);
    const { r, bundles, events } = agent(cluster, noConfigMaps);
    r.start();
    await r.idle();
    expect(cluster.state.applies).toBe(0);

    bundles.remember('sha256:y', [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'y' }, data: { k: 'dg==' } },
    ]);
    await store.put({ ...stored, generation: 2, bundleHash: 'sha256:y' });
    r.enqueue('a');
    await r.idle();
    expect(cluster.objects.has(cluster.id('Secret', 'shop', 'y'))).toBe(true);
    expect(events.slice(1).map((e) => e.split(':')[0])).toEqual(['SyncStarted', 'SyncSucceeded']);
    await r.stop();
  });
});
