import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd: string;
  /** The whole environment of the process (nothing is inherited). */
  env: Record<string, string>;
  timeoutMs: number;
  /** stdout beyond this kills the process. */
  maxStdoutBytes: number;
  /** stderr kept (the rest is dropped, the process is not killed for it). Default 64 KiB. */
  maxStderrBytes?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export type ProcessFailure = 'exit' | 'timeout' | 'output' | 'spawn';

/** A tool process that failed; `message` is short, `stderr` is what the tool said (bounded). */
export class ProcessError extends Error {
  constructor(
    readonly kind: ProcessFailure,
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'ProcessError';
  }
}

/** Process groups still running, killed if the hub exits first. */
const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * How long the output pipes may stay open after the main process exited (and its group was
 * killed). Only something that left the group (`setsid`, a daemon) still holds them then.
 */
const EXIT_GRACE_MS = 2000;

/**
 * Runs `cmd args` in its own process group with exactly `env`, collecting stdout (bounded) and
 * stderr (bounded). On a timeout or too much output the whole group is killed (a shell's children
 * too); when the main process exits, whatever it left running in its group is killed as well.
 *
 * The result never waits on the pipes alone: a process that left the group (`setsid sleep 1000 &`)
 * keeps them open, and waiting for them to close held a tool slot until it chose to end (two such
 * plugins stopped all rendering). So a timeout or too much output settles at once, and a process
 * whose pipes are still open {@link EXIT_GRACE_MS} after it exited fails; the pipes are closed on
 * our side (the leftover gets EPIPE when it writes).
 */
export function runProcess(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => live.forEach(killGroup));
  }
  const maxErr = opts.maxStderrBytes ?? 64 * 1024;
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    if (pid !== undefined) live.add(pid);
    const out: Buffer[] = [];
    let outBytes = 0;
    const err: Buffer[] = [];
    let errBytes = 0;
    let settled = false;
    let lastOutputAt = 0;
    let grace: NodeJS.Timeout | undefined;
    const settle = (failure: ProcessError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      if (pid !== undefined) live.delete(pid);
      child.stdout.destroy();
      child.stderr.destroy();
      const stderr = Buffer.concat(err).toString('utf8');
      if (failure) reject(new ProcessError(failure.kind, failure.message, stderr));
      else resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr });
    };
    const fail = (kind: ProcessFailure, message: string) => {
      if (settled) return;
      if (pid !== undefined) killGroup(pid);
      settle(new ProcessError(kind, message, ''));
    };
    const timer = setTimeout(
      () => fail('timeout', `timed out after ${Math.round(opts.timeoutMs / 100) / 10}s`),
      opts.timeoutMs,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      if (settled) return;
      lastOutputAt = performance.now();
      outBytes += chunk.length;
      if (outBytes > opts.maxStdoutBytes) {
        fail('output', `output is larger than ${opts.maxStdoutBytes} bytes`);
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      lastOutputAt = performance.now();
      if (errBytes >= maxErr) return;
      const part = chunk.subarray(0, maxErr - errBytes);
      err.push(part);
      errBytes += part.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      fail('spawn', `cannot run ${cmd}: ${e.code ?? e.message}`);
    });
    // The main process is done: reap whatever it left behind, so its pipes close.
    child.on('exit', () => {
      if (pid !== undefined) killGroup(pid);
      // Not killGroup again: the group may be gone and its number reused by then.
      const message = 'exited, but a process it left outside its group kept its output open';
      // Output still arriving (a large one being read on a busy loop) is not a leftover holding
      // the pipes: wait on while it comes (the timeout still bounds it). setImmediate lets
      // output already waiting in the pipes be read before deciding.
      const check = () =>
        setImmediate(() => {
          if (performance.now() - lastOutputAt < EXIT_GRACE_MS)
            grace = setTimeout(check, EXIT_GRACE_MS);
          else settle(new ProcessError('exit', message, ''));
        });
      grace = setTimeout(check, EXIT_GRACE_MS);
    });
    child.on('close', (code, signal) => {
      if (code === 0) return settle(undefined);
      const how = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
      settle(new ProcessError('exit', how, ''));
    });
  });
}

/** At most `limit` holders at once; the others wait in order. */
export class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Takes a place (waiting for one); the function returned gives it back (once). */
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    else this.active++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }
}
