/** Function-map plumbing: Go-like signatures for JS implementations. */
import { GoPanic } from './values.js';

/**
 * Parameter kinds, mirroring the Go parameter types text/template checks arguments against.
 * `value` is reflect.Value (the builtins receive raw values, including "no value").
 */
export type ParamKind =
  | 'any'
  | 'value'
  | 'string'
  | 'int'
  | 'int64'
  | 'uint32'
  | 'float64'
  | 'bool'
  | 'slice'
  | 'map'
  | 'time';

export const paramTypeName: Record<ParamKind, string> = {
  any: 'interface {}',
  value: 'reflect.Value',
  string: 'string',
  int: 'int',
  int64: 'int64',
  uint32: 'uint32',
  float64: 'float64',
  bool: 'bool',
  slice: '[]interface {}',
  map: 'map[string]interface {}',
  time: 'time.Time',
};

/** Execution context handed to functions that may need to enforce limits. */
export interface FuncContext {
  /** Throws a limit error if a result of `size` characters would exceed the output limit. */
  checkSize(size: number): void;
  /** Throws a limit error if producing `n` elements would exceed the step limit. */
  checkCount(n: number): void;
  /** Counts `n` steps for work a function does besides its arguments (throws past the limit). */
  charge(n: number): void;
  /** Argo's `tpl`: parse `text` as a template sharing this template's definitions and execute it. */
  tpl(text: string, vals: unknown): string;
}

export interface GoFunc {
  name: string;
  /** Fixed parameter kinds; when variadic, the last one is the element kind of the `...` parameter. */
  params: ParamKind[];
  variadic: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fn: (this: FuncContext, ...args: any[]) => unknown;
  builtin?: boolean;
}

export type FuncMap = Map<string, GoFunc>;

/**
 * Define a function. `sig` is a comma separated list of parameter kinds; a `...` prefix on the last
 * marks it variadic, e.g. `'string,...any'`.
 */
export function def(
  map: FuncMap,
  name: string,
  sig: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fn: (this: FuncContext, ...args: any[]) => unknown,
): void {
  const parts = sig === '' ? [] : sig.split(',').map((s) => s.trim());
  let variadic = false;
  const params = parts.map((p, i) => {
    if (p.startsWith('...')) {
      if (i !== parts.length - 1) throw new Error(`bad signature for ${name}`);
      variadic = true;
      return p.slice(3) as ParamKind;
    }
    return p as ParamKind;
  });
  for (const p of params)
    if (!(p in paramTypeName)) throw new Error(`bad param kind ${p} for ${name}`);
  map.set(name, { name, params, variadic, fn });
}

export function alias(map: FuncMap, name: string, target: string): void {
  const f = map.get(target);
  if (!f) throw new Error(`no function ${target}`);
  map.set(name, { ...f, name });
}

/** Raise an error from inside a template function (reported as `error calling NAME: msg`). */
export function fail(msg: string): never {
  throw new GoPanic(msg);
}
