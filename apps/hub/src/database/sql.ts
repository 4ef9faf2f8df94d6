import type { EntityManager } from 'typeorm';
import type { SelectorRequirement } from '../../../../libs/generators/src/index.js';

/** A connection or transaction to run statements on: repositories take one where atomicity matters. */
export type Db = Pick<EntityManager, 'query'>;

/** TypeORM answers UPDATE/DELETE … RETURNING with `[rows, affected]`: the rows. */
export function returned<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
    return result[0] as T[];
  }
  return result as T[];
}

/** The count of rows an UPDATE or DELETE without RETURNING touched. */
export function affected(result: unknown): number {
  return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
}

/** Splits `items` into chunks of at most `size` (set-based statements stay bounded). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * `rows` sorted by `keys` (each a uuid or other text), in the order PostgreSQL sorts uuids (their
 * lower-case text sorts alike): statements that lock several rows take them in this order, so that
 * two writers never wait on each other in a cycle.
 */
export function inKeyOrder<T>(rows: readonly T[], ...keys: ((row: T) => string)[]): T[] {
  // Each row's keys joined once (NUL, in no key, sorts below every character): the sort then
  // compares two strings, not two rows' keys read again at every comparison.
  const keyed = rows.map((row) => ({ row, k: keys.map((key) => key(row)).join('\u0000') }));
  keyed.sort((a, b) => (a.k === b.k ? 0 : a.k < b.k ? -1 : 1));
  return keyed.map((x) => x.row);
}

// NUL, which PostgreSQL's text and jsonb cannot hold, and UTF-16 halves without their other half.
// eslint-disable-next-line no-control-regex -- NUL is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// How JSON.stringify writes either of them (it escapes lone surrogates); may also match an escaped
// backslash before such text, which only costs the slower pass.
const UNSTORABLE_JSON = /\\u(?:0000|d[89a-f])/i;

/** `s` with what PostgreSQL cannot store as text replaced by U+FFFD. */
export function storableText(s: string): string {
  return s.replace(UNSTORABLE, '\ufffd');
}

/**
 * `value` as a JSON parameter PostgreSQL accepts (for `$1::jsonb`, `jsonb_to_recordset`): strings
 * holding NUL or a lone surrogate, which it refuses (the whole statement fails), get U+FFFD there
 * instead. What agents send passes through here, so one odd character cannot hold back a batch.
 */
export function jsonParam(value: unknown): string {
  const text = JSON.stringify(value);
  if (!UNSTORABLE_JSON.test(text)) return text;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableText(v) : v));
}

/**
 * Whether PostgreSQL refused a statement for the data in it (SQLSTATE class 22, data exception:
 * a value out of range, bad text; class 23, a constraint), not for the connection or the server.
 */
export function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** A batch write stopped by an error that is not about its data: `remaining` were not written. */
export class PartialWriteError<T> extends Error {
  constructor(
    override readonly cause: unknown,
    readonly remaining: T[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'PartialWriteError';
  }
}

/**
 * Writes `rows` with `write` (one statement, or one transaction, per call). When PostgreSQL
 * refuses a part for its data ({@link isDataError}), the part is split in halves until the rows it
 * refuses are found alone; those are skipped and returned, and every other row is written. Any
 * other error stops it with a {@link PartialWriteError} naming the rows not written yet (the
 * parts written before stay written).
 */
export async function writeIsolating<T>(
  rows: T[],
  write: (part: T[]) => Promise<void>,
): Promise<T[]> {
  const refused: T[] = [];
  const todo: T[][] = rows.length ? [rows] : []; // a stack: the next part to write is last
  while (todo.length > 0) {
    const part = todo.pop()!;
    try {
      await write(part);
    } catch (e) {
      if (!isDataError(e)) throw new PartialWriteError(e, [part, ...todo.reverse()].flat());
      if (part.length === 1) refused.push(part[0]);
      else {
        const mid = part.length >> 1;
        todo.push(part.slice(mid), part.slice(0, mid));
      }
    }
  }
  return refused;
}

/**
 * SQL conditions (to be joined with AND) selecting rows whose jsonb `labels` column match every
 * requirement, as Kubernetes selects: NotIn (and so `!=`) matches a row without the label. `param`
 * gives the placeholder of a value.
 */
export function labelConditions(
  labels: string,
  requirements: readonly SelectorRequirement[],
  param: (value: unknown) => string,
): string[] {
  return requirements.map((r) => {
    const key = param(r.key);
    switch (r.operator) {
      case 'In':
        return `${labels} ->> ${key} = ANY(${param(r.values ?? [])}::text[])`;
      case 'NotIn':
        return `coalesce(${labels} ->> ${key} <> ALL(${param(r.values ?? [])}::text[]), true)`;
      case 'Exists':
        return `jsonb_exists(${labels}, ${key})`;
      case 'DoesNotExist':
        return `NOT jsonb_exists(${labels}, ${key})`;
    }
  });
}
