import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.js';
import { StateStore, type AppState } from './state-store.js';

/** The next `writes.fail` writes put down half of what they were given, then fail as ENOSPC. */
const writes = vi.hoisted(() => ({ fail: 0, snapshots: false }));
/** While `writes.snapshots` is set, writing a new snapshot fails (room for a line, not more). */
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const writeFile = (...a: Parameters<typeof fs.writeFile>) =>
    writes.snapshots
      ? Promise.reject(
          Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }),
        )
      : fs.writeFile(...a);
  return { ...fs, default: { ...fs, writeFile }, writeFile };
});
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeSync = (fd: number, buf: Uint8Array, offset = 0, ...rest: unknown[]): number => {
    if (writes.fail > 0) {
      writes.fail--;
      fs.writeSync(fd, buf, offset, Math.floor((buf.length - offset) / 2));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return (fs.writeSync as (...a: unknown[]) => number)(fd, buf, offset, ...rest);
  };
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

const app = (id: string, generation: number): AppState => ({
  appId: id,
  appName: `app-${id}`,
  generation,
  revision: 'abc',
  bundleHash: `sha256:${id.padEnd(64, '0')}`,
  namespace: 'ns',
  policy: { automated: true, prune: false, selfHeal: false },
  applied: null,
});

describe('StateStore on a full disk', () => {
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  afterEach(async () => {
    writes.fail = 0;
    writes.snapshots = false;
    for (const d of dirs.splice(0)) await d.remove();
  });

  it('keeps every change whose write succeeded, and the one that failed for the next write', async () => {
    const dir = await tempDir('axle-state-full-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    await store.put(app('a', 1));
    writes.fail = 1;
    await expect(store.put(app('b', 1))).rejects.toThrow('ENOSPC');
    await store.put(app('c', 1)); // space again: b's change goes with it
    await store.put(app('a', 2));
    await store.close();
    const again = new StateStore(dir.path);
    expect(
      again
        .apps()
        .map((x) => `${x.appId}@${x.generation}`)
        .sort(),
    ).toEqual(['a@2', 'b@1', 'c@1']);
    await again.close();
  });

  it('takes a change whose line was written although the snapshot after it could not be', async () => {
    const dir = await tempDir('axle-state-compact-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    const big = (g: number) => ({ ...app('a', g), appName: 'x'.repeat(50_000) });
    writes.snapshots = true;
    // Past the journal size that asks for a snapshot (1 MiB): every put still succeeds.
    for (let g = 1; g <= 40; g++) await store.put(big(g));
    writes.snapshots = false;
    await store.put(app('b', 1));
    await store.close();
    const again = new StateStore(dir.path);
    expect(again.get('a')?.generation).toBe(40);
    expect(again.get('b')?.generation).toBe(1);
    await again.close();
  });

  it('does not let a bundle written in part misplace the bundles after it', async () => {
    const dir = await tempDir('axle-pack-full-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    const [h1, h2, h3] = ['1', '2', '3'].map((c) => `sha256:${c.repeat(64)}`);
    store.putBundle(h1, Buffer.from('one'.repeat(100)));
    writes.fail = 1;
    expect(() => store.putBundle(h2, Buffer.from('two'.repeat(100)))).toThrow('ENOSPC');
    store.putBundle(h3, Buffer.from('three'.repeat(100)));
    expect(store.readBundle(h3).toString()).toBe('three'.repeat(100));
    // Apps name them: a bundle no app names is not kept over a restart.
    await store.put({ ...app('a', 1), bundleHash: h1 });
    await store.put({ ...app('c', 1), bundleHash: h3 });
    await store.close();
    const again = new StateStore(dir.path);
    expect(again.hasBundle(h2)).toBe(false);
    expect(again.readBundle(h1).toString()).toBe('one'.repeat(100));
    expect(again.readBundle(h3).toString()).toBe('three'.repeat(100));
    await again.close();
  });

  it('starts when the pack cannot be rewritten without the bundles no app names', async () => {
    const dir = await tempDir('axle-pack-full-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    const kept = `sha256:${'a'.repeat(64)}`;
    store.putBundle(kept, Buffer.from('kept'));
    await store.put({ ...app('k', 1), bundleHash: kept });
    // 10 MiB of bundles no app names (dropped before this agent version wrote them down).
    const mib = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < 10; i++) store.putBundle(`sha256:${String(i).repeat(64)}`, mib);
    await store.close();
    writes.fail = 1; // the rewrite at the next start fails
    const again = new StateStore(dir.path);
    expect(again.hasBundle(`sha256:${'0'.repeat(64)}`)).toBe(false);
    expect(again.readBundle(kept).toString()).toBe('kept');
    await again.close();
    // Space again: the next start rewrites it.
    const third = new StateStore(dir.path);
    expect(third.readBundle(kept).toString()).toBe('kept');
    await third.close();
  });
});
