import { describe, expect, it } from 'vitest';
import { sharedConstant, sharedConstantJson } from './shared.js';

describe('sharedConstant', () => {
  it('returns a deep-frozen copy and remembers its JSON', () => {
    const value = { a: [1, { b: 'x' }], c: { d: null, e: true } };
    const shared = sharedConstant(value);
    expect(shared).toEqual(value);
    expect(shared).not.toBe(value);
    expect(Object.isFrozen(value)).toBe(false);
    expect(Object.isFrozen(shared)).toBe(true);
    expect(Object.isFrozen(shared.a)).toBe(true);
    expect(Object.isFrozen(shared.a[1])).toBe(true);
    expect(Object.isFrozen(shared.c)).toBe(true);
    expect(sharedConstantJson(shared)).toBe(JSON.stringify(value));
    expect(() => {
      (shared.c as { d: unknown }).d = 1;
    }).toThrow(TypeError);
  });

  it('knows only the values it made', () => {
    const shared = sharedConstant({ a: { b: 1 } });
    expect(sharedConstantJson(shared.a)).toBeUndefined();
    expect(sharedConstantJson(Object.freeze({ a: 1 }))).toBeUndefined();
    expect(sharedConstantJson({})).toBeUndefined();
  });

  it('returns primitives as they are', () => {
    expect(sharedConstant('x')).toBe('x');
    expect(sharedConstant(1)).toBe(1);
    expect(sharedConstant(null)).toBe(null);
    expect(sharedConstant(undefined)).toBe(undefined);
  });
});
