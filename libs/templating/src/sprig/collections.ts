/** Sprig list and dict functions (list.go, dict.go). */
import { def, fail, type FuncMap, type GoFunc } from '../go/funcs.js';
import {
  GoNum,
  GoObject,
  deepEqual,
  goKindOf,
  goTypeOf,
  isGoMap,
  isTrue,
  mapGet,
  mapSet,
  newMap,
  sliceElemType,
  sortedKeys,
  typedSlice,
  type GoMap,
} from '../go/values.js';
import { strval, toInt } from './cast.js';

/** reflect.TypeOf(x).Kind() – panics (like Go) on nil. */
function kindOrPanic(v: unknown): string {
  if (v === null || v === undefined)
    fail('runtime error: invalid memory address or nil pointer dereference');
  return goKindOf(v);
}

function asList(v: unknown, what: string): unknown[] {
  const k = kindOrPanic(v);
  if (!Array.isArray(v)) fail(`${what} ${k}`);
  return v;
}

/** sprig's empty(): Go zero values are empty; structs never are. */
export function empty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (v instanceof GoObject && !(v instanceof GoNum)) return false;
  return !isTrue(v);
}

function deepCopy(v: unknown): unknown {
  if (Array.isArray(v)) {
    const out = v.map(deepCopy);
    const elem = sliceElemType(v);
    return elem === 'interface {}' ? out : typedSlice(out, elem);
  }
  if (isGoMap(v)) {
    const out = newMap();
    for (const k of Object.keys(v)) mapSet(out, k, deepCopy(v[k]));
    for (const s of Object.getOwnPropertySymbols(v))
      Object.defineProperty(out, s, { value: (v as never)[s] });
    return out;
  }
  return v;
}

function isEmptyValue(v: unknown): boolean {
  return empty(v);
}

/** mergo.Merge / MergeWithOverwrite for map[string]interface{} (dario.cat/mergo deepMerge). */
function mergeMaps(dst: GoMap, src: GoMap, overwrite: boolean): void {
  const srcEmpty = Object.keys(src).length === 0;
  for (const key of Object.keys(src)) {
    const srcEl = src[key];
    if (srcEl === undefined) continue;
    const dstEl = mapGet(dst, key);
    if (srcEl === null) {
      if (overwrite) mapSet(dst, key, null);
      continue;
    }
    if (isGoMap(srcEl)) {
      if (isGoMap(dstEl)) mergeMaps(dstEl, srcEl, overwrite);
    } else if (Array.isArray(srcEl)) {
      let dstSlice: unknown = dstEl === undefined || dstEl === null ? [] : dstEl;
      if (!srcEmpty && (overwrite || Object.keys(dst).length === 0)) dstSlice = srcEl;
      mapSet(dst, key, dstSlice);
    }
    if (dstEl !== undefined && !isEmptyValue(dstEl)) {
      if (Array.isArray(srcEl)) continue;
      if (isGoMap(srcEl) && isGoMap(dstEl)) continue;
    }
    if (overwrite || dstEl === undefined || isEmptyValue(dstEl)) mapSet(dst, key, srcEl);
  }
}

function inList(haystack: unknown[], needle: unknown): boolean {
  for (const h of haystack) if (deepEqual(needle, h)) return true;
  return false;
}

/** The dynamic type named in a failed Go type assertion message. */
function ifaceType(v: unknown): string {
  return v === null || v === undefined ? 'nil' : goTypeOf(v);
}

function dig(ps: unknown[]): unknown {
  if (ps.length < 3) fail('dig needs at least three arguments');
  const last = ps[ps.length - 1];
  if (!isGoMap(last))
    fail(`interface conversion: interface {} is ${ifaceType(last)}, not map[string]interface {}`);
  const def_ = ps[ps.length - 2];
  const ks = ps.slice(0, -2).map((k) => {
    if (typeof k !== 'string')
      fail(`interface conversion: interface {} is ${goTypeOf(k)}, not string`);
    return k;
  });
  let dict: GoMap = last;
  for (let i = 0; i < ks.length; i++) {
    const step = mapGet(dict, ks[i]);
    if (step === undefined) return def_;
    if (i === ks.length - 1) return step;
    if (!isGoMap(step))
      fail(`interface conversion: interface {} is ${ifaceType(step)}, not map[string]interface {}`);
    dict = step;
  }
  return def_;
}

function chunk(size: number, list: unknown): unknown[][] {
  const l = asList(list, 'Cannot chunk type');
  const n = l.length;
  if (size <= 0) fail('runtime error: integer divide by zero');
  const cs = Math.floor((n - 1) / size) + 1;
  const out: unknown[][] = [];
  for (let i = 0; i < cs; i++) {
    let clen = size;
    if (i === cs - 1) {
      clen = Math.floor(n % size);
      if (clen === 0) clen = size;
    }
    const part: unknown[] = [];
    for (let j = 0; j < clen; j++) {
      const ix = i * size + j;
      if (ix >= n || ix < 0) fail('reflect: slice index out of range');
      part.push(l[ix]);
    }
    out.push(part);
  }
  return typedSlice(out, '[]interface {}');
}

function sliceList(list: unknown, indices: unknown[]): unknown {
  const k = kindOrPanic(list);
  if (!Array.isArray(list)) fail(`list should be type of slice or array but ${k}`);
  if (list.length === 0) return null;
  const start = indices.length > 0 ? toInt(indices[0]) : 0;
  const end = indices.length < 2 ? list.length : toInt(indices[1]);
  if (start < 0 || end > list.length || start > end)
    fail('reflect.Value.Slice: slice index out of bounds');
  const out = list.slice(start, end);
  const elem = sliceElemType(list);
  return elem === 'interface {}' ? out : typedSlice(out, elem);
}

/** Define fn and its must* variant (which raises instead of panicking; both error alike here). */
function both(m: FuncMap, name: string, sig: string, fn: GoFunc['fn']): void {
  def(m, name, sig, fn);
  def(m, 'must' + name[0].toUpperCase() + name.slice(1), sig, fn);
}

export function addCollectionFuncs(m: FuncMap): void {
  def(m, 'list', '...any', (...v: unknown[]) => v);
  def(m, 'tuple', '...any', (...v: unknown[]) => v);
  const push = (list: unknown, v: unknown): unknown[] => [
    ...asList(list, 'Cannot push on type'),
    v,
  ];
  both(m, 'push', 'any,any', push);
  both(m, 'append', 'any,any', push);
  both(m, 'prepend', 'any,any', (list: unknown, v: unknown) => [
    v,
    ...asList(list, 'Cannot prepend on type'),
  ]);
  both(m, 'chunk', 'int,any', chunk);
  both(m, 'last', 'any', (list: unknown) => {
    const l = asList(list, 'Cannot find last on type');
    return l.length === 0 ? null : l[l.length - 1];
  });
  both(m, 'first', 'any', (list: unknown) => {
    const l = asList(list, 'Cannot find first on type');
    return l.length === 0 ? null : l[0];
  });
  both(m, 'rest', 'any', (list: unknown) => asList(list, 'Cannot find rest on type').slice(1));
  both(m, 'initial', 'any', (list: unknown) =>
    asList(list, 'Cannot find initial on type').slice(0, -1),
  );
  both(m, 'reverse', 'any', (list: unknown) =>
    [...asList(list, 'Cannot find reverse on type')].reverse(),
  );
  both(m, 'compact', 'any', (list: unknown) =>
    asList(list, 'Cannot compact on type').filter((x) => !empty(x)),
  );
  both(m, 'uniq', 'any', (list: unknown) => {
    // Strings by a set (a string equals only a string): linear where a list of them is long.
    const out: unknown[] = [];
    const strings = new Set<string>();
    const others: unknown[] = [];
    for (const x of asList(list, 'Cannot find uniq on type')) {
      if (typeof x === 'string') {
        if (strings.has(x)) continue;
        strings.add(x);
      } else if (inList(others, x)) continue;
      else others.push(x);
      out.push(x);
    }
    return out;
  });
  both(m, 'without', 'any,...any', (list: unknown, ...omit: unknown[]) =>
    asList(list, 'Cannot find without on type').filter((x) => !inList(omit, x)),
  );
  both(m, 'has', 'any,any', (needle: unknown, haystack: unknown) => {
    if (haystack === null || haystack === undefined) return false;
    return inList(asList(haystack, 'Cannot find has on type'), needle);
  });
  both(m, 'slice', 'any,...any', (list: unknown, ...idx: unknown[]) => sliceList(list, idx));
  def(m, 'concat', '...any', (...lists: unknown[]) => {
    const res: unknown[] = [];
    for (const l of lists) {
      const k = kindOrPanic(l);
      if (!Array.isArray(l)) fail(`Cannot concat type ${k} as list`);
      for (const x of l as unknown[]) res.push(x);
    }
    return res;
  });
  def(m, 'dig', '...any', (...ps: unknown[]) => dig(ps));

  // dicts
  def(m, 'dict', '...any', (...v: unknown[]) => {
    const d = newMap();
    for (let i = 0; i < v.length; i += 2)
      mapSet(d, strval(v[i]), i + 1 >= v.length ? '' : v[i + 1]);
    return d;
  });
  def(m, 'get', 'map,string', (d: GoMap | null, key: string) => {
    const v = d ? mapGet(d, key) : undefined;
    return v === undefined ? '' : v;
  });
  def(m, 'set', 'map,string,any', (d: GoMap | null, key: string, value: unknown) => {
    if (!d) fail('assignment to entry in nil map');
    mapSet(d, key, value);
    return d;
  });
  def(m, 'unset', 'map,string', (d: GoMap | null, key: string) => {
    if (d) delete d[key];
    return d;
  });
  def(
    m,
    'hasKey',
    'map,string',
    (d: GoMap | null, key: string) => !!d && mapGet(d, key) !== undefined,
  );
  def(m, 'pluck', 'string,...map', (key: string, ...ds: (GoMap | null)[]) => {
    const res: unknown[] = [];
    for (const d of ds) {
      const v = d ? mapGet(d, key) : undefined;
      if (v !== undefined) res.push(v);
    }
    return res;
  });
  def(m, 'keys', '...map', (...ds: (GoMap | null)[]) => {
    const k: string[] = [];
    for (const d of ds) if (d) k.push(...sortedKeys(d));
    return typedSlice(k, 'string');
  });
  def(m, 'pick', 'map,...string', (d: GoMap | null, ...keys: string[]) => {
    const res = newMap();
    for (const k of keys) {
      const v = d ? mapGet(d, k) : undefined;
      if (v !== undefined) mapSet(res, k, v);
    }
    return res;
  });
  def(m, 'omit', 'map,...string', (d: GoMap | null, ...keys: string[]) => {
    const res = newMap();
    const drop = new Set(keys);
    if (d)
      for (const k of Object.keys(d)) if (!drop.has(k) && d[k] !== undefined) mapSet(res, k, d[k]);
    return res;
  });
  const merge =
    (overwrite: boolean) =>
    (dst: GoMap | null, ...srcs: (GoMap | null)[]): unknown => {
      const d = dst ?? newMap();
      for (const s of srcs) if (s) mergeMaps(d, s, overwrite);
      return d;
    };
  both(m, 'merge', 'map,...map', merge(false));
  both(m, 'mergeOverwrite', 'map,...map', merge(true));
  def(m, 'values', 'map', (d: GoMap | null) => (d ? sortedKeys(d).map((k) => d[k]) : []));
  both(m, 'deepCopy', 'any', (v: unknown) => {
    if (v === null || v === undefined) return null;
    return deepCopy(v);
  });
}
