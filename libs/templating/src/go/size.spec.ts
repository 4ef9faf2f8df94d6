import { describe, expect, it } from 'vitest';
import { measure } from './size.js';

const expandedSize = (v: unknown, budget: number) => measure(v, budget).size;

describe('measure', () => {
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

  it("says the work it took, how much of it was the value's own, and what it looked into", () => {
    const inner = [1, 2, 3];
    const seen = new WeakSet<object>();
    expect(measure([inner, inner, 'x'], 100, seen)).toEqual({ size: 10, work: 6, own: 3 });
    expect(seen.has(inner)).toBe(true);
  });
});
