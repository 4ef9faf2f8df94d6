import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { GitError } from './errors.js';
import { gitEnv } from './git-env.js';

interface Pending {
  oid: string;
  resolve: (data: Buffer) => void;
  reject: (e: Error) => void;
}

/**
 * One long-lived `git cat-file --batch` per repository: blobs are read by object id through its
 * stdin/stdout instead of one process per blob. Requests are answered in order; the process is
 * started on demand, closed after `idleMs` without requests, and restarted after a failure (the
 * requests in flight fail with the error).
 */
export class CatFileBatch {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private header: Buffer[] = [];
  private body: Buffer | undefined;
  private bodyType = '';
  private filled = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private stderr = '';

  constructor(
    private readonly gitDir: string,
    private readonly idleMs = 30_000,
  ) {}

  read(oid: string): Promise<Buffer> {
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(oid))
      return Promise.reject(new GitError(`not an object id: "${oid.slice(0, 80)}"`));
    clearTimeout(this.idleTimer);
    const child = this.ensure();
    return new Promise((resolve, reject) => {
      this.pending.push({ oid, resolve, reject });
      child.stdin.write(`${oid}\n`);
    });
  }

  close(): void {
    clearTimeout(this.idleTimer);
    const child = this.child;
    this.child = undefined;
    child?.stdin.end();
    child?.kill('SIGTERM');
    this.failAll(new GitError('git cat-file closed'));
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn('git', ['--git-dir', this.gitDir, 'cat-file', '--batch'], {
      env: gitEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.header = [];
    this.body = undefined;
    this.stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += c.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (chunk: Buffer) => this.onData(child, chunk));
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.failAll(new GitError(`git cat-file failed: ${this.stderr.trim() || why}`));
    };
    child.on('error', (e) => gone(e.message));
    child.on('close', (code) => gone(`exited with ${code}`));
    return child;
  }

  private onData(child: ChildProcessWithoutNullStreams, chunk: Buffer): void {
    if (this.child !== child) return;
    let pos = 0;
    while (pos < chunk.length && this.pending.length > 0) {
      if (!this.body) {
        const nl = chunk.indexOf(0x0a, pos);
        if (nl < 0) {
          this.header.push(chunk.subarray(pos));
          return;
        }
        this.header.push(chunk.subarray(pos, nl));
        const fields = Buffer.concat(this.header).toString('utf8').split(' ');
        this.header = [];
        pos = nl + 1;
        const want = this.pending[0];
        if (fields[1] === 'missing' || fields[0] !== want.oid) {
          this.pending.shift();
          want.reject(new GitError(`object ${want.oid} not found`));
          continue;
        }
        // A non-blob's content follows all the same: read it, then refuse it.
        this.bodyType = fields[1];
        this.body = Buffer.allocUnsafe(Number(fields[2]) + 1); // + the trailing newline
        this.filled = 0;
      }
      const take = Math.min(this.body.length - this.filled, chunk.length - pos);
      chunk.copy(this.body, this.filled, pos, pos + take);
      this.filled += take;
      pos += take;
      if (this.filled === this.body.length) {
        const body = this.body;
        this.body = undefined;
        const p = this.pending.shift()!;
        if (this.bodyType !== 'blob')
          p.reject(new GitError(`object ${p.oid} is a ${this.bodyType}, not a blob`));
        else p.resolve(body.subarray(0, body.length - 1));
      }
    }
    if (this.pending.length === 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.close(), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.splice(0)) p.reject(e);
  }
}
