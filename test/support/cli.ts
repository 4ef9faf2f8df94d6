import { runCli } from '../../apps/cli/src/cli.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TEST_ADMIN_TOKEN } from './hub-harness.js';

/**
 * Runs the `axle` command line in-process against a test hub as the admin; `file` is what any
 * `-f` option reads. Returns the exit code and what was printed.
 */
export async function axle(
  hub: RunningHub,
  args: string[],
  opts: { file?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    env: { AXLE_SERVER: hub.httpUrl, AXLE_TOKEN: TEST_ADMIN_TOKEN },
    ...(opts.file !== undefined ? { readFile: () => opts.file! } : {}),
  });
  return { code, out, err };
}
