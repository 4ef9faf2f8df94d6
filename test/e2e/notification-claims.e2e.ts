import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationsRepository } from '../../apps/hub/src/notifications/notifications.repository.js';
import { migratedDataSource } from '../support/hub-harness.js';

/** The notification outbox on a real PostgreSQL, as replicas share it. */
describe('notification outbox claims', () => {
  let ds: DataSource;
  let repo: NotificationsRepository;

  beforeAll(async () => {
    ds = await migratedDataSource();
    repo = new NotificationsRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('never hands one delivery to two replicas claiming at once', async () => {
    // 300 destinations × 3 due deliveries (each destination takes up to 4 at once).
    await ds.query(
      `INSERT INTO notification_destinations (name, type, config)
       SELECT 'd' || i, 'webhook', '{}' FROM generate_series(1, 300) AS i`,
    );
    await ds.query(
      `INSERT INTO notification_deliveries (idempotency_key, group_key, subscription, destination_id,
                                            trigger, event)
       SELECT 'k' || d.name || '-' || j, 'g', 's', d.id, 't', '{}'
         FROM notification_destinations d, generate_series(1, 3) AS j`,
    );
    const seen = new Map<number, number>();
    for (let round = 0; round < 5; round++) {
      const claims = await Promise.all([1, 2, 3].map(() => repo.claimDue(1000, 60)));
      for (const c of claims) for (const d of c) seen.set(d.id, (seen.get(d.id) ?? 0) + 1);
      // Next round: everything due again.
      await ds.query('UPDATE notification_deliveries SET lease_until = NULL');
      const twice = [...seen.values()].filter((n) => n > round + 1);
      expect(twice).toEqual([]);
    }
    expect(seen.size).toBe(900);
  });
});
