/** A port of Go's text/template executor (exec.go). */
import { TemplateError } from '../errors.js';
import { formatV } from './fmt.js';
import { paramTypeName, type FuncContext, type GoFunc, type ParamKind } from './funcs.js';
import type {
  ArgNode,
  ChainNode,
  FieldNode,
  IdentifierNode,
  Node,
  PipeNode,
  VariableNode,
} from './nodes.js';
import type { FastPlan } from './fast.js';
import { nodeString } from './nodes.js';
import { columnOf, lineOf, type TreeSet } from './parser.js';
import { quote } from './strconv.js';
import {
  GoNum,
  GoStruct,
  goTypeOf,
  isGoMap,
  isTrue,
  mapElemType,
  sliceElemType,
  isGoInt,
} from './values.js';
import { GoTime } from '../sprig/time.js';
import { measure } from './size.js';

export type MissingKey = 'default' | 'zero' | 'error';

export interface TemplateLimits {
  /** Maximum size of the rendered output (and of any single intermediate string), in characters. */
  maxOutputBytes: number;
  /** Maximum number of evaluation steps (commands run + range iterations). */
  maxSteps: number;
  /** Maximum nesting of {{template}} calls. */
  maxDepth: number;
  /**
   * `performance.now()` past which execution stops with a limit error (checked every 1,024 steps
   * and before costly functions): a bound on time where steps differ in cost.
   */
  deadline?: number;
}

export const defaultLimits: TemplateLimits = {
  maxOutputBytes: 1 << 20,
  maxSteps: 1_000_000,
  maxDepth: 100,
};

/** A parsed template (with the templates it defines), ready to be executed many times. */
export class ParsedTemplate {
  /** {@link compileFast}'s plan for the root template, once computed (null: not applicable). */
  fast: FastPlan | null | undefined = undefined;

  constructor(
    readonly name: string,
    readonly text: string,
    readonly trees: TreeSet,
    readonly funcs: ReadonlyMap<string, GoFunc>,
  ) {}
}

export const MISSING = Symbol('missing');
export type Final = unknown;
export const NO_ARGS: ArgNode[] = [];

/** break/continue unwinding (thrown like Go's panics; preallocated, so throwing is cheap). */
export class Control extends Error {
  constructor(readonly kind: 'break' | 'continue') {
    super(kind);
  }
}
export const BREAK = new Control('break');
export const CONTINUE = new Control('continue');

export function canBeNil(kind: ParamKind): boolean {
  return kind === 'any' || kind === 'value' || kind === 'slice' || kind === 'map';
}

/** Execution state shared by the walker: limits, errors, variables, argument evaluation and calls. */
export abstract class ExecBase implements FuncContext {
  out = '';
  node: Node | null = null;
  names: string[] = [];
  values: unknown[] = [];
  ifaces: boolean[] = [];
  depth = 0;
  steps = 0;
  /**
   * Arrays and maps measured in this execution (see the value check after a call); made when
   * first needed: most executions call no function that returns one.
   */
  private measuredSet: WeakSet<object> | undefined;
  get measured(): WeakSet<object> {
    return (this.measuredSet ??= new WeakSet());
  }
  set measured(set: WeakSet<object>) {
    this.measuredSet = set;
  }
  tmplName: string;
  lastIface = false;

  constructor(
    readonly tmpl: ParsedTemplate,
    readonly missingKey: MissingKey,
    readonly limits: TemplateLimits,
  ) {
    this.tmplName = tmpl.name;
  }

  // ---- FuncContext ----
  checkSize(size: number): void {
    if (size > this.limits.maxOutputBytes) {
      this.limitError(`output limit exceeded (${this.limits.maxOutputBytes} bytes)`);
    }
  }
  charge(n: number): void {
    this.steps += n;
    if (this.steps > this.limits.maxSteps)
      this.limitError(`step limit exceeded (${this.limits.maxSteps} steps)`);
    this.checkDeadline();
  }
  checkCount(n: number): void {
    if (n > this.limits.maxSteps)
      this.limitError(`step limit exceeded (${this.limits.maxSteps} steps)`);
  }

  // ---- errors ----
  at(node: Node): void {
    this.node = node;
  }

  private message(msg: string): [string, { line: number; col: number } | undefined] {
    const name = this.tmplName;
    const n = this.node;
    if (!n) return [`template: ${name}: ${msg}`, undefined];
    const text = n.tree.text;
    const pos = Math.min(n.pos, text.length);
    const line = lineOf(text, pos);
    const col = columnOf(text, pos);
    return [
      `template: ${n.tree.parseName}:${line}:${col}: executing ${quote(name)} at <${nodeString(n)}>: ${msg}`,
      { line, col },
    ];
  }

  errorf(msg: string): never {
    const [m, pos] = this.message(msg);
    throw new TemplateError(m, 'exec', this.tmplName, pos);
  }

  limitError(msg: string): never {
    const [m, pos] = this.message(msg);
    throw new TemplateError(m, 'limit', this.tmplName, pos);
  }

  step(): void {
    if (++this.steps > this.limits.maxSteps) {
      this.limitError(`step limit exceeded (${this.limits.maxSteps} steps)`);
    }
    if ((this.steps & 1023) === 0) this.checkDeadline();
  }

  private checkDeadline(): void {
    if (this.limits.deadline !== undefined && performance.now() > this.limits.deadline)
      this.limitError('time limit exceeded');
  }

  write(s: string): void {
    this.out += s;
    if (this.out.length > this.limits.maxOutputBytes) {
      this.limitError(`output limit exceeded (${this.limits.maxOutputBytes} bytes)`);
    }
  }

  // ---- variables ----
  push(name: string, value: unknown, iface: boolean): void {
    this.names.push(name);
    this.values.push(value);
    this.ifaces.push(iface);
  }
  mark(): number {
    return this.names.length;
  }
  pop(mark: number): void {
    this.names.length = mark;
    this.values.length = mark;
    this.ifaces.length = mark;
  }
  setVar(name: string, value: unknown, iface: boolean): void {
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] === name) {
        this.values[i] = value;
        this.ifaces[i] = iface;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  setTopVar(n: number, value: unknown, iface: boolean): void {
    this.values[this.values.length - n] = value;
    this.ifaces[this.ifaces.length - n] = iface;
  }
  varValue(name: string): unknown {
    for (let i = this.names.length - 1; i >= 0; i--) {
      if (this.names[i] === name) {
        this.lastIface = this.ifaces[i];
        return this.values[i];
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  abstract evalFieldNode(
    dot: unknown,
    dotIface: boolean,
    field: FieldNode,
    args: ArgNode[],
    final: Final,
  ): unknown;
  abstract evalChainNode(
    dot: unknown,
    dotIface: boolean,
    chain: ChainNode,
    args: ArgNode[],
    final: Final,
  ): unknown;
  abstract evalVariableNode(
    dot: unknown,
    dotIface: boolean,
    v: VariableNode,
    args: ArgNode[],
    final: Final,
  ): unknown;
  abstract evalPipeline(dot: unknown, dotIface: boolean, pipe: PipeNode | null): unknown;
  abstract tpl(text: string, vals: unknown): string;
  abstract evalFunction(
    dot: unknown,
    dotIface: boolean,
    node: IdentifierNode,
    cmd: Node,
    args: ArgNode[],
    start: number,
    final: Final,
  ): unknown;

  // eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
  evalCall(
    dot: unknown,
    dotIface: boolean,
    fn: GoFunc,
    node: Node,
    name: string,
    args: ArgNode[],
    start: number,
    final: Final,
    self: GoStruct | undefined,
  ): unknown {
    const nargs = Math.max(args.length - start, 0);
    const numIn = nargs + (final !== MISSING ? 1 : 0);
    const params = fn.params;
    let numFixed = nargs;
    if (fn.variadic) {
      numFixed = params.length - 1;
      if (numIn < numFixed) {
        this.errorf(
          `wrong number of args for ${name}: want at least ${params.length - 1} got ${nargs}`,
        );
      }
    } else if (numIn !== params.length) {
      this.errorf(`wrong number of args for ${name}: want ${params.length} got ${numIn}`);
    }
    if (fn.builtin && (name === 'and' || name === 'or')) {
      let v: unknown;
      for (let i = 0; i < nargs; i++) {
        v = this.evalArg(dot, dotIface, 'value', args[start + i]);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = this.validateType(final, 'value');
      return v;
    }
    const argv: unknown[] = new Array<unknown>(numIn);
    let i = 0;
    for (; i < numFixed && i < nargs; i++)
      argv[i] = this.evalArg(dot, dotIface, params[i], args[start + i]);
    if (fn.variadic) {
      const k = params[params.length - 1];
      for (; i < nargs; i++) argv[i] = this.evalArg(dot, dotIface, k, args[start + i]);
    }
    if (final !== MISSING) {
      let t = params[params.length - 1];
      if (fn.variadic && numIn - 1 < numFixed) t = params[numIn - 1];
      argv[i] = this.validateType(final, t);
    }
    if (fn.builtin && name === 'call') {
      const callee =
        nargs === 0
          ? typeof final === 'string'
            ? final
            : `<${goTypeOf(final)} Value>`
          : nodeString(args[start]);
      argv.unshift(callee);
    }
    // A function's work grows with the lists it is given (has, uniq, without, …): each element
    // costs a step, so repeated calls over a large list meet the step limit.
    for (const a of argv) if (Array.isArray(a)) this.steps += a.length;
    if (this.steps > this.limits.maxSteps) {
      this.at(node);
      this.limitError(`step limit exceeded (${this.limits.maxSteps} steps)`);
    }
    let v: unknown;
    try {
      v = self ? fn.fn.call(this, self, ...argv) : fn.fn.apply(this, argv);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      if (e instanceof RangeError && /call stack/i.test(e.message)) throw e;
      this.at(node);
      this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : formatV(e)}`);
    }
    if (typeof v === 'string') {
      if (v.length > this.limits.maxOutputBytes) {
        this.at(node);
        this.limitError(`output limit exceeded (${this.limits.maxOutputBytes} bytes)`);
      }
    } else if (typeof v === 'object' && v !== null) {
      const fresh = !this.measured.has(v);
      const { size, work, own } = measure(v, this.limits.maxSteps, this.measured);
      const current = this.node;
      this.at(node);
      // Printing it (or toJson, toYaml) would write every shared part out again and again.
      if (size > this.limits.maxSteps)
        this.limitError(
          `value limit exceeded (more than ${this.limits.maxSteps} values when written out)`,
        );
      // Measuring it again is work too, charged like the rest: else a map grown by `set` in a
      // loop, measured again after each call, took time quadratic in its size past every limit.
      // A value the function just made (`until`, `list`, `dict`) is free for its own elements
      // (making them was the function's work); what it holds that existed before is not.
      this.charge(fresh ? work - own : work);
      this.node = current; // errors past this call name their own node, as in Go
    }
    return v;
  }

  // eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
  validateType(value: unknown, kind: ParamKind | null): unknown {
    if (kind === null) return value;
    if (value === undefined) {
      if (canBeNil(kind)) return kind === 'value' ? undefined : null;
      this.errorf(`invalid value; expected ${paramTypeName[kind]}`);
    }
    switch (kind) {
      case 'value':
      case 'any':
        return value;
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'int':
        if (typeof value === 'number' && isGoInt(value)) return value;
        if (value instanceof GoNum && value.t === 'int') return value.v;
        break;
      case 'int64':
        if (value instanceof GoNum && value.t === 'int64') return value.v;
        break;
      case 'uint32':
        if (value instanceof GoNum && value.t === 'uint32') return value.v;
        break;
      case 'float64':
        if (typeof value === 'number' && !isGoInt(value)) return value;
        if (value instanceof GoNum && value.t === 'float64') return value.v;
        break;
      case 'bool':
        if (typeof value === 'boolean') return value;
        break;
      case 'slice':
        if (Array.isArray(value) && sliceElemType(value) === 'interface {}') return value;
        break;
      case 'map':
        if (isGoMap(value) && mapElemType(value) === 'interface {}') return value;
        break;
      case 'time':
        if (value instanceof GoTime) return value;
        break;
    }
    this.errorf(
      `wrong type for value; expected ${paramTypeName[kind]}; got ${value === null ? 'interface {}' : goTypeOf(value)}`,
    );
  }

  // eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
  evalArg(dot: unknown, dotIface: boolean, kind: ParamKind | null, n: ArgNode): unknown {
    this.node = n;
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, kind);
      case 'nil':
        if (kind === null || canBeNil(kind))
          return kind === 'value' || kind === null ? undefined : null;
        this.errorf(`cannot assign nil to ${paramTypeName[kind]}`);
      // falls through (errorf never returns)
      case 'field':
        return this.validateType(this.evalFieldNode(dot, dotIface, n, [n], MISSING), kind);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, dotIface, n, NO_ARGS, MISSING), kind);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, dotIface, n), kind);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, dotIface, n, n, NO_ARGS, 0, MISSING), kind);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, dotIface, n, NO_ARGS, MISSING), kind);
      case 'bool':
      case 'number':
      case 'string':
        break;
    }
    switch (kind) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        this.errorf(`expected bool; found ${nodeString(n)}`);
      // falls through
      case 'float64':
        if (n.type === 'number' && n.isFloat) return n.float;
        this.errorf(`expected float; found ${nodeString(n)}`);
      // falls through
      case 'int':
      case 'int64':
        if (n.type === 'number' && n.isInt) return n.int;
        this.errorf(`expected integer; found ${nodeString(n)}`);
      // falls through
      case 'uint32':
        if (n.type === 'number' && n.isUint) return n.uint;
        this.errorf(`expected unsigned integer; found ${nodeString(n)}`);
      // falls through
      case 'any':
      case 'value':
        return this.evalEmptyInterface(n);
      case 'string':
        if (n.type === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
      // falls through
      case 'slice':
      case 'map':
      case 'time':
      case null:
        this.errorf(
          `can't handle ${nodeString(n)} for arg of type ${kind ? paramTypeName[kind] : 'nil'}`,
        );
    }
  }

  evalEmptyInterface(n: ArgNode): unknown {
    if (n.type === 'bool') return n.value;
    if (n.type === 'string') return n.text;
    if (n.type === 'number') {
      if (n.constantError) this.errorf(n.constantError);
      return n.constant;
    }
    this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
  }

  printValue(node: Node, v: unknown): void {
    this.node = node;
    if (typeof v === 'string') this.write(v);
    else if (v === undefined) this.write('<no value>');
    else this.write(formatV(v));
  }
}
