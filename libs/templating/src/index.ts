/**
 * Argo CD ApplicationSet templating: Go text/template (+ sprig + Argo extras) and fasttemplate.
 * Pure library: no I/O, no framework.
 */
import { renderFastTemplate as fastTemplate } from './argo.js';
import { TemplateError } from './errors.js';
import {
  defaultLimits,
  execute,
  ParsedTemplate,
  type MissingKey,
  type TemplateLimits,
} from './go/exec.js';
import { parseTemplate } from './go/parser.js';
import { GoNum } from './go/values.js';
import { argoFuncs } from './funcmap.js';

export { TemplateError, type TemplatePosition, type TemplateErrorKind } from './errors.js';
export { ParsedTemplate, defaultLimits, type TemplateLimits } from './go/exec.js';
export { flattenParams, sanitizeName, slugifyName } from './argo.js';
export { CLOCK_AND_CHANCE_FUNCTIONS, IMPURE_FUNCTIONS, impureCalls } from './funcmap.js';

export type TemplateParams = Record<string, unknown>;

/**
 * Data decoded from JSON or YAML as Go's `encoding/json` decodes it into `interface{}`: every
 * number a float64 (Argo CD hands generator parameters to templates this way, so `{{.n}}` of
 * 1000000 prints `1e+06` and `eq .n 0` is an error). Maps and lists are copied; the rest is kept.
 */
export function jsonNumbers<T>(value: T): T {
  return convertNumbers(value, 0) as T;
}

function convertNumbers(v: unknown, depth: number): unknown {
  if (typeof v === 'number') return new GoNum('float64', v);
  if (depth > 100 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => convertNumbers(x, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    Object.defineProperty(out, k, {
      value: convertNumbers(x, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

export interface GoTemplateOptions {
  /** Go's Option("missingkey=..."): `default` (and its alias `invalid`) prints "<no value>". */
  missingKey?: 'default' | 'zero' | 'error';
}

export interface ExecuteOptions extends GoTemplateOptions {
  limits?: Partial<TemplateLimits>;
}

export interface RenderOptions extends ExecuteOptions {
  /** Template name used in error messages (Argo uses ""). */
  name?: string;
}

const hasFunction = (name: string): boolean => argoFuncs.has(name);

/** Parse once, execute many times. Throws TemplateError on syntax errors. */
export function parseGoTemplate(text: string, name = ''): ParsedTemplate {
  const trees = parseTemplate(name, text, hasFunction);
  return new ParsedTemplate(name, text, trees, argoFuncs);
}

function limitsOf(l: Partial<TemplateLimits> | undefined): TemplateLimits {
  if (!l) return defaultLimits;
  // Complete limits are used as they are (a renderer keeps one object and moves its deadline).
  if (
    typeof l.maxOutputBytes === 'number' &&
    typeof l.maxSteps === 'number' &&
    typeof l.maxDepth === 'number'
  )
    return l as TemplateLimits;
  return { ...defaultLimits, ...l };
}

/** Execute a parsed template against data with Go text/template semantics. */
export function executeGoTemplate(
  t: ParsedTemplate,
  data: unknown,
  opts: ExecuteOptions = {},
): string {
  return execute(t, data, opts.missingKey ?? 'default', limitsOf(opts.limits));
}

/** Parse and execute a Go template. */
export function renderGoTemplate(text: string, data: unknown, opts: RenderOptions = {}): string {
  return executeGoTemplate(cachedParse(text, opts.name ?? ''), data, opts);
}

/** Argo CD's default fasttemplate mode: replaces `{{param}}` / `{{ param }}`; unknown tags stay. */
export function renderFastTemplate(text: string, params: Record<string, string>): string {
  return fastTemplate(text, params);
}

// ---- parse cache (templates in an ApplicationSet are rendered for every generated app) ----
const CACHE_MAX = 10_000;
const parseCache = new Map<string, ParsedTemplate | TemplateError>();

function cachedParse(text: string, name: string): ParsedTemplate {
  const key = name === '' ? text : name + '\u0000' + text;
  let t = parseCache.get(key);
  if (t === undefined) {
    try {
      t = parseGoTemplate(text, name);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      t = e;
    }
    if (parseCache.size >= CACHE_MAX) parseCache.delete(parseCache.keys().next().value!);
    parseCache.set(key, t);
  }
  if (t instanceof TemplateError) {
    throw new TemplateError(t.message, t.kind, t.templateName, t.position);
  }
  return t;
}

/** Parse Argo's goTemplateOptions (e.g. ["missingkey=error"]). */
export function parseGoTemplateOptions(options: readonly string[] | undefined): GoTemplateOptions {
  const out: GoTemplateOptions = {};
  for (const opt of options ?? []) {
    const eq = opt.indexOf('=');
    if (eq < 0) throw new TemplateError(`unrecognized option: ${opt}`, 'parse', '');
    const key = opt.slice(0, eq);
    const value = opt.slice(eq + 1);
    if (key !== 'missingkey') throw new TemplateError(`unrecognized option: ${opt}`, 'parse', '');
    switch (value) {
      case 'invalid':
      case 'default':
        out.missingKey = 'default';
        break;
      case 'zero':
        out.missingKey = 'zero';
        break;
      case 'error':
        out.missingKey = 'error';
        break;
      default:
        throw new TemplateError(`unrecognized option: ${opt}`, 'parse', '');
    }
  }
  return out;
}

export interface TreeOptions {
  goTemplate: boolean;
  goTemplateOptions?: string[];
  /** Template name for Go-mode error messages (Argo uses ""). */
  name?: string;
  limits?: Partial<TemplateLimits>;
}

/**
 * Render every string (and every map key) inside an object tree, as Argo renders an Application
 * template. Non-string leaves are copied. Errors carry `.path` (e.g. `spec.source.path`).
 */
export function renderTemplateTree<T>(tree: T, params: TemplateParams, opts: TreeOptions): T {
  const go = parseGoTemplateOptions(opts.goTemplateOptions);
  const limits = limitsOf(opts.limits);
  const name = opts.name ?? '';
  const render = opts.goTemplate
    ? (s: string): string =>
        s.includes('{{')
          ? execute(cachedParse(s, name), params, go.missingKey ?? 'default', limits)
          : s
    : (s: string): string => fastTemplate(s, params);
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      try {
        return render(v);
      } catch (e) {
        if (e instanceof TemplateError && e.path === undefined) e.path = path;
        throw e;
      }
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const childPath = path ? `${path}.${k}` : k;
        const key = walk(k, childPath) as string;
        Object.defineProperty(out, key, {
          value: walk(x, childPath),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return v;
  };
  return walk(tree, '') as T;
}

export type { MissingKey };
