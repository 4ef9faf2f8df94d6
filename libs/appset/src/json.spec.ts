import { describe, expect, it } from 'vitest';
import { sharedConstant } from '../../generators/src/index.js';
import { stringifyJson } from './json.js';

function same(value: object): void {
  expect(stringifyJson(value)).toBe(JSON.stringify(value));
}

describe('stringifyJson', () => {
  it('writes what JSON.stringify writes', () => {
    same({});
    same([]);
    same({
      a: 'x',
      b: 1,
      c: true,
      d: false,
      e: null,
      f: [1, 'two', [3], {}],
      g: { h: { i: 'j' } },
    });
    same({ s: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f' });
    same({ s: 'unicode é ✓ 😀 lone \ud800 \udc00 end', 'key "with" \\ specials\n': 1 });
    same({ n: [0, -0, 1.5, -2e-7, 1e21, 123456789012345680000, NaN, Infinity, -Infinity] });
    same({ u: undefined, f: () => 1, s: Symbol('x'), kept: 1 });
    same([undefined, () => 1, Symbol('x'), null]);
    // eslint-disable-next-line no-sparse-arrays
    same([1, , 3]);
    same({ b: 1, a: 2, 10: 'ten', 2: 'two', '-1': 'minus' });
    same({ ['__proto__']: 'own' });
    same(JSON.parse('{"__proto__": {"x": 1}}') as object);
  });

  it('leaves anything else to JSON.stringify', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    same({ d: new Date(0) });
    same({ p: new Point(1, 2), m: new Map([[1, 2]]), set: new Set([1]) });
    same({ t: { toJSON: () => 'custom' } });
    same({ t: { toJSON: 'just a key' } });
    const hidden = { a: 1 };
    Object.defineProperty(hidden, 'toJSON', { value: () => 'hidden', enumerable: false });
    same({ hidden });
    same({ n: Object.create(null) as object, s: new String('boxed'), b: new Number(1) });
    same({ typed: new Uint8Array([1, 2]) });
    const arr = Object.assign([1, 2], { extra: 'ignored' });
    same({ arr });
    expect(() => stringifyJson({ big: 1n })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => stringifyJson(cyclic)).toThrow(TypeError);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 500; i++) deep = i % 2 ? [deep] : { d: deep };
    same({ deep });
  });

  it('reuses the JSON of shared constants', () => {
    const shared = sharedConstant({ syncPolicy: { automated: { prune: true } }, list: ['a'] });
    same({ spec: shared, other: [shared, shared.list] });
  });

  it('is not fooled by polluted prototypes', () => {
    const value = { a: { b: [1] } };
    const proto = Object.prototype as Record<string, unknown>;
    const arrayProto = Array.prototype as unknown as Record<string, unknown>;
    try {
      proto.polluted = 'x';
      same(value);
      delete proto.polluted;
      Object.defineProperty(arrayProto, 'toJSON', {
        value: () => 'array',
        configurable: true,
        writable: true,
      });
      same(value);
    } finally {
      delete proto.polluted;
      delete arrayProto.toJSON;
    }
    same(value);
  });
});
