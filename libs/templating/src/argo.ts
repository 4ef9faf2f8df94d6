/** Argo CD ApplicationSet extras: normalize/slugify/YAML functions, fasttemplate and param flattening. */
import { TemplateError } from './errors.js';
import { formatFloat, quote } from './go/strconv.js';
import { def, fail, type FuncContext, type FuncMap } from './go/funcs.js';
import { formatV } from './go/fmt.js';
import { goTypeOf, isGoMap, isGoInt } from './go/values.js';
import { fromYAML, toYAML } from './sprig/encoding.js';
import { trimSpace } from './sprig/strings.js';

/** Argo's SanitizeName (the `normalize` template function). */
export function sanitizeName(name: string): string {
  let s = name.toLowerCase().replace(/[^-a-z0-9.]/gu, '-');
  if (s.length > 253) s = s.slice(0, 253);
  return s.replace(/^[-.]+|[-.]+$/g, '');
}

/** Argo's SlugifyName: sanitize, then gosimple/slug with a max length and smart truncation. */
export function slugifyName(args: unknown[]): string {
  let maxSize = 50;
  let smart = true;
  let name = '';
  args.forEach((arg, idx) => {
    if (idx === args.length - 1) {
      if (typeof arg !== 'string')
        fail(
          `interface conversion: interface {} is ${goTypeOf(arg) === '<nil>' ? 'nil' : goTypeOf(arg)}, not string`,
        );
      name = arg;
    } else if (idx === 0) {
      if (typeof arg !== 'number' || !isGoInt(arg)) {
        fail(
          `interface conversion: interface {} is ${goTypeOf(arg) === '<nil>' ? 'nil' : goTypeOf(arg)}, not int`,
        );
      }
      maxSize = arg;
    } else if (idx === 1) {
      if (typeof arg !== 'boolean')
        fail(
          `interface conversion: interface {} is ${goTypeOf(arg) === '<nil>' ? 'nil' : goTypeOf(arg)}, not bool`,
        );
      smart = arg;
    }
  });
  let slug = sanitizeName(name).trim();
  if (!smart && slug.length >= maxSize) slug = slug.slice(0, Math.max(maxSize, 0));
  slug = slug.replace(/[^a-zA-Z0-9\-_]/g, '-').replace(/-+/g, '-');
  slug = slug.replace(/^[-_]+|[-_]+$/g, '');
  if (maxSize > 0 && smart && slug.length > maxSize) {
    let cut = -1;
    for (let i = maxSize; i >= 0; i--) {
      if (slug[i] === '-') {
        cut = i;
        break;
      }
    }
    slug = cut >= 0 ? slug.slice(0, cut) : slug.slice(0, maxSize);
  }
  return slug;
}

export function addArgoFuncs(m: FuncMap): void {
  def(m, 'normalize', 'string', sanitizeName);
  def(m, 'slugify', '...any', (...args: unknown[]) => slugifyName(args));
  def(m, 'toYaml', 'any', toYAML);
  def(m, 'fromYaml', 'string', (s: string) => fromYAML(s, false));
  def(m, 'fromYamlArray', 'string', (s: string) => fromYAML(s, true));
  def(m, 'tpl', 'string,any', function (this: FuncContext, text: string, vals: unknown) {
    return this.tpl(text, vals);
  });
}

const isTemplatedRe = /.*\{\{.*\}\}.*/;

/**
 * Argo CD's default (fasttemplate) rendering: `{{ name }}` is replaced by the string parameter `name`;
 * tags with no such string parameter are left untouched.
 */
export function renderFastTemplate(text: string, params: Record<string, unknown>): string {
  if (!isTemplatedRe.test(text)) return text;
  let out = '';
  let s = text;
  for (;;) {
    const n = s.indexOf('{{');
    if (n < 0) {
      out += s;
      break;
    }
    out += s.slice(0, n);
    s = s.slice(n + 2);
    const e = s.indexOf('}}');
    if (e < 0) {
      throw new TemplateError(
        `invalid template: Cannot find end tag="}}" in the template=${quote(text)} starting from ${quote(s)}`,
        'parse',
        '',
      );
    }
    const tag = s.slice(0, e);
    s = s.slice(e + 2);
    const key = trimSpace(tag);
    const v =
      key.length > 0 && Object.prototype.hasOwnProperty.call(params, key) ? params[key] : undefined;
    out += typeof v === 'string' ? v : '{{' + tag + '}}';
  }
  return out;
}

/** fmt %v of a value decoded from JSON/YAML by Go (numbers are float64). */
function argoString(v: unknown): string {
  if (typeof v === 'number') return formatFloat(v, 'g', -1).replace(/^\+/, '');
  return formatV(v === undefined ? null : v);
}

/**
 * Flatten nested params the way Argo's generators do in fasttemplate mode
 * (github.com/jeremywohl/flatten, DotStyle, then fmt.Sprintf("%v")): nested maps and arrays become
 * `a.b.c` / `a.0` keys; empty maps and arrays disappear; numbers print as Go float64 (`1e+06`).
 */
export function flattenParams(params: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const walk = (prefix: string, v: unknown, top: boolean): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => assign(top ? String(i) : `${prefix}.${i}`, x));
    } else if (isGoMap(v)) {
      for (const k of Object.keys(v)) assign(top ? k : `${prefix}.${k}`, v[k]);
    }
  };
  const assign = (key: string, v: unknown): void => {
    if (Array.isArray(v) || isGoMap(v)) walk(key, v, false);
    else out[key] = argoString(v);
  };
  walk('', params, true);
  return out;
}
