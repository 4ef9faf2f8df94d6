import { describe, expect, it } from 'vitest';
import { refuseUnreadBodies } from './content-type.js';

function call(headers: Record<string, string>) {
  let passed = false;
  let answer: { code: number; body: unknown } | undefined;
  refuseUnreadBodies(
    { method: 'POST', headers },
    { status: (code) => ({ json: (body) => (answer = { code, body }) }) },
    () => (passed = true),
  );
  return { passed, answer };
}

describe('refuseUnreadBodies', () => {
  it('passes JSON and YAML bodies, and requests without a body', () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/merge-patch+json',
      'application/yaml',
      'application/x-yaml',
      'text/yaml',
    ])
      expect(call({ 'content-type': type, 'content-length': '2' }).passed, type).toBe(true);
    expect(call({}).passed).toBe(true);
    expect(call({ 'content-type': 'text/plain', 'content-length': '0' }).passed).toBe(true);
  });

  it('refuses a body it would not read, with 415 naming its type', () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', '']) {
      const r = call({ 'content-type': type, 'content-length': '30' });
      expect(r.passed, type).toBe(false);
      expect(r.answer?.code).toBe(415);
      expect((r.answer?.body as { message: string }).message).toContain(`"${type || '(none)'}"`);
    }
    expect(call({ 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }).passed).toBe(
      false,
    );
  });
});
