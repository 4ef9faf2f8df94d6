/** simple-git guards GIT_* variables; the one we set ourselves is allowed explicitly. */
export const GIT_OPTIONS = {
  maxConcurrentProcesses: 4,
  allowEnvironment: ['GIT_TERMINAL_PROMPT'],
} as const;

/**
 * The environment git runs with: the process's, minus anything that could make git run another
 * program (editors, pagers, askpass, ssh commands, config injection) or prompt for input.
 */
export function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    const lk = k.toLowerCase();
    if (
      lk.startsWith('git_') ||
      ['editor', 'visual', 'pager', 'ssh_askpass', 'prefix'].includes(lk)
    )
      continue;
    env[k] = v;
  }
  env.GIT_TERMINAL_PROMPT = '0';
  return env;
}
