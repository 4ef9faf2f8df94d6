import type { EntityManager } from 'typeorm';

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
