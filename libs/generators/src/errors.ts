import { RE2JS } from 're2js';

/**
 * A generator failed. `path` names the generator inside the ApplicationSet, e.g.
 * `spec.generators[0].matrix.generators[1].git`; the message always starts with it.
 */
export class GeneratorError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'GeneratorError';
  }
}

/**
 * A generator went past a limit of the whole run: more parameter sets than the limits allow (see
 * GeneratorLimits), or its templates took more of the run's render time than was left (see
 * TemplateBudget).
 */
export class GeneratorLimitError extends GeneratorError {
  constructor(
    path: string,
    reason: string,
    readonly limit: 'paramSets' | 'renderTime' = 'paramSets',
  ) {
    super(path, reason);
    this.name = 'GeneratorLimitError';
  }
}

/** One problem found while checking a spec against its schema. */
export interface SpecIssue {
  /** Dotted path of the offending field, e.g. `spec.template.spec.source.directory.jsonnet`. */
  path: string;
  message: string;
}

/** Formats a path the way the rest of Axle prints them: `a.b[0].c`, odd keys as `a["x/y"]`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** A filter's compiled pattern: Go's regexp, matched anywhere in the value. */
export interface FilterPattern {
  test(value: string): boolean;
}

/**
 * A filter's regular expression (undefined when not given), or an error naming where it is. Argo CD
 * compiles filters with Go's regexp: RE2 syntax (no backreferences nor lookaround), matched in time
 * linear in the value. A JavaScript RegExp would accept other patterns and, for some (`(a+)+$`),
 * backtrack for minutes on the event loop over a crafted branch name or title.
 */
export function filterRegExp(
  pattern: string | undefined,
  where: string,
): FilterPattern | undefined {
  if (pattern === undefined) return undefined;
  try {
    return RE2JS.compile(pattern);
  } catch (e) {
    throw new GeneratorError(where, `invalid regexp: ${errorMessage(e)}`);
  }
}
