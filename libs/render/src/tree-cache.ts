import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GitCache, TreeEntry } from '../../git/src/index.js';
import { gitEnv } from '../../git/src/index.js';
import { RenderError } from './errors.js';
import { isSafeTreePath, PathEscapeError, resolveInside } from './paths.js';
import type { TreeLimits } from './types.js';

export const DEFAULT_TREE_LIMITS: TreeLimits = {
  maxEntries: 50_000,
  maxBytes: 256 * 1024 * 1024,
  maxFileBytes: 16 * 1024 * 1024,
  cacheSize: 8,
};

const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** A materialized tree in use; `release()` lets the cache delete it again. */
export interface TreeLease {
  /** Absolute directory holding the whole repository at the commit. */
  root: string;
  /**
   * Files larger than `maxFileBytes`, left out of the tree: a render fails on one only when it is
   * in the application's own directory (or its tool reads it), never because of one elsewhere.
   */
  withheld: string[];
  release(): void;
}

interface Tree {
  root: string;
  withheld: string[];
}

interface Entry {
  key: string;
  ready: Promise<Tree>;
  users: number;
  lastUsed: number;
  evicted: boolean;
}

/**
 * Whole-repository checkouts at a commit, on disk, for tools that read files (kustomize bases in
 * `../base`, helm value files, plugins). Files are written from git's object store directly (no
 * checkout filters, hooks or attributes run), sizes are checked before anything is written,
 * submodules become empty directories, and every symbolic link is checked to stay inside the
 * tree. Trees are shared read-only between renders, kept for the `cacheSize` most recently used
 * commits, and deleted when evicted and no longer in use.
 */
export class TreeCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly git: GitCache,
    private readonly dir: string,
    private readonly limits: TreeLimits,
  ) {}

  async acquire(repoURL: string, commit: string): Promise<TreeLease> {
    if (!COMMIT_RE.test(commit)) throw new RenderError(`"${commit}" is not a full commit SHA`);
    const key = createHash('sha256').update(`${repoURL}\0${commit}`).digest('hex').slice(0, 32);
    let e = this.entries.get(key);
    if (!e) {
      const created: Entry = {
        key,
        // Not derived from the repository and commit alone: a kustomization may name any
        // directory on disk (`resources: [../../<tree>/secrets]`), and another repository's tree
        // must not be one it can name (its project's sourceRepos, its credentials).
        ready: this.materialize(
          repoURL,
          commit,
          join(this.dir, `${key}-${randomBytes(16).toString('hex')}`),
        ),
        users: 0,
        lastUsed: Date.now(),
        evicted: false,
      };
      e = created;
      this.entries.set(key, created);
      created.ready.catch(() => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      });
    }
    const entry = e;
    entry.users++;
    entry.lastUsed = Date.now();
    let tree: Tree;
    try {
      tree = await entry.ready;
    } catch (err) {
      entry.users--;
      throw err;
    }
    this.evict();
    let released = false;
    return {
      root: tree.root,
      withheld: tree.withheld,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        entry.lastUsed = Date.now();
        if (entry.evicted && entry.users === 0) void this.remove(entry);
        else this.evict();
      },
    };
  }

  /** Deletes every tree not in use (and the rest when released). */
  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map(async (e) => {
        e.evicted = true;
        if (e.users === 0) await this.remove(e);
      }),
    );
  }

  private evict(): void {
    if (this.entries.size <= this.limits.cacheSize) return;
    const idle = [...this.entries.values()]
      .filter((e) => e.users === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of idle) {
      if (this.entries.size <= this.limits.cacheSize) break;
      this.entries.delete(e.key);
      e.evicted = true;
      void this.remove(e);
    }
  }

  private async remove(e: Entry): Promise<void> {
    const tree = await e.ready.catch(() => undefined);
    if (tree) await rm(tree.root, { recursive: true, force: true }).catch(() => undefined);
  }

  private async materialize(repoURL: string, commit: string, target: string): Promise<Tree> {
    const listed = await this.git.listTree(repoURL, commit, '', { dirs: true });
    const withheld = checkEntries(listed, this.limits);
    const skip = new Set(withheld);
    const entries = listed.filter((e) => !skip.has(e.path));
    const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`;
    await rm(target, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      const dirs = new Set<string>();
      for (const e of entries) {
        if (e.type === 'tree' || e.type === 'commit') dirs.add(e.path);
        else if (e.path.includes('/')) dirs.add(dirname(e.path));
      }
      for (const d of [...dirs].sort()) await mkdir(join(tmp, d), { recursive: true });
      const blobs = entries.filter((e) => e.type === 'blob');
      const links: { path: string; target: string }[] = [];
      await readBlobs(this.git.repoDir(repoURL), blobs, async (e, data) => {
        if (e.mode === '120000') {
          links.push({ path: e.path, target: data.toString('utf8') });
          return;
        }
        const file = join(tmp, e.path);
        await writeFile(file, data, { flag: 'wx' });
        if (e.mode === '100755') await chmod(file, 0o755);
      });
      for (const l of links) await symlink(l.target, join(tmp, l.path));
      await checkSymlinks(tmp, links);
      await rename(tmp, target);
      return { root: target, withheld };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
}

/** Checks the tree's bounds; returns the files too large to write (left out, see TreeLease). */
function checkEntries(entries: TreeEntry[], limits: TreeLimits): string[] {
  if (entries.length > limits.maxEntries) {
    throw new RenderError(`repository has more than ${limits.maxEntries} entries`);
  }
  let total = 0;
  const withheld: string[] = [];
  for (const e of entries) {
    if (!isSafeTreePath(e.path)) throw new RenderError(`unsafe path in repository: "${e.path}"`);
    if (e.type !== 'blob') continue;
    if (e.size > limits.maxFileBytes) {
      withheld.push(e.path);
      continue;
    }
    total += e.size;
    if (total > limits.maxBytes) {
      throw new RenderError(`repository files add up to more than ${limits.maxBytes} bytes`);
    }
  }
  return withheld;
}

/** Every symbolic link must resolve (through other links) to a place inside the tree. */
async function checkSymlinks(root: string, links: { path: string; target: string }[]) {
  for (const l of links) {
    try {
      if (l.target.startsWith('/')) throw new PathEscapeError('absolute target');
      await resolveInside(root, `${dirname(l.path)}/${l.target}`);
    } catch (e) {
      if (!(e instanceof PathEscapeError)) throw e;
      throw new RenderError(
        `symbolic link ${l.path} -> ${l.target} points outside the repository`,
        undefined,
        undefined,
        undefined,
        { cause: e },
      );
    }
  }
}

/** Streams the blobs through one `git cat-file --batch`, calling `onBlob` in order. */
async function readBlobs(
  gitDir: string,
  blobs: TreeEntry[],
  onBlob: (e: TreeEntry, data: Buffer) => Promise<void>,
): Promise<void> {
  if (blobs.length === 0) return;
  const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], {
    env: gitEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  exited.catch(() => undefined);
  child.stdin.on('error', () => undefined);
  child.stdin.end(blobs.map((b) => `${b.oid}\n`).join(''));
  // Output: per object "<oid> blob <size>\n" + <size> bytes + "\n". Copied once into a buffer
  // of the announced size (sizes were checked against the limits before).
  let header: Buffer[] = [];
  let body: Buffer | undefined;
  let filled = 0;
  let i = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let pos = 0;
      while (pos < chunk.length && i < blobs.length) {
        if (!body) {
          const nl = chunk.indexOf(0x0a, pos);
          if (nl < 0) {
            header.push(chunk.subarray(pos));
            break;
          }
          header.push(chunk.subarray(pos, nl));
          const fields = Buffer.concat(header).toString('utf8').split(' ');
          header = [];
          pos = nl + 1;
          const size = Number(fields[2]);
          if (fields[1] !== 'blob' || size !== blobs[i].size) {
            throw new RenderError(`git cat-file: unexpected "${fields.join(' ')}"`);
          }
          body = Buffer.allocUnsafe(size + 1); // + the trailing newline
          filled = 0;
        }
        const take = Math.min(body.length - filled, chunk.length - pos);
        chunk.copy(body, filled, pos, pos + take);
        filled += take;
        pos += take;
        if (filled === body.length) {
          const data = body.subarray(0, body.length - 1);
          body = undefined;
          await onBlob(blobs[i++], data);
        }
      }
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const code = await exited;
  if (i < blobs.length || code !== 0) {
    throw new RenderError(`reading the repository failed: ${stderr.trim() || `status ${code}`}`);
  }
}
