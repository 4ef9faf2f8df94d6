/**
 * A fast path for the templates ApplicationSets are mostly made of: text and actions that only
 * print a field chain of the data (`{{.a.b}}`) or a map entry reached with the builtin `index`
 * and string keys (`{{index .a "k"}}`).
 *
 * It only handles the case where every lookup succeeds on a map and every printed value is a
 * string; it then produces exactly what the full executor would print. Anything else (a missing
 * key, a value of another type, a limit that could be reached) makes it give up, and the caller
 * runs the full executor, which has the Go semantics for every case (errors included). Looking up
 * map entries has no side effects, so running both is safe.
 */
import type { GoFunc } from './funcs.js';
import type { ArgNode, Node } from './nodes.js';
import { isGoMap, mapGet } from './values.js';

/** Literal text, or the keys to look up from dot (the first `fields` as fields, then `index` keys). */
export type FastPart = string | readonly string[];

export interface FastPlan {
  readonly parts: readonly FastPart[];
  /** Steps the full executor would count (one per action). */
  readonly steps: number;
}

function fieldChain(args: readonly ArgNode[], funcs: ReadonlyMap<string, GoFunc>): string[] | null {
  const first = args[0];
  if (args.length === 1) return first.type === 'field' ? first.ident.slice() : null;
  // {{index .field "key" …}} with the builtin index (sprig does not redefine it, but a custom
  // function map could).
  if (first.type !== 'identifier' || first.ident !== 'index') return null;
  const fn = funcs.get('index');
  if (!fn?.builtin) return null;
  const recv = args[1];
  if (args.length < 3 || recv.type !== 'field') return null;
  const keys = recv.ident.slice();
  for (let i = 2; i < args.length; i++) {
    const a = args[i];
    if (a.type !== 'string') return null;
    keys.push(a.text);
  }
  return keys;
}

/** The plan for a template's root list, or null when the fast path does not apply. */
export function compileFast(
  root: Node | null | undefined,
  funcs: ReadonlyMap<string, GoFunc>,
): FastPlan | null {
  if (!root || root.type !== 'list') return null;
  const parts: FastPart[] = [];
  let steps = 0;
  for (const n of root.nodes) {
    if (n.type === 'text') {
      if (n.text !== '') parts.push(n.text);
      continue;
    }
    if (n.type === 'comment') continue;
    if (n.type !== 'action') return null;
    const pipe = n.pipe;
    if (pipe.decl.length > 0 || pipe.cmds.length !== 1) return null;
    const keys = fieldChain(pipe.cmds[0].args, funcs);
    if (!keys || keys.length === 0) return null;
    parts.push(keys);
    steps++;
  }
  return { parts, steps };
}

/**
 * Runs a plan against `data`; undefined when it cannot decide (the full executor must run). The
 * caller checks the output and step limits.
 */
export function runFast(plan: FastPlan, data: unknown): string | undefined {
  const parts = plan.parts;
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    let v: unknown = data;
    for (let k = 0; k < p.length; k++) {
      if (!isGoMap(v)) return undefined;
      v = mapGet(v, p[k]);
    }
    if (typeof v !== 'string') return undefined;
    out += v;
  }
  return out;
}
