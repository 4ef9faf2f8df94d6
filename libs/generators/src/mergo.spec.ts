import { describe, expect, it } from 'vitest';
import { mergoMerge } from './mergo.js';

describe('mergoMerge', () => {
  it('without override fills missing and empty values only, deep-merging maps', () => {
    const a = { x: 'a', empty: '', off: false, m: { k: 1 } };
    const b = { x: 'b', empty: 'filled', off: true, m: { k: 2, j: 3 }, y: 'new' };
    const out = mergoMerge({ ...a }, b, false);
    expect(out).toEqual({ x: 'a', empty: 'filled', off: true, m: { k: 1, j: 3 }, y: 'new' });
    expect(a.m).toEqual({ k: 1 });
  });

  it('with override replaces values, keeps merging nested maps', () => {
    const out = mergoMerge(
      { x: 'a', list: [1], m: { k: 1, j: 1 } },
      { x: '', list: [2, 3], m: { k: 2 } },
      true,
    );
    expect(out).toEqual({ x: '', list: [2, 3], m: { k: 2, j: 1 } });
  });

  it('skips null sources unless overriding', () => {
    expect(mergoMerge({ a: 1 }, { a: null, b: null }, false)).toEqual({ a: 1 });
    expect(mergoMerge({ a: 1 }, { a: null }, true)).toEqual({ a: null });
  });
});
