import { describe, expect, it } from 'vitest';
import { SizedPromiseCache } from './sized-cache.js';

describe('SizedPromiseCache', () => {
  const cache = (maxCount: number, maxSize: number) => {
    const loads: string[] = [];
    const c = new SizedPromiseCache<number>({
      maxCount,
      maxSize,
      size: (n) => n,
      keepRejection: (e) => (e as Error).message === 'final',
    });
    const get = (key: string, size: number) =>
      c.get(key, () => {
        loads.push(key);
        return Promise.resolve(size);
      });
    return { c, get, loads };
  };

  it('drops the least recently used past its count or its total size, never the one just read', async () => {
    const { get, loads } = cache(2, 10);
    await get('a', 4);
    await get('b', 4);
    await get('a', 4); // a is now the most recent
    await get('c', 4); // three: b goes
    await get('a', 4);
    expect(loads).toEqual(['a', 'b', 'c']);
    await get('big', 30); // over the size: all but itself go
    await get('big', 30);
    expect(loads).toEqual(['a', 'b', 'c', 'big']);
    await get('a', 4);
    expect(loads).toEqual(['a', 'b', 'c', 'big', 'a']);
  });

  it('shares a running load and never drops it; forgets a failure unless it is final', async () => {
    const { c, get, loads } = cache(1, 100);
    let release!: (n: number) => void;
    const running = c.get('slow', () => new Promise<number>((r) => (release = r)));
    expect(c.get('slow', () => Promise.resolve(0))).toBe(running);
    await get('x', 1); // two entries, count 1: 'slow' is running and stays
    release(1);
    expect(await c.get('slow', () => Promise.resolve(99))).toBe(1);
    let tries = 0;
    const fail = (message: string) => () => {
      tries++;
      return Promise.reject(new Error(message));
    };
    await expect(c.get('flaky', fail('away'))).rejects.toThrow('away');
    await expect(c.get('flaky', fail('away'))).rejects.toThrow('away');
    await expect(c.get('refused', fail('final'))).rejects.toThrow('final');
    await expect(c.get('refused', fail('final'))).rejects.toThrow('final');
    expect(tries).toBe(3);
    expect(loads).toEqual(['x']);
  });
});
