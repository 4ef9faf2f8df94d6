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

  it('stops at the limit, reading no part past it, and starts after `after`', async () => {
    const f = fleet();
    const degraded = { health: new Set(['Degraded'] as const) };
    expect(await findByStatus({ limit: 2 }, degraded, f.page, f.views, 3)).toEqual(['i0', 'i3']);
    expect(f.calls).toHaveLength(2);
    expect(await findByStatus({ after: 'a3', limit: 1 }, degraded, f.page, f.views, 3)).toEqual([
      'i6',
    ]);
    // The other filters go to every part.
    f.calls.length = 0;
    await findByStatus({ project: 'p', limit: 1 }, degraded, f.page, f.views, 3);
    expect(f.calls[0]).toEqual({ project: 'p', after: undefined, limit: 3 });
  });

  it('goes on past a part whose applications were all deleted meanwhile', async () => {
    const f = fleet();
    for (const id of ['i3', 'i4', 'i5']) f.gone.add(id);
    const degraded = { health: new Set(['Degraded'] as const) };
    expect(await findByStatus({}, degraded, f.page, f.views, 3)).toEqual(['i0', 'i6', 'i9']);
  });
});
