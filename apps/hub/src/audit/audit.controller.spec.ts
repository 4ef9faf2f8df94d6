import { describe, expect, it } from 'vitest';
import { ValidationFailed } from '../common/validation.js';
import { AuditController } from './audit.controller.js';
import type { AuditService } from './audit.service.js';

describe('GET /api/v1/events', () => {
  const listed: unknown[] = [];
  const controller = new AuditController({
    list: (q: unknown) => (listed.push(q), Promise.resolve([])),
  } as unknown as AuditService);

  it('refuses a `before` past the largest event id, naming `before`', () => {
    // Before, it reached PostgreSQL, which refused it out of bigint's range naming no field.
    for (const before of ['99999999999999999999999', '9223372036854775808']) {
      let err: unknown;
      try {
        void controller.list({ before });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ValidationFailed);
      expect((err as ValidationFailed).fields).toEqual([
        { field: 'before', reason: 'must be an event id of at most 9223372036854775807' },
      ]);
    }
    expect(listed).toEqual([]);
  });

  it('refuses a `before` that is not an id, naming `before` once', () => {
    for (const before of ['abc', '-1', '1e3']) {
      let err: unknown;
      try {
        void controller.list({ before });
      } catch (e) {
        err = e;
      }
      expect((err as ValidationFailed).fields).toEqual([
        { field: 'before', reason: 'must be an event id' },
      ]);
    }
  });

  it('takes the largest event id', async () => {
    listed.length = 0;
    await controller.list({ before: '9223372036854775807' });
    expect(listed).toEqual([{ before: '9223372036854775807' }]);
  });
});
