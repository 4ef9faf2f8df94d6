import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { CatFileBatch } from './cat-file.js';
import { GitError } from './errors.js';
import { GIT_OPTIONS, gitEnv } from './git-env.js';
import { runGit } from './run-git.js';
import { SizedPromiseCache } from './sized-cache.js';

export { GitError, GIT_OPTIONS, gitEnv };

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  size: number;
  /** Path relative to the repository root. */
  path: string;
}

/** How to authenticate to a repository; resolved per URL when fetching. */
export type GitCredentials =
  | { type: 'https'; username: string; password: string }
  | { type: 'ssh'; privateKey: string; knownHosts: string };

export type CredentialsLookup = (url: string) => Promise<GitCredentials | undefined>;

/** How long git may take against a remote. */
export interface GitTimeouts {
  /** Git is stopped after this long without any output (a stalled connection). */
  inactivityMs: number;
  /**
   * Git is stopped when a fetch takes longer than this in all, whatever it prints: a server
   * trickling `remote:` messages keeps the inactivity timeout from ever firing. Defaults to
   * {@link DEADLINE_PER_INACTIVITY} times the inactivity timeout.
   */
  deadlineMs?: number;
}

/** The deadline of a fetch when only the inactivity timeout is given, as a multiple of it. */
export const DEADLINE_PER_INACTIVITY = 5;
/** After its deadline, how long a stopped git may take to exit before the fetch fails anyway. */
const KILL_GRACE_MS = 5_000;

const SHA_RE = /^[0-9a-f]{40}$/;
/** An abbreviated commit SHA, as Argo CD accepts in targetRevision (7 to 39 hex digits). */
const SHORT_SHA_RE = /^[0-9a-f]{7,39}$/;

/** Whole-tree listings kept per (repository, commit): commits never change. */
const TREE_CACHE_ENTRIES = 16;
/** Trees with more entries are listed path by path instead of kept whole. */
const TREE_CACHE_MAX_ENTRIES = 200_000;
/** Entries kept over all cached trees (each about 200 bytes): the oldest trees go first. */
const TREE_CACHE_TOTAL_ENTRIES = 400_000;

/**
 * A cache of bare clones, one per repository URL, driven through simple-git.
 * Fetches are coalesced: concurrent callers for one repository share a single `git fetch`.
 */
export class GitCache {
  private readonly inflight = new Map<string, Promise<Record<string, string>>>();
  /** The forced fetch that starts once the running one ends, shared by every forced caller. */
  private readonly forcedNext = new Map<string, Promise<Record<string, string>>>();
  private readonly failures = new Map<string, { at: number; error: Error }>();
  private readonly refsCache = new Map<string, Record<string, string>>();
  private readonly trees = new SizedPromiseCache<TreeEntry[] | undefined>({
    maxCount: TREE_CACHE_ENTRIES,
    maxSize: TREE_CACHE_TOTAL_ENTRIES,
    size: (all) => all?.length ?? 0,
  });
  private readonly blobReaders = new Map<string, CatFileBatch>();
  private readonly timeoutMs: number;
  /** Wall-clock limit of one fetch (every git run against the remote it makes, together). */
  readonly deadlineMs: number;

  constructor(
    private readonly dir: string,
    /** The inactivity timeout in milliseconds, or both timeouts. */
    timeouts: number | GitTimeouts,
    private readonly failureBackoffMs = 5_000,
    private readonly credentials: CredentialsLookup = () => Promise.resolve(undefined),
    /** Told about every git fetch that ran (metrics). */
    private readonly onFetch: (url: string, ok: boolean) => void = () => undefined,
  ) {
    const t = typeof timeouts === 'number' ? { inactivityMs: timeouts } : timeouts;
    this.timeoutMs = t.inactivityMs;
    this.deadlineMs = t.deadlineMs ?? t.inactivityMs * DEADLINE_PER_INACTIVITY;
  }

  /** Local directory of the bare clone for `url`. */
  repoDir(url: string): string {
    return join(this.dir, createHash('sha256').update(url).digest('hex').slice(0, 24) + '.git');
  }

  /** simple-git for local work in `cwd` (fetches run through {@link runGit}). */
  private git(cwd: string): SimpleGit {
    return simpleGit({
      ...GIT_OPTIONS,
      baseDir: cwd,
      timeout: { block: this.timeoutMs },
    }).env(gitEnv());
  }

  /**
   * Credentials travel in the environment of the one git process that needs them (never in argv,
   * the URL or the clone's config): HTTPS as an Authorization header, SSH as a key and known_hosts
   * file in a private temporary directory removed afterwards.
   */
  private async authEnv(
    url: string,
  ): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
    const creds = await this.credentials(url);
    if (!creds) return { env: {}, cleanup: () => Promise.resolve() };
    if (creds.type === 'https') {
      const basic = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
      return {
        env: {
          GIT_CONFIG_COUNT: '1',
          GIT_CONFIG_KEY_0: 'http.extraHeader',
          GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
        },
        cleanup: () => Promise.resolve(),
      };
    }
    const dir = await mkdtemp(join(tmpdir(), 'axle-ssh-'));
    const key = creds.privateKey.endsWith('\n') ? creds.privateKey : `${creds.privateKey}\n`;
    await writeFile(join(dir, 'key'), key, { mode: 0o600 });
    await writeFile(join(dir, 'known_hosts'), creds.knownHosts, { mode: 0o600 });
    return {
      env: {
        GIT_SSH_COMMAND: `ssh -i ${shellQuote(join(dir, 'key'))} -o IdentitiesOnly=yes -o UserKnownHostsFile=${shellQuote(join(dir, 'known_hosts'))} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }

  /**
   * Fetches every branch and tag plus the remote HEAD; returns ref → commit. Coalesced per URL.
   * After a failure, callers within the next few seconds get the same error without another
   * attempt (many applications reading one broken repository must not hammer it); `force`
   * (webhooks, polls) always tries.
   */
  fetch(url: string, opts: { force?: boolean } = {}): Promise<Record<string, string>> {
    const running = this.inflight.get(url);
    // A forced fetch (webhook) must see what was pushed after a running fetch started: it waits
    // for one that starts after it. Every forced caller meanwhile shares that one (ten webhooks
    // at once were ten fetches in a row).
    if (running && opts.force) {
      let next = this.forcedNext.get(url);
      if (!next) {
        next = running
          .catch(() => undefined)
          .then(() => {
            this.forcedNext.delete(url);
            return this.fetch(url, opts);
          });
        this.forcedNext.set(url, next);
      }
      return next;
    }
    if (running) return running;
    const failed = this.failures.get(url);
    if (failed && !opts.force && Date.now() - failed.at < this.failureBackoffMs)
      return Promise.reject(failed.error);
    const p = this.fetchWithinDeadline(url)
      .then(
        (refs) => {
          this.onFetch(url, true);
          this.failures.delete(url);
          return refs;
        },
        (e: unknown) => {
          this.onFetch(url, false);
          const error = e instanceof Error ? e : new GitError(String(e));
          this.failures.set(url, { at: Date.now(), error });
          throw error;
        },
      )
      .finally(() => this.inflight.delete(url));
    this.inflight.set(url, p);
    return p;
  }

  /**
   * {@link doFetch} within the deadline: git is stopped when it passes, and the fetch fails then
   * (at the latest a few seconds later, should git not exit at once).
   */
  private fetchWithinDeadline(url: string): Promise<Record<string, string>> {
    const abort = new AbortController();
    const error = () =>
      new GitError(
        `fetching ${redactUrl(url)} failed: not done within the ${formatMs(this.deadlineMs)} deadline (git stopped)`,
      );
    let rejectLate: (e: Error) => void = () => undefined;
    const late = new Promise<never>((_, reject) => (rejectLate = reject));
    let backstop: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      abort.abort();
      backstop = setTimeout(() => rejectLate(error()), KILL_GRACE_MS);
    }, this.deadlineMs);
    const fetched = this.doFetch(url, abort.signal).catch((e: unknown) => {
      throw abort.signal.aborted ? error() : e;
    });
    return Promise.race([fetched, late]).finally(() => {
      clearTimeout(deadline);
      clearTimeout(backstop);
    });
  }

  private async doFetch(url: string, abort: AbortSignal): Promise<Record<string, string>> {
    const dir = this.repoDir(url);
    // A clone whose creation stopped half-way (a crash, a full disk) has HEAD but no origin: made
    // again, or every fetch would fail for good.
    if (!(await hasOrigin(dir))) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await this.git(dir).raw(['init', '--bare', '--quiet']);
      await this.git(dir).raw(['remote', 'add', 'origin', '--', url]);
    }
    const auth = await this.authEnv(url);
    const branchesAndTags = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];
    const fetch = (refspecs: string[]) =>
      runGit(
        [
          // curl gives up by itself on a transfer stalled for the inactivity timeout.
          ...['-c', 'http.lowSpeedLimit=1'],
          ...['-c', `http.lowSpeedTime=${Math.max(1, Math.ceil(this.timeoutMs / 1000))}`],
          'fetch',
          '--prune',
          '--no-tags',
          '--quiet',
          'origin',
          ...refspecs,
        ],
        {
          cwd: dir,
          // Only our own credential settings set GIT_* here; the caller's environment is scrubbed.
          env: { ...gitEnv(), ...auth.env },
          inactivityMs: this.timeoutMs,
          signal: abort,
        },
      );
    try {
      try {
        await fetch(['+HEAD:refs/axle/HEAD', ...branchesAndTags]);
      } catch (e) {
        // The remote's HEAD names a branch that does not exist (a default branch renamed on a
        // bare server): its branches and tags are still fetched; HEAD resolves to nothing.
        if (!/couldn't find remote ref HEAD/i.test(cleanGitError(e))) throw e;
        await fetch(branchesAndTags);
        await this.git(dir).raw(['update-ref', '-d', 'refs/axle/HEAD']);
      }
    } catch (e) {
      const text = cleanGitError(e);
      const auth =
        /could not read (Username|Password)|Authentication failed|Permission denied \(publickey|HTTP 40[13]/i.test(
          text,
        );
      throw new GitError(
        `fetching ${redactUrl(url)} failed: ${auth ? 'authentication required or refused (add repository credentials): ' : ''}${text}`,
      );
    } finally {
      await auth.cleanup();
      // Readers during the fetch may have cached the old refs: read them anew.
      this.refsCache.delete(url);
    }
    return this.refs(url);
  }

  /** ref name → commit (tags peeled) from the local clone, without fetching. */
  async refs(url: string): Promise<Record<string, string>> {
    // Refs only move when this cache fetches: answer from memory between fetches (a reconcile
    // resolves a revision every time; spawning git for it dominated its cost).
    const known = this.refsCache.get(url);
    if (known) return known;
    const out = await this.git(this.repoDir(url)).raw([
      'for-each-ref',
      '--format=%(refname) %(objectname) %(*objectname)',
    ]);
    const refs: Record<string, string> = {};
    for (const line of out.split('\n')) {
      const [name, oid, peeled] = line.trim().split(' ');
      if (name && oid) refs[name] = peeled || oid;
    }
    this.refsCache.set(url, refs);
    return refs;
  }

  /**
   * Resolves a branch, tag, `HEAD`, full or abbreviated commit SHA to a commit, from the local
   * clone when it has the answer and after a fetch otherwise. A branch or tag wins over a commit
   * whose SHA starts the same; an abbreviation of several commits resolves to nothing (one that
   * also starts a tree or blob resolves to the commit).
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
    const ref = refs[`refs/heads/${revision}`] ?? refs[`refs/tags/${revision}`];
    if (ref || !SHORT_SHA_RE.test(revision)) return ref;
    const full = await this.git(this.repoDir(url))
      .raw(['rev-parse', '--verify', '--quiet', `${revision}^{commit}`])
      .catch(() => '');
    return SHA_RE.test(full.trim()) ? full.trim() : undefined;
  }

  /**
   * Every entry below `path` at `commit` (recursive; with `dirs`, directories too). Throws when a
   * non-empty path does not exist. The whole tree of a commit is listed once and kept (bounded):
   * many applications of one repository read many paths of the same commit.
   */
  async listTree(
    url: string,
    commit: string,
    path: string,
    opts: { dirs?: boolean } = {},
  ): Promise<TreeEntry[]> {
    const whole = await this.wholeTree(url, commit);
    const entries = whole
      ? whole.filter(
          (e) =>
            (opts.dirs || e.type !== 'tree') &&
            (!path || e.path === path || e.path.startsWith(`${path}/`)),
        )
      : await this.lsTree(url, commit, path, opts.dirs ?? false);
    if (path && entries.length === 0) {
      throw new GitError(`path "${path}" does not exist at commit ${commit.slice(0, 12)}`);
    }
    return entries;
  }

  /** The whole tree of a commit (directories included), or undefined when it is too large. */
  private wholeTree(url: string, commit: string): Promise<TreeEntry[] | undefined> {
    return this.trees.get(`${url}\0${commit}`, () =>
      this.lsTree(url, commit, '', true).then((all) =>
        all.length > TREE_CACHE_MAX_ENTRIES ? undefined : all,
      ),
    );
  }

  private async lsTree(
    url: string,
    commit: string,
    path: string,
    dirs: boolean,
  ): Promise<TreeEntry[]> {
    const out = await this.git(this.repoDir(url)).raw([
      'ls-tree',
      '-r',
      ...(dirs ? ['-t'] : []),
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
    return entries;
  }

  /**
   * Paths that differ between two commits (added, deleted, modified; renames as delete + add),
   * or undefined when more than `limit` do (then treat everything as changed).
   */
  async changedPaths(
    url: string,
    from: string,
    to: string,
    limit = 10_000,
  ): Promise<string[] | undefined> {
    if (!SHA_RE.test(from) || !SHA_RE.test(to))
      throw new GitError('changedPaths needs two commits');
    const out = await this.git(this.repoDir(url)).raw([
      'diff',
      '--name-only',
      '--no-renames',
      '-z',
      from,
      to,
      '--',
    ]);
    const paths = out.split('\0').filter(Boolean);
    return paths.length > limit ? undefined : paths;
  }

  /** A blob's content as text, read through the repository's long-lived `git cat-file --batch`. */
  async readBlob(url: string, oid: string): Promise<string> {
    return (await this.readBlobBytes(url, oid)).toString('utf8');
  }

  async readBlobBytes(url: string, oid: string): Promise<Buffer> {
    const dir = this.repoDir(url);
    let reader = this.blobReaders.get(dir);
    if (!reader) {
      reader = new CatFileBatch(dir);
      this.blobReaders.set(dir, reader);
    }
    return reader.read(oid);
  }

  /** Stops the long-lived git processes (they also stop by themselves when idle). */
  close(): void {
    for (const r of this.blobReaders.values()) r.close();
    this.blobReaders.clear();
  }
}

function shellQuote(p: string): string {
  return `'${p.replace(/'/g, `'\\''`)}'`;
}

/** `url` without the user and password it may hold (error messages are logged and stored). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
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

/** Whether `dir` holds a clone made to the end (`remote add origin` done). */
async function hasOrigin(dir: string): Promise<boolean> {
  if (!existsSync(join(dir, 'HEAD'))) return false;
  const config = await readFile(join(dir, 'config'), 'utf8').catch(() => '');
  return config.includes('[remote "origin"]');
}
