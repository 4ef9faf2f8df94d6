import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../../../test/support/temp-dir.js';
import { BundleCache } from '../bundle-cache.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import type { StatusReporter } from '../outbound/status-reporter.js';
import { StateStore } from '../state-store.js';
import { SyncEngine } from '../sync/engine.js';
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
});

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
    const engine: SyncEngine = new SyncEngine(
      client,
      watches,
      {
        saveInventory: (appId, keys) => r.saveApplied(appId, undefined, keys),
        markApplied: (appId, generation) => r.saveApplied(appId, generation, undefined),
        event: (appId, type, reason, message, generation) =>
          reporter.event(appId, type, reason, message, generation),
      },
      { fieldManager: 'axle', agentName: 'east', applyConcurrency: 1 },
    );
    const bundles = new BundleCache(store);
    const r = new AppReconciler(store, bundles, watches, engine, reporter, () => false, {
      concurrency: 1,
      selfHeal: { delayMs: 1000, maxDelayMs: 300_000 },
      resyncSeconds: 3600,
    });
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
