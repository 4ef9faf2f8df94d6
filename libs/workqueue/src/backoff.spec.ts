import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('grows exponentially up to the cap', () => {
    const top = (a: number) => backoffDelay(a, 100, 5000, () => 0.999999);
    expect([0, 1, 2, 3, 6, 40].map(top)).toEqual([99, 199, 399, 799, 4999, 4999]);
  });

  it('is jittered over the whole range', () => {
    expect(backoffDelay(3, 100, 5000, () => 0)).toBe(0);
    expect(backoffDelay(3, 100, 5000, () => 0.5)).toBe(400);
  });
});
