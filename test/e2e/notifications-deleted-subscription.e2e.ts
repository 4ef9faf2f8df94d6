import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  deliveryEvent,
  sampleEvent,
  type Outgoing,
} from '../../apps/hub/src/notifications/messages.js';
import { NotificationOutbox } from '../../apps/hub/src/notifications/notification.outbox.js';
import type { SubscriptionSpec } from '../../apps/hub/src/notifications/notification.schemas.js';
import type { NotificationSender } from '../../apps/hub/src/notifications/notification.sender.js';
import {
  DETECTOR_LOCK_KEY,
  NotificationsRepository,
} from '../../apps/hub/src/notifications/notifications.repository.js';
import { NotificationsService } from '../../apps/hub/src/notifications/notifications.service.js';
import { notificationsOnPostgres } from '../support/notifications.js';

/**
 * A deleted subscription sends nothing more: what it had queued in the outbox is dropped, also
 * when a replica claimed it meanwhile, on a real PostgreSQL as replicas share it.
 */
describe('notifications of a deleted subscription', () => {
  let ds: DataSource;
  let repo: NotificationsRepository;
  let service: NotificationsService;
  let sent: Outgoing[];

  const spec = (name: string): SubscriptionSpec => ({
    name,
    destination: 'hook',
    triggers: ['on-agent-disconnected'],
    selector: {},
    template: { title: 'custom {{.cluster.name}}' },
    groupWaitSeconds: 0,
    windowSeconds: 0,
  });

  async function subscribe(name: string): Promise<string> {
    await service.applySubscription(spec(name));
    return (await repo.subscriptions(name))[0].id;
  }

  /** A due delivery of `subscriptionId`, as the detector writes it. */
  async function enqueue(subscriptionId: string, key: string, db = ds.manager): Promise<void> {
    const dest = (await repo.destinations('hook'))[0];
    await repo.insertDeliveries(db, [
      {
        idempotencyKey: key,
        groupKey: `${subscriptionId}|on-agent-disconnected|${key}`,
        subscriptionId,
        subscription: 'sub',
        destinationId: dest.id,
        trigger: 'on-agent-disconnected',
        event: deliveryEvent(sampleEvent('on-agent-disconnected')),
        count: 1,
        notBefore: new Date(Date.now() - 1000),
      },
    ]);
  }

  function outbox(r: NotificationsRepository = repo): NotificationOutbox {
    const sender = {
      send: (_d: unknown, o: Outgoing) => (sent.push(o), Promise.resolve()),
    } as unknown as NotificationSender;
    return new NotificationOutbox(
      r,
      service,
      sender,
      {} as never,
      { notificationAttempts: { inc: () => undefined } } as never,
      { notify: { maxAttempts: 3, retrySeconds: 1 } } as never,
    );
  }

  /** One pump of the outbox, sends included. */
  async function pump(o: NotificationOutbox): Promise<void> {
    await o.pump();
    await o.onModuleDestroy();
  }

  const pending = async () =>
    (await repo.deliveries({ status: 'Pending', limit: 1000 })).map((d) => d.idempotencyKey);

  beforeAll(async () => {
    ({ ds, repo, service } = await notificationsOnPostgres());
  });

  beforeEach(async () => {
    sent = [];
    await ds.query('DELETE FROM notification_deliveries');
    await ds.query('DELETE FROM notification_subscriptions');
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('drops its queued deliveries and keeps its history', async () => {
    const id = await subscribe('gone');
    await enqueue(id, 'done');
    await ds.query(`UPDATE notification_deliveries SET status = 'Delivered', delivered_at = now()`);
    await enqueue(id, 'queued');
    const other = await subscribe('kept');
    await enqueue(other, 'other');

    await service.deleteSubscription('gone');
    expect(await pending()).toEqual(['other']);
    await pump(outbox());
    expect(sent.map((o) => [o.key, o.message.title])).toEqual([['other', 'custom prod-east']]);
    // What it sent before stays in the history, under its name.
    const delivered = await repo.deliveries({ status: 'Delivered', limit: 10 });
    expect(delivered.map((d) => d.idempotencyKey).sort()).toEqual(['done', 'other']);
  });

  it('sends nothing that a replica claimed just before the subscription went', async () => {
    const id = await subscribe('gone');
    await enqueue(id, 'claimed');
    // Another replica deletes the subscription between this one's claim and its send.
    const racing = Object.create(repo) as NotificationsRepository;
    racing.claimDue = async (limit, lease) => {
      const rows = await repo.claimDue(limit, lease);
      await service.deleteSubscription('gone');
      return rows;
    };
    await pump(outbox(racing));
    expect(sent).toEqual([]);
    expect(await pending()).toEqual([]);
  });

  it('drops a delivery written while the deletion waited for the detector', async () => {
    const id = await subscribe('gone');
    // The detector's transaction writes a delivery for the subscription, not yet committed.
    const detector = ds.createQueryRunner();
    await detector.connect();
    await detector.startTransaction();
    expect(await repo.tryLock(detector.manager, DETECTOR_LOCK_KEY)).toBe(true);
    await enqueue(id, 'late', detector.manager);
    const deleting = service.deleteSubscription('gone');
    await new Promise((r) => setTimeout(r, 300));
    await detector.commitTransaction();
    await detector.release();
    await deleting;
    expect(await pending()).toEqual([]);
    await pump(outbox());
    expect(sent).toEqual([]);
  });

  it('gives up waiting for a detection that holds its lock too long, and deletes nothing', async () => {
    const id = await subscribe('busy');
    await enqueue(id, 'queued');
    const detector = ds.createQueryRunner();
    await detector.connect();
    await detector.startTransaction();
    try {
      expect(await repo.tryLock(detector.manager, DETECTOR_LOCK_KEY)).toBe(true);
      const started = Date.now();
      expect(await repo.deleteSubscription(id, 300)).toBe(false);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await repo.subscriptions('busy')).map((s) => s.id)).toEqual([id]);
      expect(await pending()).toEqual(['queued']);
    } finally {
      await detector.rollbackTransaction();
      await detector.release();
    }
    // The detection over, the same deletion goes through.
    expect(await repo.deleteSubscription(id, 300)).toBe(true);
    expect(await repo.subscriptions('busy')).toEqual([]);
    expect(await pending()).toEqual([]);
  });

  it('never sends, nor retries, a delivery whose subscription is gone', async () => {
    const id = await subscribe('gone');
    await enqueue(id, 'orphan');
    await enqueue(id, 'dead');
    await ds.query(
      `UPDATE notification_deliveries SET status = 'Dead' WHERE idempotency_key = 'dead'`,
    );
    // As left by a hub before this fix: the rows outlived their subscription.
    await ds.query('DELETE FROM notification_subscriptions WHERE id = $1', [id]);
    await pump(outbox());
    expect(sent).toEqual([]);
    expect(await pending()).toEqual([]);
    const [dead] = await repo.deliveries({ status: 'Dead', limit: 10 });
    await expect(service.retry(dead.id)).rejects.toThrow(/no dead delivery/);
  });
});
