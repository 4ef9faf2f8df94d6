import { describe, expect, it } from 'vitest';
import type { AppListQuery } from './applications.repository.js';
import { findByStatus, type ApplicationView } from './applications.service.js';

/** Applications a0…a9 (ids i0…i9); every third Degraded, every other OutOfSync. */
function fleet() {
  const apps = Array.from({ length: 10 }, (_, i) => ({
    id: `i${i}`,
    name: `a${i}`,
    health: i % 3 === 0 ? 'Degraded' : 'Healthy',
    sync: i % 2 === 0 ? 'OutOfSync' : 'Synced',
  }));
  const gone = new Set<string>();
  const calls: AppListQuery[] = [];
  const page = (q: AppListQuery) => {
    calls.push(q);
    const after = apps.filter((a) => q.after === undefined || a.name > q.after);
    return Promise.resolve(after.slice(0, q.limit).map(({ id, name }) => ({ id, name })));
  };
  const views = (ids: string[]) =>
    Promise.resolve(
      apps
        .filter((a) => ids.includes(a.id) && !gone.has(a.id))
        .map((a) => ({
          id: a.id,
          view: { name: a.name, status: { sync: a.sync, health: a.health } } as ApplicationView,
        })),
    );
  return { page, views, calls, gone };
}

describe('findByStatus', () => {
  it('finds those in the states asked, in name order, across parts', async () => {
    const f = fleet();
    const degraded = { health: new Set(['Degraded'] as const) };
    expect(await findByStatus({}, degraded, f.page, f.views, 3)).toEqual(['i0', 'i3', 'i6', 'i9']);
    expect(f.calls.map((c) => c.after)).toEqual([undefined, 'a2', 'a5', 'a8']);
    const both = { ...degraded, sync: new Set(['OutOfSync'] as const) };
    expect(await findByStatus({}, both, f.page, f.views, 3)).toEqual(['i0', 'i6']);
    const several = { health: new Set(['Degraded', 'Healthy'] as const) };
    expect(await findByStatus({ limit: 100 }, several, f.page, f.views, 4)).toHaveLength(10);
  });

  it('stops at the limit, reading at most one part past it, and starts after `after`', async () => {
    const f = fleet();
    const degraded = { health: new Set(['Degraded'] as const) };
    // Found in the first part: no other is read.
    expect(await findByStatus({ limit: 1 }, degraded, f.page, f.views, 3)).toEqual(['i0']);
    expect(f.calls).toHaveLength(1);
    f.calls.length = 0;
    // Found in the second: the third was read ahead, the fourth not.
    expect(await findByStatus({ limit: 2 }, degraded, f.page, f.views, 3)).toEqual(['i0', 'i3']);
    expect(f.calls.map((c) => c.after)).toEqual([undefined, 'a2', 'a5']);
    expect(await findByStatus({ after: 'a3', limit: 1 }, degraded, f.page, f.views, 3)).toEqual([
      'i6',
    ]);
    // The other filters go to every part.
    f.calls.length = 0;
    await findByStatus({ project: 'p', limit: 1 }, degraded, f.page, f.views, 3);
    expect(f.calls[0]).toEqual({ project: 'p', after: undefined, limit: 3 });
  });

  it('reads the next part while it looks at this one, from the second part on', async () => {
    const f = fleet();
    const started: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const views = async (ids: string[]) => {
      started.push(ids[0]);
      if (ids[0] === 'i3') await held; // the second part's views are slow
      return f.views(ids);
    };
    const scan = findByStatus({}, { health: new Set(['Degraded'] as const) }, f.page, views, 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual(['i0', 'i3', 'i6']); // the third began while the second waits
    release();
    expect(await scan).toEqual(['i0', 'i3', 'i6', 'i9']);
  });

  it('leaves a failed read-ahead of a scan that ended unheard (no unhandled rejection)', async () => {
    const f = fleet();
    const unhandled: unknown[] = [];
    const on = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', on);
    try {
      const views = (ids: string[]) =>
        ids[0] === 'i6' ? Promise.reject(new Error('gone')) : f.views(ids);
      const degraded = { health: new Set(['Degraded'] as const) };
      expect(await findByStatus({ limit: 2 }, degraded, f.page, views, 3)).toEqual(['i0', 'i3']);
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      // Awaited, a failure is the scan's.
      await expect(findByStatus({}, degraded, f.page, views, 3)).rejects.toThrow('gone');
    } finally {
      process.off('unhandledRejection', on);
    }
  });

  it('goes on past a part whose applications were all deleted meanwhile', async () => {
    const f = fleet();
    for (const id of ['i3', 'i4', 'i5']) f.gone.add(id);
    const degraded = { health: new Set(['Degraded'] as const) };
    expect(await findByStatus({}, degraded, f.page, f.views, 3)).toEqual(['i0', 'i6', 'i9']);
  });
});
