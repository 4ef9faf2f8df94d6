import { spawn } from 'node:child_process';
import { GitError } from './errors.js';

export interface RunGitOptions {
  cwd: string;
  /** The whole environment git runs with. */
  env: Record<string, string>;
  /** Git is stopped after this long without printing anything. */
  inactivityMs: number;
  /** Git is stopped when this fires. */
  signal?: AbortSignal;
}

/** Output kept for the result and error messages; the rest is dropped. */
const KEEP_BYTES = 1024 * 1024;
/** How long git may take to exit after SIGTERM (it removes its lock files) before SIGKILL. */
const TERM_GRACE_MS = 2_000;

/**
 * Runs git (against a remote: fetch) in a process group of its own and, when it is stopped
 * (inactivity, abort), signals the whole group: git fetch's remote helper and the fetch-pack the
 * helper starts are not stopped with git, and went on holding the connection. SIGTERM first, so
 * git removes its lock files; SIGKILL to what is left shortly after. Resolves to stdout; rejects
 * with a GitError holding what git printed on stderr.
 */
export function runGit(args: string[], opts: RunGitOptions): Promise<string> {
  if (opts.signal?.aborted) return Promise.reject(new GitError('git stopped: aborted'));
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let kept = 0;
    let stopped: string | undefined;
    let idle: NodeJS.Timeout | undefined;
    let kill: NodeJS.Timeout | undefined;

    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // The group is gone already.
      }
    };
    const stop = (why: string) => {
      if (stopped) return;
      stopped = why;
      clearTimeout(idle);
      signalGroup('SIGTERM');
      kill = setTimeout(() => signalGroup('SIGKILL'), TERM_GRACE_MS);
    };
    const onAbort = () => stop('aborted');
    const touch = () => {
      clearTimeout(idle);
      if (!stopped)
        idle = setTimeout(() => stop(`no output for ${opts.inactivityMs} ms`), opts.inactivityMs);
    };
    const keep = (into: Buffer[]) => (chunk: Buffer) => {
      touch();
      if (kept >= KEEP_BYTES) return;
      into.push(chunk.subarray(0, KEEP_BYTES - kept));
      kept += chunk.length;
    };

    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', keep(stdout));
    child.stderr.on('data', keep(stderr));
    touch();
    child.on('error', (e) => {
      clearTimeout(idle);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new GitError(`git could not be started: ${e.message}`));
    });
    // After every holder of git's output (its helpers too) has exited.
    child.on('close', (code, signal) => {
      clearTimeout(idle);
      clearTimeout(kill);
      opts.signal?.removeEventListener('abort', onAbort);
      const err = Buffer.concat(stderr).toString('utf8').trim();
      if (stopped) reject(new GitError(`git stopped: ${stopped}${err ? `: ${err}` : ''}`));
      else if (code !== 0) reject(new GitError(err || `git ended with ${code ?? signal}`));
      else resolve(Buffer.concat(stdout).toString('utf8'));
    });
  });
}
