import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.js';
import { StateStore, type AppState } from './state-store.js';

const app = (id: string, generation: number): AppState => ({
  appId: id,
  appName: `app-${id}`,
  generation,
  revision: 'abc',
  bundleHash: `sha256:${id}`,
  namespace: 'ns',
  policy: { automated: true, prune: false, selfHeal: false },
  applied: null,
});

describe('StateStore', () => {
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await d.remove();
  });

  it('keeps every change of a burst, written together, and reads it back after a restart', async () => {
    const dir = await tempDir('axle-state-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    const writes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.put(app(String(i), i + 1))),
    );
    expect(writes).toHaveLength(50);
    // Every put resolved only once its change was on disk: in the journal, one line per app.
    const lines = readFileSync(join(dir.path, 'state.log'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(50);
    expect(JSON.parse(lines[49]).put.generation).toBe(50);
    await store.close();
    const again = new StateStore(dir.path);
    expect(again.get('7')?.generation).toBe(8);
    expect(again.upgraded).toBe(false);
  });

  it('marks a state written by an older agent (format 1) as upgraded, once', async () => {
    const dir = await tempDir('axle-state-');
    dirs.push(dir);
    writeFileSync(
      join(dir.path, 'state.json'),
      JSON.stringify({ version: 1, apps: { a: app('a', 3) } }),
    );
    const store = new StateStore(dir.path);
    expect(store.upgraded).toBe(true);
    await store.put(app('b', 1));
    await store.close();
    expect(new StateStore(dir.path).upgraded).toBe(false);
  });

  it('replays the journal over the snapshot, ignores a torn last line, and starts clean', async () => {
    const dir = await tempDir('axle-state-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    await store.put(app('a', 1));
    await store.put(app('b', 1));
    await store.put(app('a', 2));
    await store.remove('b');
    await store.close();
    // An agent killed in the middle of an append.
    appendFileSync(join(dir.path, 'state.log'), '{"put":{"appId":"c","gene');
    const again = new StateStore(dir.path);
    expect(again.apps().map((a) => [a.appId, a.generation])).toEqual([['a', 2]]);
    // Folded into a new snapshot, the journal emptied.
    expect(statSync(join(dir.path, 'state.log')).size).toBe(0);
    expect(JSON.parse(readFileSync(join(dir.path, 'state.json'), 'utf8')).apps.a.generation).toBe(
      2,
    );
    await again.close();
  });

  it('folds a large journal into a snapshot that replaying the old journal again cannot change', async () => {
    const dir = await tempDir('axle-state-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    const big = { ...app('x', 1), applied: { generation: 1, resources: [] as never[] } };
    // Each put rewrites app x with a larger inventory: the journal passes 1 MiB quickly.
    const resources = Array.from({ length: 300 }, (_, i) => ({
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
      namespace: 'ns',
      name: `d-${i}`,
    }));
    let compactedAt = -1;
    for (let g = 1; g <= 80; g++) {
      await store.put({ ...big, generation: g, applied: { generation: g, resources } });
      if (compactedAt < 0 && statSync(join(dir.path, 'state.log')).size === 0) compactedAt = g;
    }
    expect(compactedAt).toBeGreaterThan(0);
    const journalAfter = readFileSync(join(dir.path, 'state.log'), 'utf8');
    await store.close();
    expect(new StateStore(dir.path).get('x')?.generation).toBe(80);
    // A crash between the new snapshot's rename and the journal's truncation: replaying the full
    // journal that preceded it again must leave the snapshot's state.
    writeFileSync(join(dir.path, 'state.log'), journalAfter);
    expect(new StateStore(dir.path).get('x')?.generation).toBe(80);
  });

  it('knows the bundles it stored without asking the file system, and drops one on request', async () => {
    const dir = await tempDir('axle-state-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    const hash = `sha256:${'ab'.repeat(32)}`;
    expect(store.hasBundle(hash)).toBe(false);
    store.putBundle(hash, Buffer.from('gz'));
    expect(store.hasBundle(hash)).toBe(true);
    await store.put({ ...app('a', 1), bundleHash: hash });
    await store.close();
    const again = new StateStore(dir.path);
    expect(again.hasBundle(hash)).toBe(true);
    expect(again.readBundle(hash).toString()).toBe('gz');
    again.dropBundle(hash);
    expect(again.hasBundle(hash)).toBe(false);
    await again.close();
  });

  it('drops a bundle from disk once no app names it (an app moved to a new one)', async () => {
    const dir = await tempDir('axle-state-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    const [h1, h2] = [`sha256:${'01'.repeat(32)}`, `sha256:${'02'.repeat(32)}`];
    store.putBundle(h1, Buffer.from('one'));
    await store.put({ ...app('a', 1), bundleHash: h1 });
    await store.put({ ...app('b', 1), bundleHash: h1 });
    store.putBundle(h2, Buffer.from('two'));
    await store.put({ ...app('a', 2), bundleHash: h2 });
    expect(store.hasBundle(h1)).toBe(true); // b still holds it
    await store.put({ ...app('b', 2), bundleHash: h2 });
    expect(store.hasBundle(h1)).toBe(false);
    expect(store.hasBundle(h2)).toBe(true);
    await store.close();
    // The drop is not written down: after a restart the pack still has h1's record, and the store
    // keeps only what its apps name.
    const again = new StateStore(dir.path);
    expect(again.hasBundle(h1)).toBe(false);
    expect(again.readBundle(h2).toString()).toBe('two');
    await again.close();
  });
});
