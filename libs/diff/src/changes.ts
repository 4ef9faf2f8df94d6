import { formatJsonPointer } from './json-pointer.js';

/** One field that differs between two versions of an object: JSON values, "" when absent. */
export interface FieldChange {
  path: string;
  from: string;
  to: string;
}

const MAX_VALUE_CHARS = 200;

/**
 * The fields that differ between `a` and `b` (JSON values), as JSON pointers to the deepest
 * objects where they differ; arrays that differ are one change. At most `limit` are returned,
 * in document order; `total` counts them all.
 */
export function fieldChanges(
  a: unknown,
  b: unknown,
  limit = 20,
): { changes: FieldChange[]; total: number } {
  const changes: FieldChange[] = [];
  let total = 0;
  const walk = (x: unknown, y: unknown, path: string[]) => {
    if (isObject(x) && isObject(y)) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)]))
        walk(x[k], y[k], [...path, k]);
      return;
    }
    if (JSON.stringify(x) === JSON.stringify(y)) return;
    total++;
    if (changes.length < limit)
      changes.push({ path: formatJsonPointer(path), from: encode(x), to: encode(y) });
  };
  walk(a, b, []);
  return { changes, total };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function encode(v: unknown): string {
  if (v === undefined) return '';
  const s = JSON.stringify(v);
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}
