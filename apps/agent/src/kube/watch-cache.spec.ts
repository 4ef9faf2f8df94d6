import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import type { KubeClient } from './kube-client.js';
import { Informer, type WatchChange } from './watch-cache.js';

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
