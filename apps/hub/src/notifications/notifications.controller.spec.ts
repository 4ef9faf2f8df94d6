import { describe, expect, it } from 'vitest';
import { ValidationFailed } from '../common/validation.js';
import { NotificationsController } from './notifications.controller.js';
import type { NotificationsService } from './notifications.service.js';

function controller(): NotificationsController {
  const service = {
    applySubscription: () => Promise.reject(new Error('must not be called')),
  } as unknown as NotificationsService;
  return new NotificationsController(service);
}

function failure(fn: () => unknown): ValidationFailed {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationFailed) return e;
    throw e;
  }
  throw new Error('no ValidationFailed');
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
