import { describe, expect, it } from 'vitest';
import { ValidationFailed } from './validation.js';
import { checkDepth, jsonLargerThan, tooDeep } from './body-depth.js';

describe('tooDeep', () => {
  it('names the first object or array nested past the limit, and passes what stays within it', () => {
    expect(tooDeep({ a: [{ b: 1 }] }, 3)).toBeUndefined();
    expect(tooDeep({ a: [{ b: {} }] }, 3)).toBe('a[0].b');
    expect(tooDeep([[[[]]]], 3)).toBe('[0][0][0]');
    expect(tooDeep('text', 0)).toBeUndefined();
    expect(tooDeep(null, 0)).toBeUndefined();
  });

  it('walks any depth without running out of stack', () => {
    let v: unknown = 1;
    for (let i = 0; i < 200_000; i++) v = [v];
    expect(tooDeep(v)).toBe('[0]'.repeat(100));
    expect(() => checkDepth(v, 'request body')).toThrow(ValidationFailed);
  });
});

describe('jsonLargerThan', () => {
  it('measures as JSON would, and stops at the limit on a document whose parts repeat', () => {
    const doc = { a: 'x'.repeat(10), b: [1, true, null, { c: 'y' }] };
    const size = JSON.stringify(doc).length;
    expect(jsonLargerThan(doc, size - 10)).toBe(true);
    expect(jsonLargerThan(doc, size + 10)).toBe(false);
    const shared = 'z'.repeat(1_000_000);
    const bomb = { copies: Array.from({ length: 100_000 }, () => shared) }; // 100 GB as JSON
    expect(jsonLargerThan(bomb, 1024 * 1024)).toBe(true);
  });
});
