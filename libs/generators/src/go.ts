/**
 * Small ports of the Go standard library behaviour Argo CD relies on, so that parameters come out
 * byte-for-byte like Argo's: `path.Clean/Dir/Base`, `fmt.Sprintf("%v")`, Argo's `SanitizeName`
 * and `github.com/jeremywohl/flatten` (dot style).
 */

/** Go `path.Clean`. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
      continue;
    }
    parts.push(seg);
  }
  const out = (rooted ? '/' : '') + parts.join('/');
  return out === '' ? '.' : out;
}

/** Go `path.Base`. */
export function basePath(p: string): string {
  if (p === '') return '.';
  let s = p;
  while (s.length > 0 && s.endsWith('/')) s = s.slice(0, -1);
  if (s === '') return '/';
  const i = s.lastIndexOf('/');
  return i >= 0 ? s.slice(i + 1) : s;
}

/** Go `path.Dir`. */
export function dirPath(p: string): string {
  const i = p.lastIndexOf('/');
  return cleanPath(p.slice(0, i + 1));
}

const INVALID_DNS_CHARS = /[^-a-z0-9.]/gu;

/**
 * Argo's `utils.SanitizeName` (used for `nameNormalized`, `path.basenameNormalized`, the `normalize`
 * template function): lower-case, every rune outside `[-a-z0-9.]` becomes `-`, at most 253
 * characters, leading/trailing `-` and `.` trimmed.
 */
export function sanitizeName(name: string): string {
  let s = name.toLowerCase().replace(INVALID_DNS_CHARS, '-');
  if (s.length > 253) s = s.slice(0, 253);
  let start = 0;
  let end = s.length;
  while (start < end && (s[start] === '-' || s[start] === '.')) start++;
  while (end > start && (s[end - 1] === '-' || s[end - 1] === '.')) end--;
  return s.slice(start, end);
}

/** `strconv.FormatFloat(f, 'g', -1, 64)`, which is what `%v` prints for a float64. */
export function formatGoFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  // Shortest digits; Go uses the exponent form when exp < -4 || exp >= 6 (precision 6 is used for
  // the decision when formatting with the shortest representation).
  const [mant, e] = n.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  return String(n);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `fmt.Sprintf("%v", v)` for JSON-like values (numbers are float64, as after Go's json.Unmarshal). */
export function goSprintV(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatGoFloat(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goSprintV).join(' ')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goSprintV(v[k])}`).join(' ')}]`;
  }
  return typeof v === 'symbol' ? v.toString() : typeof v;
}

/**
 * `flatten.Flatten(obj, "", flatten.DotStyle)` from github.com/jeremywohl/flatten, as used by the
 * git files generator in fasttemplate mode: nested keys joined with `.`, list items by index,
 * empty maps and lists disappear. Values are returned unformatted.
 */
export function flattenDotStyle(obj: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (value: unknown, prefix: string, top: boolean): void => {
    const assign = (key: string, v: unknown): void => {
      const k = top ? key : `${prefix}.${key}`;
      if (isPlainObject(v) || Array.isArray(v)) walk(v, k, false);
      else out.set(k, v);
    };
    if (Array.isArray(value)) value.forEach((v, i) => assign(String(i), v));
    else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) assign(k, v);
  };
  walk(obj, '', true);
  return out;
}
