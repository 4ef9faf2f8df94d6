import { describe, expect, it } from 'vitest';
import { expandedSize } from './size.js';

describe('expandedSize', () => {
  it('counts every value written out in full', () => {
    expect(expandedSize('x', 10)).toBe(1);
    expect(expandedSize([1, 2, { a: 'b', c: [3] }], 100)).toBe(7);
    const shared = [1, 2];
    expect(expandedSize([shared, shared], 100)).toBe(7);
  });

  it('finds an exponential value held in a few shared parts at once, and a cycle', () => {
    let l: unknown[] = [1];
    for (let i = 0; i < 40; i++) l = [l, l];
    expect(expandedSize(l, 1_000_000)).toBe(Infinity);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(expandedSize(cyclic, 1_000_000)).toBe(Infinity);
  });
});
