import {
  executeGoTemplate,
  parseGoTemplate,
  renderFastTemplate,
  renderGoTemplate,
  type ExecuteOptions,
  type ParsedTemplate,
} from '../../templating/src/index.js';
import { goSprintV } from './go.js';
import { sharedConstant } from './shared.js';
import type { ParamSet } from './types.js';

/** How strings are templated: Argo's `spec.goTemplate` / `spec.goTemplateOptions`. */
export interface RenderMode {
  goTemplate: boolean;
  goTemplateOptions?: string[];
}

export type MissingKey = 'default' | 'zero' | 'error';

/**
 * Translates Argo's `goTemplateOptions` (Go `template.Option` strings) into the templating
 * library's options. Go panics on anything else; we throw.
 */
export function missingKeyFromOptions(options: readonly string[] | undefined): MissingKey {
  let mode: MissingKey = 'default';
  for (const opt of options ?? []) {
    switch (opt) {
      case 'missingkey=default':
      case 'missingkey=invalid':
        mode = 'default';
        break;
      case 'missingkey=zero':
        mode = 'zero';
        break;
      case 'missingkey=error':
        mode = 'error';
        break;
      default:
        throw new Error(
          `unrecognized goTemplateOptions entry ${JSON.stringify(opt)} (supported: missingkey=default, missingkey=invalid, missingkey=zero, missingkey=error)`,
        );
    }
  }
  return mode;
}

// fasttemplate only ever substitutes string parameters (Argo: `replaceMap[tag].(string)`).
const fastCache = new WeakMap<object, Record<string, string>>();

/** The parameters fasttemplate can see: the string-valued entries of the param set. */
export function fastParams(params: ParamSet): Record<string, string> {
  let out = fastCache.get(params);
  if (out) return out;
  let allStrings = true;
  for (const k in params) {
    if (typeof params[k] !== 'string') {
      allStrings = false;
      break;
    }
  }
  if (allStrings) out = params as Record<string, string>;
  else {
    out = {};
    for (const [k, v] of Object.entries(params)) if (typeof v === 'string') out[k] = v;
  }
  fastCache.set(params, out);
  return out;
}

const stringMapCache = new WeakMap<object, Record<string, string>>();

/** Argo's `ConvertToMapStringString`: every value formatted with Go's `%v`. */
export function toStringMap(params: ParamSet): Record<string, string> {
  let out = stringMapCache.get(params);
  if (!out) {
    out = fastParams(params);
    if (Object.keys(out).length !== Object.keys(params).length) {
      out = {};
      for (const [k, v] of Object.entries(params)) out[k] = goSprintV(v);
    }
    stringMapCache.set(params, out);
  }
  return out;
}

// Argo only runs fasttemplate on strings matching `.*{{.*}}.*` (no newline in between).
const FAST_TEMPLATED = /\{\{.*\}\}/;

/** A renderer for one mode; parses the options once. */
export class Renderer {
  readonly goTemplate: boolean;
  private readonly missingKey: MissingKey;
  private readonly execOptions: ExecuteOptions;

  constructor(mode: RenderMode) {
    this.goTemplate = mode.goTemplate;
    this.missingKey = missingKeyFromOptions(mode.goTemplateOptions);
    this.execOptions = { missingKey: this.missingKey };
  }

  /** Argo's `Render.Replace`. Throws the templating library's error on failure. */
  render(text: string, params: ParamSet): string {
    if (!text.includes('{{')) return text;
    if (this.goTemplate) return renderGoTemplate(text, params, { missingKey: this.missingKey });
    if (!FAST_TEMPLATED.test(text)) return text;
    return renderFastTemplate(text, fastParams(params));
  }

  /** {@link render} for a compiled string; a Go template is parsed once and kept on the node. */
  renderNode(node: StrNode, params: ParamSet): string {
    if (!this.goTemplate) return this.render(node.text, params);
    let t = node.parsed;
    if (t === undefined) {
      try {
        t = parseGoTemplate(node.text);
      } catch {
        t = null;
      }
      node.parsed = t;
    }
    // A template that does not parse: render() throws its (cached) parse error.
    if (t === null) return this.render(node.text, params);
    return executeGoTemplate(t, params, this.execOptions);
  }
}

/** A string of a compiled tree that contains `{{`. */
export interface StrNode {
  k: 'str';
  text: string;
  path: string;
  /** The Go template, parsed on first use in goTemplate mode (null: it does not parse). */
  parsed?: ParsedTemplate | null;
}

/** A JSON-like tree prepared for repeated rendering: only strings containing `{{` are templated. */
export type CompiledTree =
  | { k: 'const'; v: unknown; shared?: boolean }
  | StrNode
  | { k: 'arr'; items: CompiledTree[] }
  | { k: 'obj'; entries: { key: string; templatedKey: boolean; node: CompiledTree }[] };

export interface CompileOptions {
  /**
   * Render constant objects and arrays as one deep-frozen copy shared by every result (see
   * {@link sharedConstant}) instead of a fresh copy each time.
   */
  shareConstants?: boolean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Compiles a tree once; `path` is used to name the field in rendering errors. */
export function compileTree(tree: unknown, path = '', opts: CompileOptions = {}): CompiledTree {
  const compiled = compileNode(tree, path);
  return opts.shareConstants ? shareConstants(compiled) : compiled;
}

function compileNode(tree: unknown, path: string): CompiledTree {
  if (typeof tree === 'string')
    return tree.includes('{{') ? { k: 'str', text: tree, path } : { k: 'const', v: tree };
  if (Array.isArray(tree)) {
    const items = tree.map((v, i) => compileNode(v, `${path}[${i}]`));
    return items.every((n) => n.k === 'const') ? { k: 'const', v: tree } : { k: 'arr', items };
  }
  if (isPlainObject(tree)) {
    const entries = Object.entries(tree).map(([key, v]) => ({
      key,
      templatedKey: key.includes('{{'),
      node: compileNode(v, path ? `${path}.${key}` : key),
    }));
    return entries.every((e) => !e.templatedKey && e.node.k === 'const')
      ? { k: 'const', v: tree }
      : { k: 'obj', entries };
  }
  return { k: 'const', v: tree };
}

function shareConstants(node: CompiledTree): CompiledTree {
  switch (node.k) {
    case 'const':
      return typeof node.v === 'object' && node.v !== null
        ? { k: 'const', v: sharedConstant(node.v), shared: true }
        : node;
    case 'str':
      return node;
    case 'arr':
      return { k: 'arr', items: node.items.map(shareConstants) };
    case 'obj':
      return {
        k: 'obj',
        entries: node.entries.map((e) => ({ ...e, node: shareConstants(e.node) })),
      };
  }
}

/** Whether rendering can change anything. */
export function isTemplated(tree: CompiledTree): boolean {
  return tree.k !== 'const';
}

/** Deep copy of a JSON-like value (objects, arrays, primitives). */
export function cloneJson<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = cloneJson(v[k]);
    return out as T;
  }
  return v;
}

/** Error thrown while rendering a compiled tree; `field` names the templated field. */
export class TreeRenderError extends Error {
  constructor(
    readonly field: string,
    cause: unknown,
  ) {
    super(`${field ? `${field}: ` : ''}${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'TreeRenderError';
  }
}

/**
 * Renders a compiled tree with one param set. The result is a fresh object tree (constant parts
 * are copied), so callers may mutate it; except, when compiled with `shareConstants`, its constant
 * objects and arrays, which are shared and frozen.
 */
export function renderTree(tree: CompiledTree, params: ParamSet, renderer: Renderer): unknown {
  switch (tree.k) {
    case 'const':
      return tree.shared || typeof tree.v !== 'object' || tree.v === null
        ? tree.v
        : cloneJson(tree.v);
    case 'str':
      try {
        return renderer.renderNode(tree, params);
      } catch (e) {
        throw new TreeRenderError(tree.path, e);
      }
    case 'arr': {
      // No closure here: it would make every call allocate a context for params and renderer.
      const items = tree.items;
      const out = new Array<unknown>(items.length);
      for (let i = 0; i < items.length; i++) out[i] = renderTree(items[i], params, renderer);
      return out;
    }
    case 'obj': {
      const out: Record<string, unknown> = {};
      const entries = tree.entries;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        let key = e.key;
        if (e.templatedKey) {
          try {
            key = renderer.render(e.key, params);
          } catch (err) {
            throw new TreeRenderError(e.key, err);
          }
        }
        out[key] = renderTree(e.node, params, renderer);
      }
      return out;
    }
  }
}
