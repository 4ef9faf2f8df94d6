import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import type { KubeClient } from './kube-client.js';
import { Informer, WatchCache, type WatchChange } from './watch-cache.js';

const cm = (name: string, rv: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

/** A scripted API server: list answers and watch streams, recording the watch parameters. */
function fakeClient(script: {
  lists: { items: KubeObject[]; resourceVersion: string }[];
  watches: string[][];
}) {
  const watchQueries: Record<string, unknown>[] = [];
  let lists = 0;
  let watches = 0;
  const client = {
    collectionPath: () => Promise.resolve('/api/v1/configmaps'),
    resourceFor: () =>
      Promise.resolve({
        name: 'configmaps',
        namespaced: true,
        kind: 'ConfigMap',
        verbs: ['list', 'watch'],
      }),
    list: () => {
      const l = script.lists[Math.min(lists++, script.lists.length - 1)];
      return Promise.resolve({
        items: l.items.map((o) => ({ ...o })),
        resourceVersion: l.resourceVersion,
      });
    },
    stream: async (
      _path: string,
      query: Record<string, unknown>,
      onLine: (l: string) => void,
      signal: AbortSignal,
    ) => {
      watchQueries.push(query);
      const lines = script.watches[watches++];
      if (!lines) {
        // No more script: hang until aborted (like a quiet watch).
        await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
        return;
      }
      for (const l of lines) {
        if (signal.aborted) return;
        onLine(l);
      }
    },
  };
  return { client: client as unknown as KubeClient, watchQueries };
}

const ev = (type: string, object: unknown) => JSON.stringify({ type, object });

describe('Informer', () => {
  it('lists, watches from the list resourceVersion, follows bookmarks, re-lists on 410 Gone', async () => {
    const { client, watchQueries } = fakeClient({
      lists: [
        { items: [cm('a', '10'), cm('b', '11')], resourceVersion: '12' },
        // After 410: b was deleted and c created while the watch was away.
        { items: [cm('a', '13'), cm('c', '20')], resourceVersion: '21' },
      ],
      watches: [
        // Ends at once: resume from the last resourceVersion seen (here a bookmark's).
        [ev('MODIFIED', cm('a', '13')), ev('BOOKMARK', { metadata: { resourceVersion: '15' } })],
        [ev('ERROR', { kind: 'Status', code: 410, reason: 'Expired' })],
      ],
    });
    const changes: WatchChange[] = [];
    const inf = new Informer(client, 'v1', 'ConfigMap', {
      labelSelector: 'app.axle.io/app-id',
      onChange: (c) => changes.push(c),
      backoff: { baseMs: 1, capMs: 2 },
    });
    inf.start();
    await inf.synced;
    await new Promise((r) => setTimeout(r, 100));
    inf.stop();
    const seen = changes.map(
      (c) => `${c.type} ${c.object.metadata.name}@${String(c.object.metadata.resourceVersion)}`,
    );
    expect(seen).toEqual([
      'ADDED a@10',
      'ADDED b@11',
      'MODIFIED a@13',
      // the re-list reports what the watch missed, deletions included
      'ADDED c@20',
      'DELETED b@11',
    ]);
    expect([...inf.objects.keys()].sort()).toEqual(['ns/a', 'ns/c']);
    expect(watchQueries.map((q) => q.resourceVersion)).toEqual(['12', '15', '21']);
    expect(watchQueries[0]).toMatchObject({
      watch: 1,
      allowWatchBookmarks: true,
      labelSelector: 'app.axle.io/app-id',
    });
    expect(inf.lists).toBe(2);
  });
});

describe('WatchCache', () => {
  afterEach(() => vi.restoreAllMocks());

  const CM = { apiVersion: 'v1', kind: 'ConfigMap' };
  const SVC = { apiVersion: 'v1', kind: 'Service' };
  const DEPLOY = { apiVersion: 'apps/v1', kind: 'Deployment' };

  /** A cache whose informers never get an answer; `log` says which started and stopped. */
  function cache() {
    const log: string[] = [];
    vi.spyOn(Informer.prototype, 'start').mockImplementation(function (this: Informer) {
      log.push(`start ${this.apiVersion}/${this.kind}`);
    });
    vi.spyOn(Informer.prototype, 'stop').mockImplementation(function (this: Informer) {
      log.push(`stop ${this.apiVersion}/${this.kind}`);
    });
    const client = { resourceFor: () => new Promise(() => undefined) } as unknown as KubeClient;
    const wc = new WatchCache(client, { labelSelector: 'app.axle.io/app-id', onChange: () => {} });
    return { wc, log };
  }

  it('runs one informer per kind while some app uses it, as the apps change their kinds', () => {
    const { wc, log } = cache();
    wc.use('a', [CM, SVC]);
    wc.use('b', [CM, CM]); // a kind named twice counts once
    expect(log.splice(0)).toEqual(['start v1/ConfigMap', 'start v1/Service']);
    const configMaps = wc.informer('v1', 'ConfigMap');

    // a drops ConfigMap (b still uses it) and adds Deployment; then drops Service (nobody does).
    wc.use('a', [SVC, DEPLOY]);
    expect(log.splice(0)).toEqual(['start apps/v1/Deployment']);
    expect(wc.informer('v1', 'ConfigMap')).toBe(configMaps); // shared, not restarted
    wc.use('a', [DEPLOY]);
    expect(log.splice(0)).toEqual(['stop v1/Service']);
    expect(wc.informer('v1', 'Service')).toBeUndefined();

    // The same kinds again change nothing; an app released stops what only it used.
    wc.use('a', [DEPLOY]);
    wc.use('b', [CM]);
    expect(log).toEqual([]);
    wc.release('b');
    expect(log.splice(0)).toEqual(['stop v1/ConfigMap']);
    wc.use('b', [CM, DEPLOY]);
    wc.release('a');
    wc.release('a'); // released twice: once counts
    expect(log.splice(0)).toEqual(['start v1/ConfigMap']);
    expect(wc.size).toBe(2);
    wc.use('b', []);
    expect(log.splice(0).sort()).toEqual(['stop apps/v1/Deployment', 'stop v1/ConfigMap']);
    expect(wc.size).toBe(0);

    // After everything was released, a kind used again gets a new informer.
    wc.use('c', [SVC]);
    expect(log).toEqual(['start v1/Service']);
    wc.stop();
  });

  it("looks at no other app's kinds when one app declares or changes its own", () => {
    const { wc } = cache();
    for (let i = 0; i < 100; i++) wc.use(`app-${i}`, [CM, SVC]);
    // Any walk over the apps' or the informers' maps is recorded.
    const walks: string[] = [];
    const internals = wc as unknown as Record<'users' | 'informers', Map<string, unknown>>;
    for (const name of ['users', 'informers'] as const) {
      const map = internals[name];
      for (const m of ['keys', 'values', 'entries', 'forEach', Symbol.iterator] as const) {
        const original = (map[m] as (...a: unknown[]) => unknown).bind(map);
        Object.defineProperty(map, m, {
          value: (...a: unknown[]) => {
            walks.push(`${name}.${String(m)}`);
            return original(...a);
          },
        });
      }
    }
    wc.use('app-7', [SVC, CM]); // unchanged
    wc.use('app-8', [CM, DEPLOY]); // changed
    wc.release('app-9');
    expect(walks).toEqual([]);
    expect(wc.size).toBe(3);
    wc.stop();
  });
});
