import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource, migrateWithLock } from '../../apps/hub/src/database/data-source.js';
import { WorkRepository } from '../../apps/hub/src/work/work.repository.js';
import { createTestDatabase } from '../support/hub-harness.js';

/** The work queue's leases on a real PostgreSQL: what a renewal calls lost. */
describe('work queue leases', () => {
  let ds: DataSource;
  let work: WorkRepository;

  beforeAll(async () => {
    ds = createDataSource(await createTestDatabase());
    await ds.initialize();
    await migrateWithLock(ds);
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
});
