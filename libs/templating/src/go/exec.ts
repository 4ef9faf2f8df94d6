/** A port of Go's text/template executor (exec.go). */
import { TemplateError } from '../errors.js';
import { formatV } from './fmt.js';
import { type GoFunc, type ParamKind } from './funcs.js';
import type {
  ArgNode,
  BranchNode,
  ChainNode,
  CommandNode,
  FieldNode,
  IdentifierNode,
  Node,
  PipeNode,
  TemplateNode,
  VariableNode,
} from './nodes.js';
import { nodeString } from './nodes.js';
import { isEmptyTree, parseTemplate, type TreeSet } from './parser.js';
import { fail } from './funcs.js';
import { compileFast, runFast } from './fast.js';
import {
  BREAK,
  CONTINUE,
  Control,
  ExecBase,
  MISSING,
  NO_ARGS,
  type Final,
  type MissingKey,
  ParsedTemplate,
  type TemplateLimits,
} from './exec-base.js';
import { quote } from './strconv.js';
import {
  GoNum,
  GoStruct,
  goTypeOf,
  isGoMap,
  isTrue,
  mapElemType,
  mapGet,
  sliceElemType,
  sortedKeys,
  zeroOf,
  isGoInt,
} from './values.js';

const methodCache = new WeakMap<object, Map<string, GoFunc>>();

function methodOf(recv: GoStruct, name: string): GoFunc | undefined {
  const proto = Object.getPrototypeOf(recv) as object;
  let cache = methodCache.get(proto);
  if (!cache) {
    cache = new Map();
    methodCache.set(proto, cache);
  }
  let f = cache.get(name);
  if (f) return f;
  const m = recv.methods()?.[name];
  if (!m) return undefined;
  const parts = m.params === '' ? [] : m.params.split(',');
  const variadic = parts.length > 0 && parts[parts.length - 1].startsWith('...');
  const params = parts.map((p) => p.replace('...', '') as ParamKind);
  f = { name, params, variadic, fn: m.fn as GoFunc['fn'] };
  cache.set(name, f);
  return f;
}

export {
  defaultLimits,
  ParsedTemplate,
  type MissingKey,
  type TemplateLimits,
} from './exec-base.js';

export class ExecState extends ExecBase {
  /** Argo CD's `tpl` function (applicationset/utils/template_functions.go). */
  tpl(text: string, vals: unknown): string {
    const name = this.tmpl.name;
    let trees: TreeSet;
    try {
      trees = parseTemplate(name, text, (n) => this.tmpl.funcs.has(n));
    } catch (e) {
      if (e instanceof TemplateError && e.kind === 'parse')
        fail(`cannot parse template ${quote(text)}: ${e.message}`);
      throw e;
    }
    const merged: TreeSet = new Map(this.tmpl.trees);
    for (const [k, tree] of trees) {
      if (k === name || !merged.has(k) || !isEmptyTree(tree.root)) merged.set(k, tree);
    }
    if (this.depth >= this.limits.maxDepth) {
      this.limitError(`exceeded maximum template depth (${this.limits.maxDepth})`);
    }
    const sub = new ExecState(
      new ParsedTemplate(name, text, merged, this.tmpl.funcs),
      this.missingKey,
      this.limits,
    );
    sub.depth = this.depth + 1;
    sub.steps = this.steps;
    sub.measured = this.measured;
    const value = vals === null ? undefined : vals;
    sub.push('$', value, false);
    try {
      sub.walk(value, false, trees.get(name)!.root!);
    } catch (e) {
      if (e instanceof TemplateError && e.kind !== 'limit') {
        fail(`error during tpl function execution for ${quote(text)}: ${e.message}`);
      }
      throw e;
    } finally {
      this.steps = sub.steps;
    }
    return sub.out.replaceAll('<no value>', '');
  }

  // ---- walking ----
  // eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
  walk(dot: unknown, dotIface: boolean, node: Node): void {
    this.node = node;
    switch (node.type) {
      case 'action': {
        const val = this.evalPipeline(dot, dotIface, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      case 'comment':
        return;
      case 'if':
      case 'with':
        return this.walkIfOrWith(node, dot, dotIface);
      case 'list': {
        const nodes = node.nodes;
        for (let i = 0; i < nodes.length; i++) this.walk(dot, dotIface, nodes[i]);
        return;
      }
      case 'range':
        return this.walkRange(dot, dotIface, node);
      case 'template':
        return this.walkTemplate(dot, dotIface, node);
      case 'text':
        this.write(node.text);
        return;
      case 'pipe':
      case 'command':
      case 'identifier':
      case 'variable':
      case 'dot':
      case 'nil':
      case 'field':
      case 'chain':
      case 'bool':
      case 'number':
      case 'string':
      case 'end':
      case 'else':
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  walkIfOrWith(node: BranchNode, dot: unknown, dotIface: boolean): void {
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, dotIface, node.pipe);
      if (isTrue(val)) {
        if (node.type === 'with') this.walk(val, false, node.list);
        else this.walk(dot, dotIface, node.list);
      } else if (node.elseList) this.walk(dot, dotIface, node.elseList);
    } finally {
      this.pop(mark);
    }
  }

  walkRange(dot: unknown, dotIface: boolean, r: BranchNode): void {
    this.at(r);
    const outer = this.mark();
    try {
      const val = this.evalPipeline(dot, dotIface, r.pipe);
      const mark = this.mark();
      const decl = r.pipe.decl;
      const one = (index: unknown, elem: unknown, elemIface: boolean): void => {
        this.step();
        if (decl.length > 0) {
          if (r.pipe.isAssign) {
            if (decl.length > 1) this.setVar(decl[0].ident[0], index, false);
            else this.setVar(decl[0].ident[0], elem, elemIface);
          } else this.setTopVar(1, elem, elemIface);
        }
        if (decl.length > 1) {
          if (r.pipe.isAssign) this.setVar(decl[1].ident[0], elem, elemIface);
          else this.setTopVar(2, index, false);
        }
        try {
          this.walk(elem, elemIface, r.list);
        } catch (e) {
          if (e !== CONTINUE) throw e;
        } finally {
          this.pop(mark);
        }
      };
      let ran = false;
      try {
        ran = this.iterate(val, decl.length, one);
      } catch (e) {
        if (e !== BREAK) throw e;
        return;
      }
      if (!ran && r.elseList) this.walk(dot, dotIface, r.elseList);
    } finally {
      this.pop(outer);
    }
  }

  /** Iterate a range value; returns false when nothing was iterated. */
  private iterate(
    val: unknown,
    nvars: number,
    one: (i: unknown, e: unknown, iface: boolean) => void,
  ): boolean {
    if (val === undefined || val === null) return false;
    if (Array.isArray(val)) {
      const iface = sliceElemType(val) === 'interface {}';
      for (let i = 0; i < val.length; i++) one(i, val[i], iface);
      return val.length > 0;
    }
    if (
      (typeof val === 'number' && isGoInt(val)) ||
      (val instanceof GoNum && !val.t.startsWith('float'))
    ) {
      if (nvars > 1)
        this.errorf(`can't use ${formatV(val)} to iterate over more than one variable`);
      const n = typeof val === 'number' ? val : val.v;
      for (let i = 0; i < n; i++)
        one(undefined, val instanceof GoNum ? new GoNum(val.t, i) : i, false);
      return n > 0;
    }
    if (isGoMap(val)) {
      const keys = sortedKeys(val);
      const iface = mapElemType(val) === 'interface {}';
      for (const k of keys) one(k, val[k], iface);
      return keys.length > 0;
    }
    this.errorf(`range can't iterate over ${formatV(val)}`);
  }

  walkTemplate(dot: unknown, dotIface: boolean, t: TemplateNode): void {
    this.at(t);
    const tree = this.tmpl.trees.get(t.name);
    if (!tree) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth >= this.limits.maxDepth) {
      this.limitError(`exceeded maximum template depth (${this.limits.maxDepth})`);
    }
    const newDot = this.evalPipeline(dot, dotIface, t.pipe);
    const { names, values, ifaces, tmplName } = this;
    this.names = ['$'];
    this.values = [newDot];
    this.ifaces = [false];
    this.tmplName = t.name;
    this.depth++;
    try {
      if (tree.root) this.walk(newDot, false, tree.root);
    } finally {
      this.depth--;
      this.names = names;
      this.values = values;
      this.ifaces = ifaces;
      this.tmplName = tmplName;
    }
  }

  evalPipeline(dot: unknown, dotIface: boolean, pipe: PipeNode | null): unknown {
    if (!pipe) return undefined;
    this.node = pipe;
    let value: unknown = MISSING;
    const cmds = pipe.cmds;
    for (let i = 0; i < cmds.length; i++) {
      value = this.evalCommand(dot, dotIface, cmds[i], value);
      if (value === null) value = undefined; // interface{} holding nil → invalid
    }
    const decl = pipe.decl;
    for (let i = 0; i < decl.length; i++) {
      if (pipe.isAssign) this.setVar(decl[i].ident[0], value, false);
      else this.push(decl[i].ident[0], value, false);
    }
    return value;
  }

  notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING)
      this.errorf(`can't give argument to non-function ${nodeString(args[0])}`);
  }

  evalCommand(dot: unknown, dotIface: boolean, cmd: CommandNode, final: Final): unknown {
    this.step();
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, dotIface, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, dotIface, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, dotIface, first, cmd, cmd.args, 1, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, dotIface, first);
      case 'variable':
        return this.evalVariableNode(dot, dotIface, first, cmd.args, final);
      case 'bool':
      case 'dot':
      case 'nil':
      case 'number':
      case 'string':
        break;
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
      // falls through (errorf never returns)
      case 'number':
        if (first.constantError) this.errorf(first.constantError);
        return first.constant;
      case 'string':
        return first.text;
    }
  }

  evalFieldNode(
    dot: unknown,
    dotIface: boolean,
    field: FieldNode,
    args: ArgNode[],
    final: Final,
  ): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dotIface, dot, dotIface, field, field.ident, 0, args, final);
  }

  evalChainNode(
    dot: unknown,
    dotIface: boolean,
    chain: ChainNode,
    args: ArgNode[],
    final: Final,
  ): unknown {
    this.at(chain);
    if (chain.node.type === 'nil')
      this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, dotIface, null, chain.node);
    return this.evalFieldChain(dot, dotIface, pipe, false, chain, chain.field, 0, args, final);
  }

  evalVariableNode(
    dot: unknown,
    dotIface: boolean,
    v: VariableNode,
    args: ArgNode[],
    final: Final,
  ): unknown {
    this.at(v);
    const value = this.varValue(v.ident[0]);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, dotIface, value, this.lastIface, v, v.ident, 1, args, final);
  }

  evalFieldChain(
    dot: unknown,
    dotIface: boolean,
    receiver: unknown,
    recvIface: boolean,
    node: Node,
    ident: string[],
    start: number,
    args: ArgNode[],
    final: Final,
  ): unknown {
    const n = ident.length;
    for (let i = start; i < n - 1; i++) {
      receiver = this.evalField(
        dot,
        dotIface,
        ident[i],
        node,
        NO_ARGS,
        MISSING,
        receiver,
        recvIface,
      );
      recvIface = this.lastIface;
    }
    return this.evalField(dot, dotIface, ident[n - 1], node, args, final, receiver, recvIface);
  }

  evalFunction(
    dot: unknown,
    dotIface: boolean,
    node: IdentifierNode,
    cmd: Node,
    args: ArgNode[],
    start: number,
    final: Final,
  ): unknown {
    this.at(node);
    const name = node.ident;
    const fn = this.tmpl.funcs.get(name);
    if (!fn) this.errorf(`${quote(name)} is not a defined function`);
    return this.evalCall(dot, dotIface, fn, cmd, name, args, start, final, undefined);
  }

  evalField(
    dot: unknown,
    dotIface: boolean,
    fieldName: string,
    node: Node,
    args: ArgNode[],
    final: Final,
    receiver: unknown,
    recvIface: boolean,
  ): unknown {
    this.lastIface = false;
    if (receiver === undefined) {
      if (this.missingKey === 'error')
        this.errorf(`nil data; no entry for key ${quote(fieldName)}`);
      return undefined;
    }
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${fieldName}`);
    const typ = recvIface ? 'interface {}' : goTypeOf(receiver);
    if (receiver instanceof GoStruct) {
      const method = methodOf(receiver, fieldName);
      if (method)
        return this.evalCall(dot, dotIface, method, node, fieldName, args, 1, final, receiver);
    }
    const hasArgs = args.length > 1 || final !== MISSING;
    if (isGoMap(receiver)) {
      if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
      const elemType = mapElemType(receiver);
      let result = mapGet(receiver, fieldName);
      if (result === undefined) {
        switch (this.missingKey) {
          case 'default':
            break;
          case 'zero':
            result = zeroOf(elemType);
            break;
          case 'error':
            this.errorf(`map has no entry for key ${quote(fieldName)}`);
        }
      }
      this.lastIface = elemType === 'interface {}';
      return result;
    }
    this.errorf(`can't evaluate field ${fieldName} in type ${typ}`);
  }
}

/**
 * Execute a parsed template against data: templates that only print strings found in maps take
 * {@link runFast}'s shortcut; everything else (and anything the shortcut cannot decide) runs the
 * full executor.
 */
export function execute(
  t: ParsedTemplate,
  data: unknown,
  missingKey: MissingKey,
  limits: TemplateLimits,
): string {
  if (t.fast === undefined) t.fast = compileFast(t.trees.get(t.name)?.root, t.funcs);
  if (t.fast && t.fast.steps <= limits.maxSteps) {
    const out = runFast(t.fast, data);
    if (out !== undefined && out.length <= limits.maxOutputBytes) return out;
  }
  return executeFull(t, data, missingKey, limits);
}

/** The full Go text/template executor (what {@link execute} falls back to). */
export function executeFull(
  t: ParsedTemplate,
  data: unknown,
  missingKey: MissingKey,
  limits: TemplateLimits,
): string {
  const root = t.trees.get(t.name);
  const state: ExecState = new ExecState(t, missingKey, limits);
  const value = data === null ? undefined : data;
  state.push('$', value, false);
  if (!root || !root.root) state.errorf(`${quote(t.name)} is an incomplete or empty template`);
  try {
    state.walk(value, false, root.root);
  } catch (e) {
    if (e instanceof TemplateError) throw e;
    if (e instanceof RangeError) state.limitError('maximum nesting depth exceeded');
    if (e instanceof Control) state.errorf(`{{${e.kind}}} outside {{range}}`);
    state.errorf(`internal error: ${e instanceof Error ? e.message : String(e)}`);
  }
  return state.out;
}
