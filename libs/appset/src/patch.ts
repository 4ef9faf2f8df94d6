import { parse as parseYaml } from 'yaml';
import { yamlOptions } from '../../generators/src/index.js';

/**
 * `spec.templatePatch`, applied the way Argo CD's `applyTemplatePatch` does: the rendered patch is
 * YAML or JSON; a list is an RFC 6902 JSON patch ("json+patch"), a map a strategic merge patch
 * against the Application type. Argo's Application types carry no list merge keys, so the strategic
 * merge behaves like an RFC 7386 merge patch (maps merge, `null` deletes, lists are replaced) except
 * for `metadata.finalizers`, which ObjectMeta merges as a set. `$patch: replace|delete` directives are
 * honoured. `spec.project` cannot be changed by a patch.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parsePatch(text: string): Json {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as Json;
    } catch {
      // fall through: YAML flow style is a superset of JSON
    }
  }
  return parseYaml(text, yamlOptions) as Json;
}

export function applyTemplatePatch(app: JsonObject, patchText: string): JsonObject {
  const patch = parsePatch(patchText) as Json | undefined;
  // A patch that renders to nothing (`{{- if .x }}…{{- end }}` with x false) or to `null` is
  // a no-op, as in Argo CD (YAML `null` unmarshals to an empty patch map).
  if (patch === null || patch === undefined) return app;
  let result: Json;
  if (Array.isArray(patch)) result = applyJsonPatch(app, patch);
  else if (isObject(patch)) result = strategicMerge(app, patch, []) ?? {};
  else
    throw new Error('invalid templatePatch: expected a map (merge patch) or a list (JSON patch)');
  if (!isObject(result))
    throw new Error('invalid templatePatch: the patched Application is not an object');
  // Prevent changes to the project (as Argo CD does). `app` is not modified: a spec the patch did
  // not touch is still app's own (possibly frozen) one, whose project is already right.
  const origSpec = app.spec;
  const newSpec = result.spec;
  if (isObject(origSpec)) {
    if (!isObject(newSpec)) result.spec = { project: origSpec.project ?? '' };
    else if (newSpec === origSpec) return result;
    else if (origSpec.project === undefined) delete newSpec.project;
    else newSpec.project = origSpec.project;
  }
  return result;
}

function strategicMerge(orig: Json | undefined, patch: Json, path: string[]): Json | undefined {
  if (!isObject(patch)) return patch;
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const { $patch: _drop, ...rest } = patch;
    return rest;
  }
  const out: JsonObject = isObject(orig) ? { ...orig } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch') continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const current = out[field];
      if (Array.isArray(current) && Array.isArray(value)) {
        const remove = new Set(value.map((v) => JSON.stringify(v)));
        out[field] = current.filter((v) => !remove.has(JSON.stringify(v)));
      }
      continue;
    }
    if (key.startsWith('$')) continue; // $setElementOrder, $retainKeys: no effect without merge keys
    if (value === null) {
      delete out[key];
      continue;
    }
    const childPath = [...path, key];
    if (
      childPath.length === 2 &&
      childPath[0] === 'metadata' &&
      key === 'finalizers' &&
      Array.isArray(value)
    ) {
      const current = Array.isArray(out[key]) ? out[key] : [];
      const seen = new Set(current.map((v) => JSON.stringify(v)));
      const merged = [...current];
      for (const v of value) if (!seen.has(JSON.stringify(v))) merged.push(v);
      out[key] = merged;
      continue;
    }
    const merged = strategicMerge(out[key], value, childPath);
    if (merged === undefined) delete out[key];
    else out[key] = merged;
  }
  return out;
}

// --- RFC 6902 ---------------------------------------------------------------------------------

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function clone<T extends Json>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function getAt(doc: Json, tokens: string[], pointer: string): Json {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^(0|[1-9]\d*)$/.test(t) || i >= cur.length)
        throw new Error(`path ${pointer} does not exist`);
      cur = cur[i]!;
    } else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t]!;
    else throw new Error(`path ${pointer} does not exist`);
  }
  return cur;
}

function parentOf(doc: Json, tokens: string[], pointer: string): { parent: Json; key: string } {
  if (tokens.length === 0) throw new Error(`cannot operate on the document root (${pointer})`);
  return { parent: getAt(doc, tokens.slice(0, -1), pointer), key: tokens[tokens.length - 1] };
}

function addAt(doc: Json, pointer: string, value: Json): Json {
  const tokens = decodePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!/^(0|[1-9]\d*)$/.test(key) && key !== '-')
      throw new Error(`invalid array index in ${pointer}`);
    if (i > parent.length) throw new Error(`array index out of range in ${pointer}`);
    parent.splice(i, 0, value);
  } else if (isObject(parent)) parent[key] = value;
  else throw new Error(`path ${pointer} does not exist`);
  return doc;
}

function removeAt(doc: Json, pointer: string): Json {
  const tokens = decodePointer(pointer);
  const { parent, key } = parentOf(doc, tokens, pointer);
  getAt(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (isObject(parent)) delete parent[key];
  return doc;
}

function applyJsonPatch(app: JsonObject, ops: Json[]): Json {
  let doc: Json = clone(app);
  ops.forEach((raw, n) => {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw new Error(`invalid JSON patch operation #${n}: needs "op" and "path"`);
    const { op, path } = raw;
    const value = raw.value === undefined ? undefined : clone(raw.value);
    switch (op) {
      case 'add':
        if (value === undefined) throw new Error(`JSON patch operation #${n} (add) needs a value`);
        doc = addAt(doc, path, value);
        break;
      case 'remove':
        doc = removeAt(doc, path);
        break;
      case 'replace':
        if (value === undefined)
          throw new Error(`JSON patch operation #${n} (replace) needs a value`);
        getAt(doc, decodePointer(path), path);
        if (path === '') doc = value;
        else doc = addAt(removeAt(doc, path), path, value);
        break;
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string')
          throw new Error(`JSON patch operation #${n} (${op}) needs "from"`);
        const v = clone(getAt(doc, decodePointer(raw.from), raw.from));
        if (op === 'move') doc = removeAt(doc, raw.from);
        doc = addAt(doc, path, v);
        break;
      }
      case 'test': {
        const actual = getAt(doc, decodePointer(path), path);
        if (JSON.stringify(actual) !== JSON.stringify(value ?? null))
          throw new Error(`JSON patch test failed at ${path}`);
        break;
      }
      default:
        throw new Error(`invalid JSON patch operation #${n}: unknown op ${JSON.stringify(op)}`);
    }
  });
  return doc;
}
