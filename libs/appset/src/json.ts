import { sharedConstantJson } from '../../generators/src/index.js';

/**
 * `JSON.stringify(value)`, byte for byte, made cheaper for generated Applications: the constant
 * parts they share with each other (see `sharedConstant`) are not serialised again, and plain
 * objects, arrays and strings are written directly. Anything else (class instances, `toJSON`,
 * bigints, very deep or cyclic values) is left to `JSON.stringify` itself.
 */
export function stringifyJson(value: object): string {
  const out = prototypesPolluted() ? GIVE_UP : write(value, 0);
  return out === GIVE_UP ? JSON.stringify(value) : out;
}

const GIVE_UP = Symbol('give up');
type Out = string | typeof GIVE_UP;
const MAX_DEPTH = 100;

// JSON.stringify escapes quotes, backslashes, control characters and lone surrogates.
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

const keyJson = new Map<string, string>();
const KEY_CACHE_MAX = 1024;

/** `"key":` */
function keyPrefix(k: string): string {
  let s = keyJson.get(k);
  if (s === undefined) {
    s = JSON.stringify(k) + ':';
    if (keyJson.size >= KEY_CACHE_MAX) keyJson.clear();
    keyJson.set(k, s);
  }
  return s;
}

/** An enumerable property or a `toJSON` inherited by every object or array would change things. */
function prototypesPolluted(): boolean {
  for (const _ in {}) return true;
  return (
    (Object.prototype as { toJSON?: unknown }).toJSON !== undefined ||
    (Array.prototype as { toJSON?: unknown }).toJSON !== undefined
  );
}

function hasToJson(v: object): boolean {
  return typeof (v as { toJSON?: unknown }).toJSON === 'function';
}

function writeString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** A value in an object (undefined: the property is left out) or array (undefined: `null`). */
function writeValue(v: unknown, depth: number): Out | undefined {
  switch (typeof v) {
    case 'string':
      return writeString(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      return v === null ? 'null' : write(v, depth + 1);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      return GIVE_UP;
  }
}

function write(v: object, depth: number): Out {
  const shared = sharedConstantJson(v);
  if (shared !== undefined) return shared;
  if (depth > MAX_DEPTH) return GIVE_UP;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype || hasToJson(v)) return GIVE_UP;
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const s = writeValue(v[i], depth);
      if (s === GIVE_UP) return GIVE_UP;
      out += (i === 0 ? '' : ',') + (s ?? 'null');
    }
    return out + ']';
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if ((proto !== Object.prototype && proto !== null) || hasToJson(v)) return GIVE_UP;
  const o = v as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k in o) {
    const s = writeValue(o[k], depth);
    if (s === undefined) continue;
    if (s === GIVE_UP) return GIVE_UP;
    out += (first ? '' : ',') + keyPrefix(k) + s;
    first = false;
  }
  return out + '}';
}
