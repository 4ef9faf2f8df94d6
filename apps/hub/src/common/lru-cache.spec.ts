import { describe, expect, it } from 'vitest';
import { LruCache } from './lru-cache.js';

describe('LruCache', () => {
  it('drops the entries used longest ago past its weight', () => {
    const c = new LruCache<string, number>(3);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.get('a')).toBe(1); // a is now the last used: b goes first
    c.set('d', 4);
    expect([c.get('b'), c.get('a'), c.get('c'), c.get('d')]).toEqual([undefined, 1, 3, 4]);
    expect(c.size).toBe(3);
  });

  it('counts each entry by its weight, and keeps none heavier than the bound', () => {
    const c = new LruCache<string, string>(10);
    c.set('a', 'x', 4);
    c.set('b', 'y', 4);
    c.set('c', 'z', 4); // 12 > 10: a goes
    expect([c.get('a'), c.get('b'), c.get('c')]).toEqual([undefined, 'y', 'z']);
    expect(c.weight).toBe(8);
    c.set('huge', 'w', 11);
    expect(c.get('huge')).toBeUndefined();
    expect(c.weight).toBe(8);
    c.set('b', 'y2', 1); // set again: weighed anew
    expect(c.weight).toBe(5);
    c.delete('c');
    expect([c.size, c.weight]).toEqual([1, 1]);
  });
});
