import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  size: number;
  /** Path relative to the repository root. */
  path: string;
}

export class GitError extends Error {}

const SHA_RE = /^[0-9a-f]{40}$/;

/**
 * A cache of bare clones, one per repository URL, driven through simple-git.
 * Fetches are coalesced: concurrent callers for one repository share a single `git fetch`.
 */
export class GitCache {
  private readonly inflight = new Map<string, Promise<Record<string, string>>>();
  private readonly failures = new Map<string, { at: number; error: unknown }>();

  constructor(
    private readonly dir: string,
    private readonly timeoutMs: number,
    private readonly failureBackoffMs = 5_000,
  ) {}

  /** Local directory of the bare clone for `url`. */
  repoDir(url: string): string {
    return join(this.dir, createHash('sha256').update(url).digest('hex').slice(0, 24) + '.git');
  }

  private git(cwd: string): SimpleGit {
    return simpleGit({ ...GIT_OPTIONS, baseDir: cwd, timeout: { block: this.timeoutMs } }).env(
      gitEnv(),
    );
  }

  /**
   * Fetches every branch and tag plus the remote HEAD; returns ref → commit. Coalesced per URL.
   * After a failure, callers within the next few seconds get the same error without another
   * attempt (many applications reading one broken repository must not hammer it); `force`
   * (webhooks, polls) always tries.
   */
  fetch(url: string, opts: { force?: boolean } = {}): Promise<Record<string, string>> {
    const running = this.inflight.get(url);
    if (running) return running;
    const failed = this.failures.get(url);
    if (failed && !opts.force && Date.now() - failed.at < this.failureBackoffMs)
      return Promise.reject(failed.error);
    const p = this.doFetch(url)
      .then(
        (refs) => {
          this.failures.delete(url);
          return refs;
        },
        (error: unknown) => {
          this.failures.set(url, { at: Date.now(), error });
          throw error;
        },
      )
      .finally(() => this.inflight.delete(url));
    this.inflight.set(url, p);
    return p;
  }

  private async doFetch(url: string): Promise<Record<string, string>> {
    const dir = this.repoDir(url);
    if (!existsSync(join(dir, 'HEAD'))) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await this.git(dir).raw(['init', '--bare', '--quiet']);
      await this.git(dir).raw(['remote', 'add', 'origin', '--', url]);
    }
    try {
      await this.git(dir).raw([
        'fetch',
        '--prune',
        '--no-tags',
        '--quiet',
        'origin',
        '+HEAD:refs/axle/HEAD',
        '+refs/heads/*:refs/heads/*',
        '+refs/tags/*:refs/tags/*',
      ]);
    } catch (e) {
      throw new GitError(`fetching ${url} failed: ${cleanGitError(e)}`);
    }
    return this.refs(url);
  }

  /** ref name → commit (tags peeled) from the local clone, without fetching. */
  async refs(url: string): Promise<Record<string, string>> {
    const out = await this.git(this.repoDir(url)).raw([
      'for-each-ref',
      '--format=%(refname) %(objectname) %(*objectname)',
    ]);
    const refs: Record<string, string> = {};
    for (const line of out.split('\n')) {
      const [name, oid, peeled] = line.trim().split(' ');
      if (name && oid) refs[name] = peeled || oid;
    }
    return refs;
  }

  /**
   * Resolves a branch, tag, `HEAD` or full commit SHA to a commit, from the local clone when it
   * has the answer and after a fetch otherwise.
   */
  async resolve(url: string, revision: string, opts: { fetch?: boolean } = {}): Promise<string> {
    if (opts.fetch || !existsSync(join(this.repoDir(url), 'HEAD'))) await this.fetch(url);
    let sha = await this.lookup(url, revision);
    if (!sha && !opts.fetch) {
      await this.fetch(url);
      sha = await this.lookup(url, revision);
    }
    if (!sha) throw new GitError(`revision "${revision}" not found in ${url}`);
    return sha;
  }

  private async lookup(url: string, revision: string): Promise<string | undefined> {
    if (SHA_RE.test(revision)) {
      const t = await this.git(this.repoDir(url))
        .raw(['cat-file', '-t', revision])
        .catch(() => '');
      return t.trim() === 'commit' ? revision : undefined;
    }
    const refs = await this.refs(url);
    if (revision === 'HEAD') return refs['refs/axle/HEAD'];
    return refs[`refs/heads/${revision}`] ?? refs[`refs/tags/${revision}`];
  }

  /**
   * Every entry below `path` at `commit` (recursive; with `dirs`, directories too). Throws when a
   * non-empty path does not exist.
   */
  async listTree(
    url: string,
    commit: string,
    path: string,
    opts: { dirs?: boolean } = {},
  ): Promise<TreeEntry[]> {
    const out = await this.git(this.repoDir(url)).raw([
      'ls-tree',
      '-r',
      ...(opts.dirs ? ['-t'] : []),
      '-z',
      '-l',
      '--full-tree',
      commit,
      '--',
      ...(path ? [path] : []),
    ]);
    const entries: TreeEntry[] = [];
    for (const rec of out.split('\0')) {
      if (!rec) continue;
      const tab = rec.indexOf('\t');
      const [mode, type, oid, size] = rec.slice(0, tab).split(/ +/);
      const p = rec.slice(tab + 1);
      if (path && p !== path && !p.startsWith(`${path}/`)) continue;
      entries.push({
        mode,
        type: type as TreeEntry['type'],
        oid,
        size: size === '-' ? 0 : Number(size),
        path: p,
      });
    }
    if (path && entries.length === 0) {
      throw new GitError(`path "${path}" does not exist at commit ${commit.slice(0, 12)}`);
    }
    return entries;
  }

  async readBlob(url: string, oid: string): Promise<string> {
    return this.git(this.repoDir(url)).raw(['cat-file', 'blob', oid]);
  }
}

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

function cleanGitError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 3)
    .join(' ')
    .slice(0, 500);
}
