import { Conflict, ValidationFailed } from '../../apps/hub/src/common/validation.js';

/**
 * How each of concurrent calls settled: 'ok', 'Conflict', 'ValidationFailed' (followed by its
 * fields as JSON with `fields`), or any other error's message and SQLSTATE code.
 */
export async function outcomes(
  ps: Promise<unknown>[],
  opts: { fields?: boolean } = {},
): Promise<string[]> {
  return (await Promise.allSettled(ps)).map((r) => {
    if (r.status === 'fulfilled') return 'ok';
    const e: unknown = r.reason;
    if (e instanceof Conflict) return 'Conflict';
    if (e instanceof ValidationFailed)
      return opts.fields ? `ValidationFailed ${JSON.stringify(e.fields)}` : 'ValidationFailed';
    return `${(e as Error).message} (${(e as { code?: string }).code})`;
  });
}
