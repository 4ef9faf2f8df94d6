import { isLeaf, type FieldSet } from './fieldset.js';
import { formatJsonPointer, removeAtPointer } from './json-pointer.js';

/** One field that differs: a JSON pointer and both values JSON-encoded ("" = absent). */
export interface FieldDiff {
  path: string;
  desired: string;
  live: string;
}

export interface DiffOptions {
  /** JSON pointers removed from both sides before comparing (ignoreDifferences.jsonPointers). */
  ignorePointers?: readonly string[];
  /** Fields owned by ignored managers in the live object (ignoreDifferences.managedFieldsManagers). */
  ignoreFields?: FieldSet;
  /** Replace values under /data and /stringData (Secrets) by a marker. */
  redact?: boolean;
  /** Most diffs returned (the count of all of them is returned too). Default 20. */
  maxDiffs?: number;
  /** Longest encoded value; longer ones are cut and end with "…". Default 512. */
  maxValueChars?: number;
}

export interface DiffResult {
  diffs: FieldDiff[];
  /** All differing fields, including those left out of `diffs`. */
  total: number;
}

type Json = unknown;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isRecord(a)) {
    if (!isRecord(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * Compares the fields a field manager owns: `expected` is the object as the API server returned
 * it after the manager's apply (or a dry run of it), `owned` the manager's field set in it, `live`
 * the object now. Only owned fields count, so values other controllers set, defaults and status
 * never show up as differences; an owned field someone else changed or removed does.
 */
export function diffOwnedFields(
  expected: Json,
  live: Json,
  owned: FieldSet,
  opts: DiffOptions = {},
): DiffResult {
  let e = expected;
  let l = live;
  if (opts.ignorePointers?.length) {
    e = structuredClone(expected);
    l = structuredClone(live);
    for (const p of opts.ignorePointers) {
      try {
        removeAtPointer(e, p);
        removeAtPointer(l, p);
      } catch {
        // a malformed pointer ignores nothing
      }
    }
  }
  const found: { path: string[]; desired: Json; live: Json }[] = [];
  walk(owned, e, l, [], opts.ignoreFields, found);
  const max = opts.maxDiffs ?? 20;
  const maxChars = opts.maxValueChars ?? 512;
  const diffs = found.slice(0, max).map((d) => {
    const redacted = opts.redact && (d.path[0] === 'data' || d.path[0] === 'stringData');
    return {
      path: formatJsonPointer(d.path),
      desired: redacted ? redactValue(d.desired, false) : encode(d.desired, maxChars),
      live: redacted ? redactValue(d.live, true) : encode(d.live, maxChars),
    };
  });
  return { diffs, total: found.length };
}

function encode(v: Json, maxChars: number): string {
  if (v === undefined) return '';
  const s = JSON.stringify(v);
  return s.length > maxChars ? `${s.slice(0, maxChars - 1)}…` : s;
}

function redactValue(v: Json, live: boolean): string {
  if (v === undefined) return '';
  return JSON.stringify(live ? '<redacted, differs>' : '<redacted>');
}

interface Step {
  segment: string;
  desired: Json;
  live: Json;
}

/** Steps from `e`/`l` into the child a field-set key names. */
function stepInto(key: string, e: Json, l: Json): Step | undefined {
  const kind = key.slice(0, 2);
  const rest = key.slice(2);
  switch (kind) {
    case 'f:':
      return {
        segment: rest,
        desired: isRecord(e) ? e[rest] : undefined,
        live: isRecord(l) ? l[rest] : undefined,
      };
    case 'k:': {
      const keys = parseKey(rest);
      if (!keys) return undefined;
      const ei = findItem(e, (x) => matchesKeys(x, keys));
      const li = findItem(l, (x) => matchesKeys(x, keys));
      return itemStep(e, l, ei, li);
    }
    case 'v:': {
      const value = parseKey(rest, true);
      if (value === undefined) return undefined;
      const ei = findItem(e, (x) => deepEqual(x, value));
      const li = findItem(l, (x) => deepEqual(x, value));
      return itemStep(e, l, ei, li);
    }
    case 'i:': {
      const i = Number(rest);
      if (!Number.isInteger(i) || i < 0) return undefined;
      return {
        segment: String(i),
        desired: Array.isArray(e) ? (e[i] as Json) : undefined,
        live: Array.isArray(l) ? (l[i] as Json) : undefined,
      };
    }
    default:
      return undefined;
  }
}

function itemStep(e: Json, l: Json, ei: number, li: number): Step {
  return {
    // The pointer uses the item's index in the desired object, else in the live one.
    segment: String(ei >= 0 ? ei : li),
    desired: ei >= 0 ? (e as Json[])[ei] : undefined,
    live: li >= 0 ? (l as Json[])[li] : undefined,
  };
}

function parseKey(text: string, anyValue = false): Json {
  try {
    const v = JSON.parse(text) as Json;
    return anyValue || isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function findItem(list: Json, pred: (x: Json) => boolean): number {
  return Array.isArray(list) ? list.findIndex(pred) : -1;
}

function matchesKeys(item: Json, keys: Json): boolean {
  if (!isRecord(item) || !isRecord(keys)) return false;
  return Object.entries(keys).every(([k, v]) => deepEqual(item[k], v));
}

function walk(
  owned: FieldSet,
  e: Json,
  l: Json,
  path: string[],
  ignored: FieldSet | undefined,
  out: { path: string[]; desired: Json; live: Json }[],
): void {
  for (const key of Object.keys(owned).sort()) {
    if (key === '.') continue;
    const child = owned[key];
    const ignoredChild = ignored?.[key];
    // Fields an ignored manager owns whole are not compared.
    if (ignoredChild && isLeaf(ignoredChild)) continue;
    const s = stepInto(key, e, l);
    if (!s) continue;
    const p = [...path, s.segment];
    if (isLeaf(child)) {
      // `k:{…}: {".": {}}` owns only the item's existence; other leaves own the whole value.
      const existenceOnly = '.' in child && key.startsWith('k:');
      const differs = existenceOnly
        ? (s.desired === undefined) !== (s.live === undefined)
        : !deepEqual(s.desired, s.live);
      if (differs) out.push({ path: p, desired: s.desired, live: s.live });
      continue;
    }
    if (s.desired === undefined && s.live === undefined) continue;
    if (s.desired === undefined || s.live === undefined) {
      out.push({ path: p, desired: project(child, s.desired), live: project(child, s.live) });
      continue;
    }
    walk(child, s.desired, s.live, p, ignoredChild, out);
  }
}

/** The part of `value` a field set covers (for reporting a whole missing subtree). */
export function project(fs: FieldSet, value: Json): Json {
  if (value === undefined || isLeaf(fs)) return value;
  if (Array.isArray(value)) {
    const items: Json[] = [];
    for (const key of Object.keys(fs)) {
      const s = stepInto(key, value, undefined);
      if (s && s.desired !== undefined) items.push(project(fs[key], s.desired));
    }
    return items;
  }
  if (!isRecord(value)) return value;
  const out: Record<string, Json> = {};
  for (const key of Object.keys(fs)) {
    if (!key.startsWith('f:')) continue;
    const name = key.slice(2);
    if (value[name] !== undefined) out[name] = project(fs[key], value[name]);
  }
  return out;
}
