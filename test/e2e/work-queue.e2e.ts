import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkRepository } from '../../apps/hub/src/work/work.repository.js';
import { migratedDataSource } from '../support/hub-harness.js';

/** The work queue's leases on a real PostgreSQL: what a renewal calls lost. */
describe('work queue leases', () => {
  let ds: DataSource;
  let work: WorkRepository;

  beforeAll(async () => {
    ds = await migratedDataSource();
    work = new WorkRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  async function claimed(owner: string) {
    const key = randomUUID();
    await work.markIds('appset', [key], 'test');
    const items = (await work.claim('appset', owner, 1000, 15)).filter((i) => i.key === key);
    expect(items).toHaveLength(1);
    return items[0];
  }

  it('renews what this replica holds and reports what another replica holds as lost', async () => {
    const item = await claimed('replica-a');
    expect(await work.renew('appset', 'replica-a', [item.key], 15)).toEqual(new Set());
    // Its lease expired and replica-b claimed it.
    await ds.query(`UPDATE work_queue SET lease_owner = 'replica-b' WHERE key = $1`, [item.key]);
    expect(await work.renew('appset', 'replica-a', [item.key], 15)).toEqual(new Set([item.key]));
  });

  it('does not call lost an item whose results its own transaction wrote while the renewal waited', async () => {
    const item = await claimed('replica-a');
    // The transaction that writes the results fences the item (row lock), then ends it.
    let renewal: Promise<Set<string>> | undefined;
    await ds.transaction(async (tx) => {
      expect(await work.fence(tx, 'appset', 'replica-a', [item.key])).toEqual(new Set([item.key]));
      renewal = work.renew('appset', 'replica-a', [item.key], 15); // waits on the row lock
      await new Promise((r) => setTimeout(r, 200));
      await work.complete(tx, 'appset', 'replica-a', [item]);
    });
    expect(await renewal).toEqual(new Set());
    expect(await work.renew('appset', 'replica-a', [item.key], 15)).toEqual(new Set());
  });

  it('fences a batch that outlived its lease off the items its replica claimed again since', async () => {
    // Batch 1 of replica-a claims X, then its lease runs out while it renders slowly.
    const first = await claimed('replica-a/1');
    await ds.query(
      `UPDATE work_queue SET lease_until = now() - interval '1 second' WHERE key = $1`,
      [first.key],
    );
    // Batch 2 of the same replica claims X (marked again), writes its results and ends it.
    await work.markIds('appset', [first.key], 'commit 2');
    const second = (await work.claim('appset', 'replica-a/2', 1000, 15)).find(
      (i) => i.key === first.key,
    )!;
    await ds.transaction(async (tx) => {
      expect(await work.fence(tx, 'appset', 'replica-a/2', [first.key])).toEqual(
        new Set([first.key]),
      );
      await work.complete(tx, 'appset', 'replica-a/2', [second]);
    });
    // Marked again: a new row, whose mark counts from 1 again, claimed by batch 3.
    await work.markIds('appset', [first.key], 'commit 3');
    const third = (await work.claim('appset', 'replica-a/3', 1000, 15)).find(
      (i) => i.key === first.key,
    )!;
    expect(third.dirty).toBe(first.dirty);
    // Batch 1 finally commits: it writes nothing and ends nothing.
    await ds.transaction(async (tx) => {
      expect(await work.fence(tx, 'appset', 'replica-a/1', [first.key])).toEqual(new Set());
      await work.complete(tx, 'appset', 'replica-a/1', [first]);
    });
    expect(await work.renew('appset', 'replica-a/1', [first.key], 15)).toEqual(
      new Set([first.key]),
    );
    await ds.transaction(async (tx) => {
      expect(await work.fence(tx, 'appset', 'replica-a/3', [first.key])).toEqual(
        new Set([first.key]),
      );
    });
  });

  it('releases every claim of a replica that is gone, and of replicas no longer registered', async () => {
    const a = await claimed('replica-gone/7');
    const b = await claimed('replica-unregistered/1');
    const c = await claimed('replica-alive/1');
    await ds.query(`INSERT INTO hub_replicas (id, info) VALUES ('replica-alive', '{}'), ('replica-gone', '{}')
                    ON CONFLICT DO NOTHING`);
    expect(await work.releaseOwners(['replica-gone'])).toBe(1);
    expect(await work.releaseOrphans()).toBeGreaterThanOrEqual(1);
    const owners = await ds.query<{ key: string; lease_owner: string | null }[]>(
      'SELECT key, lease_owner FROM work_queue WHERE key = ANY($1::uuid[])',
      [[a.key, b.key, c.key]],
    );
    expect(Object.fromEntries(owners.map((o) => [o.key, o.lease_owner]))).toEqual({
      [a.key]: null,
      [b.key]: null,
      [c.key]: 'replica-alive/1',
    });
  });

  it('fences, marks and renews the same items at once without a deadlock', async () => {
    // Applications and their queue rows in opposite physical orders: a statement that locked rows
    // in scan order met one that locked them in the other order (40P01, one of them failed).
    const ids = (
      await ds.query<{ id: string }[]>(
        `INSERT INTO applications (name, spec)
           SELECT 'deadlock-' || g, '{}' FROM generate_series(1, 20000) g RETURNING id`,
      )
    ).map((r) => r.id);
    await work.markIds('app', [...ids].reverse(), 'first');
    const items = await work.claim('app', 'replica-a', 20_000, 60);
    expect(items).toHaveLength(ids.length);
    const keys = items.map((i) => i.key);
    for (let round = 0; round < 4; round++) {
      const results = await Promise.allSettled([
        ds.transaction(async (tx) => {
          await work.fence(tx, 'app', 'replica-a', keys);
          await new Promise((r) => setTimeout(r, 20));
        }),
        work.mark('app', { all: true }, 'periodic resync'),
        work.renew('app', 'replica-a', keys, 60),
        ds.transaction(async (tx) => {
          await work.fence(tx, 'app', 'replica-a', [...keys].reverse());
        }),
      ]);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    }
    await ds.query(`DELETE FROM work_queue WHERE kind = 'app'`);
    await ds.query(`DELETE FROM applications WHERE name LIKE 'deadlock-%'`);
  });
});
