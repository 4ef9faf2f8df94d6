import { readFileSync, writeFileSync } from 'node:fs';
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
    // Every put resolved only once its change was on disk.
    const onDisk = JSON.parse(readFileSync(join(dir.path, 'state.json'), 'utf8'));
    expect(Object.keys(onDisk.apps)).toHaveLength(50);
    expect(onDisk.apps['49'].generation).toBe(50);
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
    expect(new StateStore(dir.path).upgraded).toBe(false);
  });
});
