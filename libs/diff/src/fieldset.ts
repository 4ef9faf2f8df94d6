/**
 * Server-side apply field sets (`metadata.managedFields[].fieldsV1`).
 *
 * A field set is a trie whose keys say how to step into the object:
 * - `f:<name>`   a field of a map (`f:spec`, `f:replicas`);
 * - `k:<json>`   an item of an associative list, found by its key fields (`k:{"name":"web"}`);
 * - `v:<json>`   an item of a set-like list of scalars, found by value;
 * - `i:<index>`  an item of a list by position (rare);
 * - `.`          the node itself (a map or list item whose existence is owned).
 * A node without children other than `.` is a leaf: its whole value is owned.
 */
export interface FieldSet {
  [key: string]: FieldSet;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  fieldsType?: string;
  fieldsV1?: unknown;
  subresource?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates untrusted JSON as a field set (anything that is not a nested map is dropped). */
export function toFieldSet(v: unknown): FieldSet {
  const out: FieldSet = {};
  if (!isRecord(v)) return out;
  for (const [k, child] of Object.entries(v)) out[k] = toFieldSet(child);
  return out;
}

export function unionFieldSets(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { ...a };
  for (const [k, child] of Object.entries(b))
    out[k] = k in out ? unionFieldSets(out[k], child) : child;
  return out;
}

export function managedFieldsOf(obj: unknown): ManagedFieldsEntry[] {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return [];
  const mf = obj.metadata.managedFields;
  return Array.isArray(mf) ? mf.filter(isRecord) : [];
}

/**
 * The fields `managers` own in `obj` (union over their entries, status subresource excluded).
 * With `apiVersion`, entries recorded for that version are preferred when there are any.
 * Undefined when none of the managers has an entry.
 */
export function fieldsOwnedBy(
  obj: unknown,
  managers: readonly string[],
  apiVersion?: string,
): FieldSet | undefined {
  let entries = managedFieldsOf(obj).filter(
    (e) =>
      typeof e.manager === 'string' &&
      managers.includes(e.manager) &&
      !e.subresource &&
      (e.fieldsType === undefined || e.fieldsType === 'FieldsV1'),
  );
  if (apiVersion && entries.some((e) => e.apiVersion === apiVersion)) {
    entries = entries.filter((e) => e.apiVersion === apiVersion);
  }
  if (entries.length === 0) return undefined;
  return entries.reduce<FieldSet>((acc, e) => unionFieldSets(acc, toFieldSet(e.fieldsV1)), {});
}

/** Whether a node owns its whole value (no children except `.`). */
export function isLeaf(node: FieldSet): boolean {
  for (const k in node) if (k !== '.') return false;
  return true;
}

/** The field set a plain object would have if applied whole: every map key, lists atomic. */
export function fieldSetOfObject(obj: unknown): FieldSet {
  const out: FieldSet = {};
  if (!isRecord(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    out[`f:${k}`] = isRecord(v) && Object.keys(v).length > 0 ? fieldSetOfObject(v) : {};
  }
  return out;
}
