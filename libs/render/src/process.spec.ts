import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessError, runProcess } from './process.js';

describe('runProcess', () => {
  let dir: string;
  let n = 0;
  const pidFiles: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'axle-process-'));
  });
  afterAll(async () => {
    // The daemons left their process group: runProcess cannot end them, the test does.
    for (const f of pidFiles) {
      const pids = await readFile(f, 'utf8').catch(() => '');
      for (const pid of pids.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `sh -c`: first a daemon in a session of its own holding stdout/stderr, then `then`. */
  const withDaemon = (then: string, opts: { timeoutMs?: number; maxStdoutBytes?: number } = {}) => {
    const pids = join(dir, `pids-${n++}`);
    pidFiles.push(pids);
    // The shell waits until the daemon has left the group, so killing the group cannot reach it.
    const script = `setsid sh -c 'echo $$ > "$PIDS"; exec sleep 60' & while [ ! -s "$PIDS" ]; do sleep 0.05; done; ${then}`;
    return runProcess('sh', ['-c', script], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PIDS: pids },
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxStdoutBytes: opts.maxStdoutBytes ?? 1 << 20,
    });
  };

  it('collects stdout and stderr of a process that exits', async () => {
    const r = runProcess('sh', ['-c', 'echo out; echo err >&2'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutMs: 30_000,
      maxStdoutBytes: 1000,
    });
    await expect(r).resolves.toEqual({ stdout: 'out\n', stderr: 'err\n' });
  });

  // Each of these waited for the daemon (a minute) to close the pipes, past the test's time-out.
  it('settles on a time-out although a daemon holds its pipes', async () => {
    const r = withDaemon('sleep 60', { timeoutMs: 1000 });
    await expect(r).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('settles on too much output although a daemon holds its pipes', async () => {
    const r = withDaemon('yes', { maxStdoutBytes: 1000 });
    await expect(r).rejects.toMatchObject({ kind: 'output' });
  });

  it('fails a process that exited leaving a daemon with its pipes open', async () => {
    const r = withDaemon('echo done');
    await expect(r).rejects.toThrow(ProcessError);
    await expect(r).rejects.toMatchObject({
      kind: 'exit',
      message: 'exited, but a process it left outside its group kept its output open',
    });
  });
});
