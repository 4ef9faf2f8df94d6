import {
  executeGoTemplate,
  jsonNumbers,
  parseGoTemplate,
  renderFastTemplate,
  renderGoTemplate,
  defaultLimits,
  type ExecuteOptions,
  type TemplateLimits,
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

const goDataCache = new WeakMap<object, { source: ParamSet; data: ParamSet }>();

/**
 * Parameters as Go templates see them in Argo CD: decoded from JSON, so every number is a
 * float64 (`{{.n}}` of 1000000 prints `1e+06`, `eq .n 0` is an error). Converted once per
 * parameter set, and again if the set changed since (generators add `values` after rendering
 * them with the set).
 */
function goData(params: ParamSet): ParamSet {
  const cached = goDataCache.get(params);
  if (cached && sameEntries(cached.source, params)) return cached.data;
  const data = toGoData(params);
  goDataCache.set(params, { source: { ...params }, data });
  return data;
}

function toGoData(params: ParamSet): ParamSet {
  return hasNumber(params, 0) ? jsonNumbers(params) : params;
}

function sameEntries(a: ParamSet, b: ParamSet): boolean {
  let n = 0;
  for (const k in b) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return n === Object.keys(a).length;
}

function hasNumber(v: unknown, depth: number): boolean {
  if (typeof v === 'number') return true;
  if (depth > 100 || v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some((x) => hasNumber(x, depth + 1));
  for (const k in v) if (hasNumber((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

// Argo only runs fasttemplate on strings matching `.*{{.*}}.*` (no newline in between).
const FAST_TEMPLATED = /\{\{.*\}\}/;

/** A renderer for one mode; parses the options once. */
export class Renderer {
  readonly goTemplate: boolean;
  private readonly missingKey: MissingKey;
  private readonly execOptions: ExecuteOptions & { limits: TemplateLimits };

  constructor(mode: RenderMode) {
    this.goTemplate = mode.goTemplate;
    this.missingKey = missingKeyFromOptions(mode.goTemplateOptions);
    this.execOptions = { missingKey: this.missingKey, limits: { ...defaultLimits } };
  }

  // The Go data of the param set a tree is being rendered with (see `renderTree`), converted once
  // for all its strings rather than looked up and compared again for each of them.
  private pinnedParams: ParamSet | undefined;
  private pinnedData: ParamSet | undefined;

  /** Argo's `Render.Replace`. Throws the templating library's error on failure. */
  render(text: string, params: ParamSet): string {
    if (!text.includes('{{')) return text;
    if (this.goTemplate) return renderGoTemplate(text, this.goData(params), this.execOptions);
    if (!FAST_TEMPLATED.test(text)) return text;
    return renderFastTemplate(text, fastParams(params));
  }

  /**
   * Go templates rendered from now on stop with a limit error past `deadline` (a
   * `performance.now()` time; undefined: no deadline). Fasttemplate does no work worth bounding.
   */
  setDeadline(deadline: number | undefined): void {
    this.execOptions.limits.deadline = deadline;
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
    return executeGoTemplate(t, this.goData(params), this.execOptions);
  }

  /**
   * Runs `fn`, which renders strings with `params` only, converting `params` to Go data once
   * (goTemplate mode) instead of once per string. The set is converted again by the next call:
   * generators add entries to a set between renders.
   */
  withParams<T>(params: ParamSet, fn: () => T): T {
    if (!this.goTemplate) return fn();
    const [outerParams, outerData] = [this.pinnedParams, this.pinnedData];
    // Converted afresh, not through the cache: a tree's param set is usually rendered once.
    this.pinnedData = toGoData(params);
    this.pinnedParams = params;
    try {
      return fn();
    } finally {
      this.pinnedParams = outerParams;
      this.pinnedData = outerData;
    }
  }

  private goData(params: ParamSet): ParamSet {
    return params === this.pinnedParams ? this.pinnedData! : goData(params);
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
  | { k: 'arr'; items: CompiledTree[]; built?: BuiltTree | null }
  | {
      k: 'obj';
      entries: { key: string; templatedKey: boolean; node: CompiledTree }[];
      built?: BuiltTree | null;
    };

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
  if (tree.k === 'const') return renderNode(tree, params, renderer);
  return renderer.withParams(params, () => {
    if (tree.k === 'obj' || tree.k === 'arr') {
      if (tree.built === undefined) tree.built = buildTree(tree);
      if (tree.built) return tree.built(params, renderer, renderStr, renderNode, cloneJson);
    }
    return renderNode(tree, params, renderer);
  });
}

/** What {@link renderTree} does for one node, without {@link buildTree}'s functions. */
function renderNode(tree: CompiledTree, params: ParamSet, renderer: Renderer): unknown {
  switch (tree.k) {
    case 'const':
      return tree.shared || typeof tree.v !== 'object' || tree.v === null
        ? tree.v
        : cloneJson(tree.v);
    case 'str':
      return renderStr(tree, params, renderer);
    case 'arr': {
      // No closure here: it would make every call allocate a context for params and renderer.
      const items = tree.items;
      const out = new Array<unknown>(items.length);
      for (let i = 0; i < items.length; i++) out[i] = renderNode(items[i], params, renderer);
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
        out[key] = renderNode(e.node, params, renderer);
      }
      return out;
    }
  }
}

function renderStr(node: StrNode, params: ParamSet, renderer: Renderer): string {
  try {
    return renderer.renderNode(node, params);
  } catch (e) {
    throw new TreeRenderError(node.path, e);
  }
}

type RenderStr = typeof renderStr;
type RenderNode = typeof renderNode;
type Clone = typeof cloneJson;

/** A compiled tree turned into one function (see {@link buildTree}). */
export type BuiltTree = (
  params: ParamSet,
  renderer: Renderer,
  s: RenderStr,
  g: RenderNode,
  k: Clone,
) => unknown;

const MAX_BUILT_DEPTH = 32;
const MAX_BUILT_NODES = 2_000;

/**
 * Turns a compiled tree into a function that renders it with object and array literals: `{"a":
 * s(n[0], p, r), "b": c[0]}`. Rendering then builds each object in one step, with V8's allocation
 * sites, instead of adding properties one by one through a store every shape goes through (and
 * V8 can allocate the objects that outlive a generation run directly where long-lived objects
 * go). The generated code contains nothing but the tree's keys, as JSON string literals; strings
 * are rendered, constants copied and anything unusual (templated or `__proto__` keys, very deep or
 * large trees) rendered by the same functions as without it. Null when code generation is not
 * available.
 */
export function buildTree(tree: CompiledTree): BuiltTree | null {
  const consts: unknown[] = [];
  const nodes: CompiledTree[] = [];
  let count = 0;
  const generic = (n: CompiledTree): string => {
    nodes.push(n);
    return `g(n[${nodes.length - 1}], p, r)`;
  };
  const expr = (n: CompiledTree, depth: number): string => {
    count++;
    switch (n.k) {
      case 'const':
        consts.push(n.v);
        return n.shared || typeof n.v !== 'object' || n.v === null
          ? `c[${consts.length - 1}]`
          : `k(c[${consts.length - 1}])`;
      case 'str':
        nodes.push(n);
        return `s(n[${nodes.length - 1}], p, r)`;
      case 'arr':
        if (depth >= MAX_BUILT_DEPTH) return generic(n);
        return `[${n.items.map((i) => expr(i, depth + 1)).join(', ')}]`;
      case 'obj':
        if (
          depth >= MAX_BUILT_DEPTH ||
          n.entries.some((e) => e.templatedKey || e.key === '__proto__')
        )
          return generic(n);
        return `{${n.entries.map((e) => `${JSON.stringify(e.key)}: ${expr(e.node, depth + 1)}`).join(', ')}}`;
    }
  };
  const body = expr(tree, 0);
  if (count > MAX_BUILT_NODES) return null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see above: keys only, as JSON literals
    const make = new Function('c', 'n', `"use strict"; return (p, r, s, g, k) => (${body});`) as (
      c: unknown[],
      n: CompiledTree[],
    ) => BuiltTree;
    return make(consts, nodes);
  } catch {
    return null;
  }
}
