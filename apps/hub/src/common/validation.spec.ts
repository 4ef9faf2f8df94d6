import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HubExceptionFilter } from './exception.filter.js';
import { MAX_FIELD_ERRORS, parseOrThrow, ValidationFailed } from './validation.js';
import { failure } from '../../../../test/support/validation.js';

/** What the exception filter answers for `e`: status and JSON body. */
function answer(e: unknown): { status: number; body: Record<string, unknown>; size: number } {
  let status = 0;
  let body: Record<string, unknown> = {};
  const res = {
    status: (s: number) => ((status = s), res),
    json: (b: Record<string, unknown>) => (body = b),
  };
  new HubExceptionFilter().catch(e, {
    switchToHttp: () => ({ getResponse: () => res }),
  } as never);
  return { status, body, size: JSON.stringify(body).length };
}

describe('field errors are capped', () => {
  const strict = z.object({ token: z.string() }).strict();

  it('reports at most 50 unknown fields of a strict schema, then how many more', () => {
    // The shape of `POST /api/v1/session` with a 1.9 MB body: 200,000 unknown keys.
    const body: Record<string, unknown> = { token: 't' };
    for (let i = 0; i < 200_000; i++) body[`k${i}`] = 1;
    const e = failure(() => parseOrThrow(strict, body, 'sign-in'));
    expect(e.fields).toHaveLength(MAX_FIELD_ERRORS + 1);
    expect(e.fields[0]).toEqual({ field: 'k0', reason: 'unknown field' });
    expect(e.fields.at(-1)).toEqual({ field: '…', reason: `…and ${200_000 - 50} more` });
    const { status, size } = answer(e);
    expect(status).toBe(400);
    expect(size).toBeLessThan(10_000);
  });

  it('caps errors built by hand too, and counts an earlier cap once', () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ field: `f${i}`, reason: 'bad' }));
    const e = new ValidationFailed('invalid thing', many);
    expect(e.fields).toHaveLength(51);
    expect(e.fields.at(-1)?.reason).toBe('…and 70 more');
    expect(e.message).not.toContain('f60');
    // Wrapped again (names mapped, as the Argo CD Application parser does): still 70 more.
    const again = new ValidationFailed(
      'invalid Argo CD Application',
      e.fields.map((f) => ({ ...f, field: `spec.${f.field}` })),
    );
    expect(again.fields).toHaveLength(51);
    expect(again.fields.at(-1)?.reason).toBe('…and 70 more');
    // Merged with more errors: they add to the count.
    const merged = new ValidationFailed('invalid thing', [
      ...e.fields,
      { field: 'x', reason: 'bad' },
    ]);
    expect(merged.fields.at(-1)?.reason).toBe('…and 71 more');
  });

  it('shortens a very long unknown key', () => {
    const e = failure(() => parseOrThrow(strict, { token: 't', ['a'.repeat(1_000_000)]: 1 }, 'x'));
    expect(e.fields[0].field.length).toBeLessThanOrEqual(201);
    expect(answer(e).size).toBeLessThan(2_000);
  });

  it('leaves a short list as it is', () => {
    const e = failure(() => parseOrThrow(strict, { token: 1, a: 1 }, 'x'));
    expect(e.fields).toEqual([
      { field: 'token', reason: 'Invalid input: expected string, received number' },
      { field: 'a', reason: 'unknown field' },
    ]);
  });
});
