import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriptionSpec } from '../../apps/hub/src/notifications/notification.schemas.js';
import type { NotificationsRepository } from '../../apps/hub/src/notifications/notifications.repository.js';
import { NotificationsService } from '../../apps/hub/src/notifications/notifications.service.js';
import { notificationsOnPostgres } from '../support/notifications.js';
import { outcomes } from '../support/outcomes.js';

/**
 * Concurrent writes of subscriptions and destinations, on a real PostgreSQL (replicas share it):
 * a name is created once (409 for the others), and a destination is either deleted or used, never
 * a foreign-key violation (500).
 */
describe('notification subscriptions and destinations written at once', () => {
  let ds: DataSource;
  let repo: NotificationsRepository;
  let service: NotificationsService;

  const spec = (name: string, destination = 'hook'): SubscriptionSpec => ({
    name,
    destination,
    triggers: ['on-agent-disconnected'],
    selector: {},
    template: {},
    groupWaitSeconds: 0,
    windowSeconds: 0,
  });

  beforeAll(async () => {
    ({ ds, repo, service } = await notificationsOnPostgres());
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('creates a name once: the other creations at the same time get 409', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `dup-${round}`;
      const got = await outcomes(
        Array.from({ length: 5 }, (_, i) =>
          service.applySubscription({ ...spec(name), template: { title: `writer ${i}` } }, false),
        ),
      );
      expect(got.filter((o) => o === 'ok')).toHaveLength(1);
      expect(got.filter((o) => o !== 'ok')).toEqual(Array(4).fill('Conflict'));
      // The one kept is the one that answered 201.
      const winner = got.indexOf('ok');
      expect((await service.subscription(name)).template).toEqual({ title: `writer ${winner}` });
    }
  });

  it('a destination deleted while a subscription to it is written: one of them is refused', async () => {
    for (let round = 0; round < 20; round++) {
      await repo.insertDestination({
        name: 'dx',
        type: 'webhook',
        config: {},
        secretSealed: null,
      });
      const [create, del] = await outcomes([
        service.applySubscription(spec(`to-dx-${round}`, 'dx'), false),
        service.deleteDestination('dx'),
      ]);
      // Either the subscription was written first (the deletion is refused: 409), or the
      // destination went first (the subscription names a missing destination: 400).
      expect([
        ['ok', 'Conflict'],
        ['ValidationFailed', 'ok'],
      ]).toContainEqual([create, del]);
      const subs = (await service.subscriptions()).filter((s) => s.destination === 'dx');
      const dests = (await service.destinations()).map((d) => d.name);
      expect(dests.includes('dx')).toBe(create === 'ok');
      expect(subs.length).toBe(create === 'ok' ? 1 : 0);
      if (create === 'ok') await service.deleteSubscription(`to-dx-${round}`);
      if (dests.includes('dx')) await service.deleteDestination('dx');
    }
  });

  it('two replacements of a new name at once: one creates it, the other records what it replaced', async () => {
    const recorded: { action: string; before: unknown }[] = [];
    const audited = new NotificationsService(
      repo,
      {} as never,
      {} as never,
      {
        record: (action: string, _kind: string, _name: string, before: unknown) => (
          recorded.push({ action, before }),
          Promise.resolve()
        ),
      } as never,
    );
    for (let round = 0; round < 10; round++) {
      recorded.length = 0;
      const name = `both-${round}`;
      const a = { ...spec(name), template: { title: 'a' } };
      const b = { ...spec(name), template: { title: 'b' } };
      expect(
        await outcomes([audited.applySubscription(a, true), audited.applySubscription(b, true)]),
      ).toEqual(['ok', 'ok']);
      const actions = recorded.map((r) => r.action).sort();
      expect(actions).toEqual([
        'notification.subscription.create',
        'notification.subscription.update',
      ]);
      const update = recorded.find((r) => r.action === 'notification.subscription.update')!;
      expect(update.before).toBeDefined();
    }
  });
});
