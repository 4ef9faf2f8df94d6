/**
 * The Go value model used by the template engine.
 *
 * JS values stand for Go values as follows:
 * - `undefined`            an invalid reflect.Value ("no value", e.g. a missing map key)
 * - `null`                 a nil interface{}
 * - `string` / `boolean`   string / bool
 * - `number`               `int` when integral, `float64` otherwise
 * - `GoNum`                any other numeric type (int64, int32 rune, uint8, float64 with an integral value ...)
 * - arrays                 `[]interface {}` unless tagged with `ELEM` (e.g. `[]string`, `[]int`)
 * - plain objects          `map[string]interface {}` unless tagged with `MAP_ELEM` (`map[string]string`)
 * - `GoObject` subclasses  structs / pointers with methods (time.Time, *semver.Version)
 */

export const ELEM: unique symbol = Symbol('goSliceElem');
export const MAP_ELEM: unique symbol = Symbol('goMapElem');

export type NumType =
  | 'int'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float32'
  | 'float64';

/** Base class of boxed Go values (anything that is not a plain JS value). */
export abstract class GoObject {
  abstract goType(): string;
  abstract goKind(): string;
}

/** A number whose Go type cannot be inferred from the JS number alone. */
export class GoNum extends GoObject {
  constructor(
    readonly t: NumType,
    readonly v: number,
  ) {
    super();
  }
  goType(): string {
    return this.t;
  }
  goKind(): string {
    return this.t;
  }
}

/** Signature of a Go method exposed on a GoObject (e.g. time.Time.Format). */
export interface GoMethod {
  params: string;
  fn: (self: never, ...args: never[]) => unknown;
}

/** A GoObject with methods callable from templates as `.Method arg…`. */
export abstract class GoStruct extends GoObject {
  abstract methods(): Record<string, GoMethod> | undefined;
  /** fmt.Stringer, when the Go type implements it. */
  goString?(): string;
}

export type GoMap = Record<string, unknown>;
export type TypedArray = unknown[] & { [ELEM]?: string };
export type TypedMap = GoMap & { [MAP_ELEM]?: string };

/** A JS number that stands for a Go int: integral and within int64 range. */
export function isGoInt(v: number): boolean {
  return Number.isInteger(v) && v < 9223372036854775808 && v >= -9223372036854775808;
}

export function float64(v: number): number | GoNum {
  return isGoInt(v) ? new GoNum('float64', v) : v;
}
export function int64(v: number): GoNum {
  return new GoNum('int64', v);
}

export function typedSlice<T>(arr: T[], elem: string): T[] {
  Object.defineProperty(arr, ELEM, { value: elem, enumerable: false, writable: true });
  return arr;
}

export function newMap(): GoMap {
  return Object.create(null) as GoMap;
}

export function typedMap(m: GoMap, elem: string): GoMap {
  Object.defineProperty(m, MAP_ELEM, { value: elem, enumerable: false, writable: true });
  return m;
}

export function isGoMap(v: unknown): v is GoMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof GoObject);
}

export function mapElemType(m: GoMap): string {
  return (m as TypedMap)[MAP_ELEM] ?? 'interface {}';
}
export function sliceElemType(a: unknown[]): string {
  return (a as TypedArray)[ELEM] ?? 'interface {}';
}

export function mapGet(m: GoMap, key: string): unknown {
  return Object.hasOwn(m, key) ? m[key] : undefined;
}
export function mapHas(m: GoMap, key: string): boolean {
  return Object.hasOwn(m, key) && m[key] !== undefined;
}
export function mapSet(m: GoMap, key: string, v: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(m, key, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else m[key] = v;
}

/** Map keys in Go's fmtsort order (byte-wise for strings). */
export function sortedKeys(m: GoMap): string[] {
  const keys = Object.keys(m).filter((k) => m[k] !== undefined);
  return keys.sort(compareStrings);
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Zero value for a Go type name as used by missingkey=zero and friends. */
export function zeroOf(type: string): unknown {
  switch (type) {
    case 'string':
      return '';
    case 'int':
      return 0;
    case 'bool':
      return false;
    case 'float64':
      return new GoNum('float64', 0);
    default:
      return null;
  }
}

/** The Go type name (as reflect.Type.String() prints it). `null` → nil interface. */
export function goTypeOf(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return isGoInt(v) ? 'int' : 'float64';
    case 'bigint':
      return 'int64';
    case 'undefined':
      return '<nil>';
    case 'function':
      return 'func()';
    case 'object':
      if (v === null) return '<nil>';
      if (Array.isArray(v)) return '[]' + sliceElemType(v);
      if (v instanceof GoObject) return v.goType();
      if (v instanceof Uint8Array) return '[]uint8';
      return 'map[string]' + mapElemType(v as GoMap);
    case 'symbol':
    default:
      return 'interface {}';
  }
}

/** reflect.Kind().String() of a value; `null`/`undefined` → "invalid". */
export function goKindOf(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return isGoInt(v) ? 'int' : 'float64';
    case 'object':
      if (v === null) return 'invalid';
      if (Array.isArray(v) || v instanceof Uint8Array) return 'slice';
      if (v instanceof GoObject) return v.goKind();
      return 'map';
    case 'function':
      return 'func';
    case 'bigint':
    case 'symbol':
    case 'undefined':
    default:
      return 'invalid';
  }
}

export type BasicKind = 'bool' | 'int' | 'uint' | 'float' | 'string' | 'complex' | null;

/** text/template's basicKind: the comparison class of a value. */
export function basicKind(v: unknown): BasicKind {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return isGoInt(v) ? 'int' : 'float';
    case 'object':
      if (v instanceof GoNum) {
        const t = v.t;
        if (t.startsWith('float')) return 'float';
        if (t.startsWith('uint')) return 'uint';
        return 'int';
      }
      return null;
    case 'bigint':
    case 'symbol':
    case 'undefined':
    case 'function':
    default:
      return null;
  }
}

/** Numeric value of a number-like Go value (callers check basicKind first). */
export function numValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v instanceof GoNum) return v.v;
  return 0;
}

/** Go's truth: false, 0, nil, empty string/slice/map are false; structs are true. */
export function isTrue(v: unknown): boolean {
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'string':
      return v.length > 0;
    case 'number':
      return v !== 0;
    case 'undefined':
      return false;
    case 'object':
      if (v === null) return false;
      if (Array.isArray(v)) return v.length > 0;
      if (v instanceof GoNum) return v.v !== 0;
      if (v instanceof GoObject) return true;
      if (v instanceof Uint8Array) return v.length > 0;
      for (const k in v) if ((v as GoMap)[k] !== undefined) return true;
      return false;
    case 'bigint':
    case 'symbol':
    case 'function':
    default:
      return true;
  }
}

/** Length of a string as Go counts it (UTF-8 bytes). */
export function byteLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2;
        i++;
        continue;
      }
      n += 2;
    } else n += 2;
  }
  return n;
}

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

export function toBytes(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
export function fromBytes(b: Uint8Array): string {
  return utf8Decoder.decode(b);
}

/** s[start:end] with Go byte semantics; throws a Go-like runtime error when out of range. */
export function byteSlice(s: string, start: number, end?: number): string {
  if (isAscii(s)) {
    const e = end ?? s.length;
    if (start < 0 || e > s.length || start > e)
      throw new GoPanic(sliceBoundsMessage(start, e, s.length));
    return s.slice(start, e);
  }
  const b = toBytes(s);
  const e = end ?? b.length;
  if (start < 0 || e > b.length || start > e)
    throw new GoPanic(sliceBoundsMessage(start, e, b.length));
  return fromBytes(b.subarray(start, e));
}

function sliceBoundsMessage(start: number, end: number, len: number): string {
  if (end > len) return `runtime error: slice bounds out of range [:${end}] with length ${len}`;
  if (start < 0) return `runtime error: slice bounds out of range [${start}:]`;
  return `runtime error: slice bounds out of range [${start}:${end}]`;
}

/** An error raised inside a template function (becomes `error calling X: msg`). */
export class GoPanic extends Error {}

/** Split a JS string into Unicode code points (Go runes). */
export function runes(s: string): string[] {
  return Array.from(s);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b) return false;
  if (a instanceof GoNum || b instanceof GoNum || typeof a === 'number') {
    return goTypeOf(a) === goTypeOf(b) && numValue(a) === numValue(b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length || sliceElemType(a) !== sliceElemType(b))
      return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof GoObject || b instanceof GoObject) {
    if (!(a instanceof GoObject) || !(b instanceof GoObject) || a.constructor !== b.constructor)
      return false;
    return JSON.stringify(a) === JSON.stringify(b);
  }
  if (isGoMap(a) && isGoMap(b)) {
    if (mapElemType(a) !== mapElemType(b)) return false;
    const ka = sortedKeys(a);
    const kb = sortedKeys(b);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] !== kb[i] || !deepEqual(a[ka[i]], b[kb[i]])) return false;
    }
    return true;
  }
  return false;
}
