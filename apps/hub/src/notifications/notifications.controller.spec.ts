import { describe, expect, it } from 'vitest';
import { ValidationFailed } from '../common/validation.js';
import { NotificationsController } from './notifications.controller.js';
import type { NotificationsService } from './notifications.service.js';
import { failure } from '../../../../test/support/validation.js';

const retried: number[] = [];

function controller(): NotificationsController {
  const service = {
    applySubscription: () => Promise.reject(new Error('must not be called')),
    retry: (id: number) => (retried.push(id), Promise.resolve()),
  } as unknown as NotificationsService;
  return new NotificationsController(service);
}

describe('PUT /api/v1/notifications/subscriptions/:name', () => {
  it('refuses a body that is not an object, naming the body, in one short error', () => {
    // A YAML body reaches the controller as a string: spread, every character was a field.
    for (const body of ['a'.repeat(1_500_000), ['x', 'y'], 42, null]) {
      const e = failure(() => controller().applySubscription('zz', body));
      expect(e.fields).toEqual([{ field: '', reason: 'the request body must be a JSON object' }]);
      expect(e.message.length).toBeLessThan(200);
    }
  });

  it('still takes the name from the path when the body has none', () => {
    const e = failure(() => controller().applySubscription('zz', { destination: 'd', bogus: 1 }));
    expect(e.fields.map((f) => f.field)).toContain('bogus');
    expect(e.fields.map((f) => f.field)).not.toContain('name');
  });
});

describe('POST /api/v1/notifications/deliveries/:id/retry', () => {
  it('refuses an id that is not one, naming `id`', async () => {
    for (const [id, reason] of [
      ['99999999999999999999', 'must be a delivery id of at most 9007199254740991'],
      ['abc', 'must be a delivery id (a positive integer)'],
      ['0', 'must be a delivery id (a positive integer)'],
      ['1.5', 'must be a delivery id (a positive integer)'],
    ]) {
      const e = await controller()
        .retry(id)
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(e).toBeInstanceOf(ValidationFailed);
      expect((e as ValidationFailed).fields).toEqual([{ field: 'id', reason }]);
      expect((e as ValidationFailed).message).not.toContain('(body)');
    }
    expect(retried).toEqual([]);
  });

  it('retries a delivery by its id', async () => {
    await controller().retry('42');
    expect(retried).toEqual([42]);
  });
});
