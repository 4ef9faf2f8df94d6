import { describe, expect, it } from 'vitest';
import { fetchWithin } from './http-body.js';

describe('fetchWithin', () => {
  it('says why a request failed without quoting its URL (a secret may be in it)', async () => {
    const url = 'https://hookuser:S3cretPass@127.0.0.1:9/hook?token=abc123';
    const err = await fetchWithin(url, { method: 'POST' }, 1000, 'POST hook').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^POST hook: /);
    expect(err?.message).not.toContain('S3cretPass');
    expect(err?.message).not.toContain('abc123');
  });
});
