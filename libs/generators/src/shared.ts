/**
 * Constant parts of a template (e.g. a `syncPolicy` without any `{{`) are the same in every
 * Application rendered from it. Instead of copying them into each, they are shared: deep-frozen
 * copies, so that nobody can change one Application through another, registered with their JSON,
 * which the Application spec hash reuses instead of serialising them again for every Application.
 */

const jsonOfShared = new WeakMap<object, string>();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function frozenCopy(v: unknown): unknown {
  if (Array.isArray(v)) return Object.freeze(v.map(frozenCopy));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = frozenCopy(v[k]);
    return Object.freeze(out);
  }
  return v;
}

/**
 * A deep-frozen copy of a JSON-like value (objects and arrays are copied as plain ones, like
 * `cloneJson`), to be shared by everything built from it. Primitives are returned as they are.
 */
export function sharedConstant<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  const copy = frozenCopy(v) as T & object;
  jsonOfShared.set(copy, JSON.stringify(copy));
  return copy;
}

/** `JSON.stringify(v)` when `v` was made by {@link sharedConstant}, else undefined. */
export function sharedConstantJson(v: object): string | undefined {
  return jsonOfShared.get(v);
}
