/** text/template's builtin functions (funcs.go). */
import { formatV, sprint, sprintf, sprintln } from './fmt.js';
import { def, fail, type FuncMap, type GoFunc } from './funcs.js';
import {
  GoNum,
  GoObject,
  basicKind,
  byteLength,
  byteSlice,
  goTypeOf,
  isGoMap,
  isTrue,
  mapElemType,
  mapGet,
  numValue,
  sliceElemType,
  toBytes,
  zeroOf,
  type BasicKind,
} from './values.js';

/** indirectInterface: a nil interface is no value. */
function ind(v: unknown): unknown {
  return v === null ? undefined : v;
}

function indexArg(index: unknown, cap: number): number {
  const k = basicKind(index);
  if (index === undefined || index === null) fail('cannot index slice/array with nil');
  if (k !== 'int' && k !== 'uint') fail(`cannot index slice/array with type ${goTypeOf(index)}`);
  const x = numValue(index);
  if (x < 0 || x > cap) fail(`index out of range: ${x}`);
  return x;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  item = ind(item);
  if (item === undefined) fail('index of untyped nil');
  for (let idx of indexes) {
    idx = ind(idx);
    if (item === null || item === undefined) fail('index of nil pointer');
    if (typeof item === 'string') {
      const bytes = toBytes(item);
      const x = indexArg(idx, bytes.length);
      if (x === bytes.length) fail(`reflect: string index out of range`);
      item = new GoNum('uint8', bytes[x]);
    } else if (Array.isArray(item)) {
      const x = indexArg(idx, item.length);
      if (x === item.length) fail(`reflect: slice index out of range`);
      item = item[x];
    } else if (isGoMap(item)) {
      if (typeof idx !== 'string') {
        if (idx === undefined) fail('value is nil; should be of type string');
        fail(`value has type ${goTypeOf(idx)}; should be string`);
      }
      const x = mapGet(item, idx);
      item = x !== undefined ? x : zeroOf(mapElemType(item));
    } else {
      fail(`can't index item of type ${goTypeOf(item)}`);
    }
  }
  return item;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  item = ind(item);
  if (item === undefined) fail('slice of untyped nil');
  if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) fail('cannot 3-index slice a string');
    len = byteLength(item);
  } else if (Array.isArray(item)) {
    len = item.length;
  } else {
    fail(`can't slice item of type ${goTypeOf(item)}`);
  }
  const idx = [0, len, len];
  for (let i = 0; i < indexes.length; i++) idx[i] = indexArg(indexes[i], len);
  if (idx[0] > idx[1]) fail(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) fail(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (typeof item === 'string') return byteSlice(item, idx[0], idx[1]);
  const out = item.slice(idx[0], idx[1]);
  const elem = sliceElemType(item);
  if (elem !== 'interface {}')
    Object.defineProperty(out, Object.getOwnPropertySymbols(item)[0], { value: elem });
  return out;
}

function length(item: unknown): number {
  if (item === null) fail('len of nil pointer');
  if (item === undefined) fail('reflect: call of reflect.Value.Type on zero Value');
  if (typeof item === 'string') return byteLength(item);
  if (Array.isArray(item)) return item.length;
  if (item instanceof Uint8Array) return item.length;
  if (isGoMap(item)) {
    let n = 0;
    for (const k in item) if (item[k] !== undefined) n++;
    return n;
  }
  fail(`len of type ${goTypeOf(item)}`);
}

function eq(arg1: unknown, ...arg2: unknown[]): boolean {
  arg1 = ind(arg1);
  if (arg2.length === 0) fail('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (let arg of arg2) {
    arg = ind(arg);
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if (k1 === 'int' && k2 === 'uint')
        truth = numValue(arg1) >= 0 && numValue(arg1) === numValue(arg);
      else if (k1 === 'uint' && k2 === 'int')
        truth = numValue(arg) >= 0 && numValue(arg1) === numValue(arg);
      else if (arg1 !== undefined && arg !== undefined) {
        fail(`incompatible types for comparison: ${goTypeOf(arg1)} and ${goTypeOf(arg)}`);
      }
    } else if (k1 !== null) {
      truth = k1 === 'bool' || k1 === 'string' ? arg1 === arg : numValue(arg1) === numValue(arg);
    } else {
      // non-basic kinds: only nil comparisons and comparable values
      const n1 = arg1 === undefined;
      const n2 = arg === undefined;
      if (n1 || n2) truth = n1 === n2;
      else {
        const t1 = goTypeOf(arg1);
        const t2 = goTypeOf(arg);
        if (kindName(arg1) !== kindName(arg)) {
          fail(`non-comparable types ${sprintf('%s', [arg1])}: ${t1}, ${t2}: ${formatV(arg)}`);
        }
        if (Array.isArray(arg) || isGoMap(arg))
          fail(`non-comparable type ${sprintf('%s', [arg])}: ${t2}`);
        truth =
          arg1 === arg ||
          (arg1 instanceof GoObject && JSON.stringify(arg1) === JSON.stringify(arg));
      }
    }
    if (truth) return true;
  }
  return false;
}

function kindName(v: unknown): string {
  if (Array.isArray(v)) return 'slice';
  if (isGoMap(v)) return 'map';
  return goTypeOf(v);
}

function lt(arg1: unknown, arg2: unknown): boolean {
  arg1 = ind(arg1);
  const k1 = basicKind(arg1);
  if (k1 === null) fail('invalid type for comparison');
  arg2 = ind(arg2);
  const k2: BasicKind = basicKind(arg2);
  if (k2 === null) fail('invalid type for comparison');
  if (k1 !== k2) {
    if (k1 === 'int' && k2 === 'uint') return numValue(arg1) < 0 || numValue(arg1) < numValue(arg2);
    if (k1 === 'uint' && k2 === 'int')
      return numValue(arg2) >= 0 && numValue(arg1) < numValue(arg2);
    fail(`incompatible types for comparison: ${goTypeOf(arg1)} and ${goTypeOf(arg2)}`);
  }
  if (k1 === 'bool' || k1 === 'complex') fail('invalid type for comparison');
  if (k1 === 'string') return (arg1 as string) < (arg2 as string);
  return numValue(arg1) < numValue(arg2);
}

function le(a: unknown, b: unknown): boolean {
  return lt(a, b) || eq(a, b);
}

/** strings of args as evalArgs does: a single string is used as is, otherwise fmt.Sprint. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === undefined || a === null ? '<no value>' : a)));
}

export function htmlEscape(s: string): string {
  if (!/['"&<>\0]/.test(s)) return s;
  return s.replace(/['"&<>\0]/g, (c) => {
    switch (c) {
      case '"':
        return '&#34;';
      case "'":
        return '&#39;';
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      default:
        return '\uFFFD';
    }
  });
}

const printRe = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (c < 0x20) out += '\\u00' + c.toString(16).toUpperCase().padStart(2, '0');
    else if (c < 0x80) out += ch;
    else if (printRe.test(ch)) out += ch;
    else out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

/** url.QueryEscape */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of toBytes(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function addBuiltins(m: FuncMap): void {
  const b = (name: string, sig: string, fn: GoFunc['fn']): void => {
    def(m, name, sig, fn);
    m.get(name)!.builtin = true;
  };
  b('and', 'value,...value', () => undefined);
  b('or', 'value,...value', () => undefined);
  b('call', 'value,...value', (name: string, fn: unknown) => {
    fn = ind(fn);
    if (fn === undefined) fail('call of nil');
    fail(`non-function ${name} of type ${goTypeOf(fn)}`);
  });
  b('html', '...any', (...args: unknown[]) => htmlEscape(evalArgs(args)));
  b('index', 'value,...value', index);
  b('slice', 'value,...value', slice);
  b('js', '...any', (...args: unknown[]) => jsEscape(evalArgs(args)));
  b('len', 'value', length);
  b('not', 'value', (v: unknown) => !isTrue(v));
  b('print', '...any', (...args: unknown[]) => sprint(args));
  b('printf', 'string,...any', (f: string, ...args: unknown[]) => sprintf(f, args));
  b('println', '...any', (...args: unknown[]) => sprintln(args));
  b('urlquery', '...any', (...args: unknown[]) => queryEscape(evalArgs(args)));
  b('eq', 'value,...value', eq);
  b('ne', 'value,value', (a: unknown, c: unknown) => !eq(a, c));
  b('lt', 'value,value', lt);
  b('le', 'value,value', le);
  b('gt', 'value,value', (a: unknown, c: unknown) => !le(a, c));
  b('ge', 'value,value', (a: unknown, c: unknown) => !lt(a, c));
}
