/**
 * The subset of github.com/imdario/mergo semantics Argo CD relies on, for plain JSON-like maps
 * (`map[string]interface{}` in Go):
 *
 * - `mergoMerge(dst, src, false)` (`mergo.Merge`): a key of `src` is copied when `dst` lacks it or
 *   holds an "empty" value (`""`, `0`, `false`, `null`, `[]`, `{}`); nested maps are merged
 *   recursively; `null` in `src` is skipped.
 * - `mergoMerge(dst, src, true)` (`mergo.WithOverride`): every key of `src` replaces `dst`, except
 *   that a nested map merges into a nested map and a map never replaces a non-empty non-map.
 *
 * Unlike Go (which mutates nested maps shared with the inputs), nested maps are copied before being
 * modified, so inputs are never changed. `dst` itself is modified in place.
 */

type Obj = Record<string, unknown>;

function isMap(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go reflect zero-ness as mergo's `isEmptyValue` sees it (through interfaces). */
export function isGoEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v === 'string') return v.length === 0;
  if (typeof v === 'number') return v === 0;
  if (typeof v === 'boolean') return !v;
  if (Array.isArray(v)) return v.length === 0;
  if (isMap(v)) {
    for (const _ in v) return false;
    return true;
  }
  return false;
}

export function mergoMerge(dst: Obj, src: Obj, overwrite: boolean): Obj {
  for (const key of Object.keys(src)) {
    const sv = src[key];
    if (sv === undefined) continue;
    const dHas = Object.prototype.hasOwnProperty.call(dst, key);
    const dv = dHas ? dst[key] : undefined;
    if (sv === null) {
      if (overwrite) dst[key] = null;
      continue;
    }
    if (isMap(sv)) {
      if (isMap(dv)) {
        const wasEmpty = isGoEmpty(dv);
        const merged = mergoMerge({ ...dv }, sv, overwrite);
        dst[key] = wasEmpty && isGoEmpty(merged) ? sv : merged;
        continue;
      }
      if (dHas && !isGoEmpty(dv)) continue;
      dst[key] = sv;
      continue;
    }
    if (Array.isArray(sv)) {
      if (overwrite || !dHas || isGoEmpty(dv)) dst[key] = sv;
      continue;
    }
    if (overwrite || !dHas || isGoEmpty(dv)) dst[key] = sv;
  }
  return dst;
}
