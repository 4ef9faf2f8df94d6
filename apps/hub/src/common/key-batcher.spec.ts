import { describe, expect, it } from 'vitest';
import { KeyBatcher } from './key-batcher.js';

describe('KeyBatcher', () => {
  it('reads a burst of lookups in a few batches, one at a time, each key once', async () => {
    const batches: string[][] = [];
    let inFlight = 0;
    let most = 0;
    const b = new KeyBatcher<string, number>(async (keys) => {
      batches.push(keys);
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.length]));
    }, 100);
    const first = await Promise.all([b.get('a'), b.get('bb'), b.get('a'), b.get('missing')]);
    expect(first).toEqual([1, 2, 1, undefined]);
    expect(batches).toEqual([['a', 'bb', 'missing']]);
    // 250 lookups while a batch is being read: batches of at most 100, never two at once.
    batches.length = 0;
    const slow = b.get('x');
    const burst = await Promise.all(Array.from({ length: 250 }, (_, i) => b.get(`k${i}`)));
    expect(await slow).toBe(1);
    expect(burst[249]).toBe(4);
    expect(batches.map((x) => x.length)).toEqual([100, 100, 51]);
    expect(most).toBe(1);
  });

  it('fails the lookups of a batch that could not be read, and reads the next batch again', async () => {
    let calls = 0;
    const b = new KeyBatcher<string, string>((keys) =>
      calls++ === 0
        ? Promise.reject(new Error('connection terminated'))
        : Promise.resolve(new Map(keys.map((k) => [k, k.toUpperCase()]))),
    );
    await expect(b.get('a')).rejects.toThrow('connection terminated');
    await expect(b.get('a')).resolves.toBe('A');
  });
});
