/** JSON / YAML encoding with Go's encoding/json and sigs.k8s.io/yaml conventions. */
import { parse as yamlParse } from 'yaml';
import { fail } from '../go/funcs.js';
import { formatFloat } from '../go/strconv.js';
import {
  GoNum,
  GoStruct,
  float64,
  goTypeOf,
  isGoMap,
  mapSet,
  newMap,
  sortedKeys,
  isGoInt,
} from '../go/values.js';
import { GoTime, formatTime } from './time.js';
import { goJsonSyntaxError } from './jsonerr.js';
import { JsonNumber, emitYAML, type JsonValue } from './yaml.js';

class UnsupportedValue extends Error {}

function jsonFloat(f: number): string {
  if (!Number.isFinite(f))
    throw new UnsupportedValue(`json: unsupported value: ${formatFloat(f, 'g', -1)}`);
  const abs = Math.abs(f);
  let fmt = 'f';
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) fmt = 'e';
  let s = formatFloat(f, fmt, -1);
  if (fmt === 'e') {
    const n = s.length;
    if (n >= 4 && s[n - 4] === 'e' && s[n - 3] === '-' && s[n - 2] === '0')
      s = s.slice(0, n - 2) + s.slice(n - 1);
  }
  return s;
}

// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
export function jsonString(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (
      c >= 0x20 &&
      c !== 0x22 &&
      c !== 0x5c &&
      c < 0x7f &&
      (!escapeHTML || (c !== 0x3c && c !== 0x3e && c !== 0x26))
    ) {
      out += s[i];
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
    }
    if (c < 0x20 || (escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))) {
      out += '\\u00' + c.toString(16).padStart(2, '0');
    } else if (c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += '\\ufffd';
    } else out += s[i];
  }
  return out + '"';
}

/** encoding/json Marshal (compact or indented). Throws UnsupportedValue like Go returns errors. */
// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
export function toJSON(
  v: unknown,
  escapeHTML: boolean,
  indent: string | null,
  prefix = '',
): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return jsonString(v, escapeHTML);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return isGoInt(v) ? String(v) : jsonFloat(v);
    case 'bigint':
    case 'symbol':
    case 'undefined':
    case 'object':
    case 'function':
    default:
  }
  if (v instanceof GoNum) return v.t.startsWith('float') ? jsonFloat(v.v) : String(v.v);
  if (v instanceof GoTime)
    return jsonString(formatTime(v, '2006-01-02T15:04:05.999999999Z07:00'), escapeHTML);
  if (v instanceof GoStruct) return v.goString ? jsonString(v.goString(), escapeHTML) : '{}';
  const inner = indent === null ? '' : prefix + indent;
  const nl = indent === null ? '' : '\n';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const parts = v.map((x) => inner + toJSON(x, escapeHTML, indent, inner));
    return '[' + nl + parts.join(',' + nl) + nl + (indent === null ? '' : prefix) + ']';
  }
  if (isGoMap(v)) {
    const keys = sortedKeys(v);
    if (keys.length === 0) return '{}';
    const sep = indent === null ? ':' : ': ';
    const parts = keys.map(
      (k) => inner + jsonString(k, escapeHTML) + sep + toJSON(v[k], escapeHTML, indent, inner),
    );
    return '{' + nl + parts.join(',' + nl) + nl + (indent === null ? '' : prefix) + '}';
  }
  throw new UnsupportedValue(`json: unsupported type: ${goTypeOf(v)}`);
}

export function marshalOrEmpty(v: unknown, escapeHTML: boolean, indent: string | null): string {
  try {
    return toJSON(v, escapeHTML, indent);
  } catch (e) {
    if (e instanceof UnsupportedValue) return '';
    throw e;
  }
}

/** Convert a JS value from JSON.parse / yaml into Go's interface{} shape (numbers → float64). */
export function fromJSValue(v: unknown, yamlNumbers = false): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
      return float64(yamlNumbers && v === 0 ? 0 : v); // YAML's -0 is the int 0 in Go
    case 'bigint':
      return float64(Number(v));
    case 'string':
    case 'boolean':
      return v;
    case 'symbol':
    case 'undefined':
    case 'object':
    case 'function':
    default:
  }
  if (Array.isArray(v)) return v.map((x) => fromJSValue(x, yamlNumbers));
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const m = newMap();
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      mapSet(m, k, fromJSValue(x, yamlNumbers));
    return m;
  }
  return null;
}

export function parseJSON(text: string): unknown {
  const syntax = goJsonSyntaxError(text);
  if (syntax !== undefined) fail(syntax);
  return fromJSValue(JSON.parse(text));
}

// ---- YAML (sigs.k8s.io/yaml: Go JSON first, then go-yaml v2 output) ----

/** The JSON document Go would produce, with numbers kept as their JSON literals. */
function toJsonValue(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return new JsonNumber(isGoInt(v) ? String(v) : jsonFloat(v));
    case 'bigint':
    case 'symbol':
    case 'undefined':
    case 'object':
    case 'function':
    default:
  }
  if (v instanceof GoNum)
    return new JsonNumber(v.t.startsWith('float') ? jsonFloat(v.v) : String(v.v));
  if (v instanceof GoTime) return formatTime(v, '2006-01-02T15:04:05.999999999Z07:00');
  if (v instanceof GoStruct) return v.goString ? v.goString() : {};
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (isGoMap(v)) {
    const out: Record<string, JsonValue> = Object.create(null) as Record<string, JsonValue>;
    for (const k of sortedKeys(v)) out[k] = toJsonValue(v[k]);
    return out;
  }
  throw new UnsupportedValue(`json: unsupported type: ${goTypeOf(v)}`);
}

export function toYAML(v: unknown): string {
  let doc: JsonValue;
  try {
    doc = toJsonValue(v);
  } catch (e) {
    if (e instanceof UnsupportedValue) fail(`error marshaling into JSON: ${e.message}`);
    throw e;
  }
  return emitYAML(doc).replace(/\n$/, '');
}

export function fromYAML(text: string, wantArray: boolean): unknown {
  let doc: unknown;
  try {
    doc = yamlParse(text, {
      version: '1.1',
      logLevel: 'error',
      merge: true,
      uniqueKeys: false,
      // yaml.v2 (through sigs.k8s.io/yaml) keeps timestamps and sexagesimal numbers as strings
      customTags: (tags) =>
        tags.filter(
          (t) =>
            typeof t !== 'object' ||
            (t.tag !== 'tag:yaml.org,2002:timestamp' && !('format' in t && t.format === 'TIME')),
        ),
    });
  } catch (e) {
    fail(
      `error converting YAML to JSON: yaml: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
    );
  }
  if (doc === null || doc === undefined) return wantArray ? [] : newMap();
  const nonFinite = findNonFinite(doc);
  if (nonFinite !== undefined) {
    fail(
      `error converting YAML to JSON: json: unsupported value: ${formatFloat(nonFinite, 'g', -1)}`,
    );
  }
  if (wantArray && !Array.isArray(doc)) {
    fail(
      `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${jsonKind(doc)} into Go value of type []interface {}`,
    );
  }
  if (!wantArray && (Array.isArray(doc) || typeof doc !== 'object')) {
    fail(
      `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${jsonKind(doc)} into Go value of type map[string]interface {}`,
    );
  }
  return fromJSValue(doc, true);
}

function findNonFinite(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : v;
  if (Array.isArray(v)) {
    for (const x of v) {
      const r = findNonFinite(x);
      if (r !== undefined) return r;
    }
  } else if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) {
      const r = findNonFinite(x);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    case 'bigint':
    case 'symbol':
    case 'undefined':
    case 'object':
    case 'function':
    default:
      return 'object';
  }
}
