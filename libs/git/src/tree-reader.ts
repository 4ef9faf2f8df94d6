import type { GitTreeReader } from '../../generators/src/index.js';
import { GitCache, GitError, type TreeEntry } from './git-cache.js';

/** One cached listing: its entries, and an index by path built at the first file read. */
interface Tree {
  entries: TreeEntry[];
  byPath?: Map<string, TreeEntry>;
}

export interface TreeReaderLimits {
  /** Largest file the generators may read. Default 4 MiB. */
  maxFileBytes: number;
  /** Most entries (files and directories) a tree the generators list may have. Default 1,000,000. */
  maxTreeEntries: number;
  /** Most entries kept in memory over all cached trees. Default 500,000. */
  maxCachedEntries: number;
}

const DEFAULT_LIMITS: TreeReaderLimits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxTreeEntries: 1_000_000,
  maxCachedEntries: 500_000,
};

/**
 * The generators' view of git: whole trees at a commit, read through the bare-clone cache.
 * Listings are cached per (repository, commit): a commit never changes, and one ApplicationSet
 * evaluation (or many) may ask for the same tree many times. The cache is bounded by the entries
 * it holds (the least recently used trees go first), and a tree larger than `maxTreeEntries` is
 * refused: a monorepo of millions of files is not listed into memory once per evaluation.
 */
export class CachedTreeReader implements GitTreeReader {
  private readonly trees = new Map<string, Promise<Tree>>();
  /** Entries held by the settled listings in `trees`. */
  private held = 0;
  private readonly sizes = new Map<string, number>();
  private readonly limits: TreeReaderLimits;

  constructor(
    private readonly git: GitCache,
    limits: number | Partial<TreeReaderLimits> = {},
    /** How revisions are resolved (the hub passes one that keeps replicas in step). */
    private readonly resolver: (url: string, revision: string) => Promise<string> = (u, r) =>
      git.resolve(u, r),
  ) {
    this.limits = {
      ...DEFAULT_LIMITS,
      ...(typeof limits === 'number' ? { maxFileBytes: limits } : limits),
    };
  }

  resolve(repoURL: string, revision: string): Promise<string> {
    return this.resolver(repoURL, revision || 'HEAD');
  }

  async listDirectories(repoURL: string, commit: string): Promise<string[]> {
    return (await this.tree(repoURL, commit)).entries
      .filter((e) => e.type === 'tree')
      .map((e) => e.path);
  }

  async listFiles(repoURL: string, commit: string): Promise<string[]> {
    return (await this.tree(repoURL, commit)).entries
      .filter((e) => e.type === 'blob' && e.mode !== '120000')
      .map((e) => e.path);
  }

  async readFile(repoURL: string, commit: string, path: string): Promise<Buffer> {
    const tree = await this.tree(repoURL, commit);
    tree.byPath ??= new Map(tree.entries.map((e) => [e.path, e]));
    const entry = tree.byPath.get(path);
    if (!entry || entry.type !== 'blob')
      throw new GitError(`${path}: no such file at ${commit.slice(0, 12)}`);
    if (entry.mode === '120000') throw new GitError(`${path}: symbolic links are not followed`);
    if (entry.size > this.limits.maxFileBytes)
      throw new GitError(`${path}: file is larger than ${this.limits.maxFileBytes} bytes`);
    return this.git.readBlobBytes(repoURL, entry.oid);
  }

  private tree(repoURL: string, commit: string): Promise<Tree> {
    const key = `${repoURL}\0${commit}`;
    const hit = this.trees.get(key);
    if (hit) {
      // Most recently used last: eviction takes the first.
      this.trees.delete(key);
      this.trees.set(key, hit);
      return hit;
    }
    const max = this.limits.maxTreeEntries;
    const t = this.git.listTree(repoURL, commit, '', { dirs: true }).then((entries) => {
      if (entries.length > max) {
        throw new TreeTooLarge(
          `the tree of ${repoURL} at ${commit.slice(0, 12)} has ${entries.length} entries, more than ${max}, the most the git generators list`,
        );
      }
      return { entries };
    });
    this.trees.set(key, t);
    t.then(
      (tree) => this.settled(key, t, tree.entries.length),
      (e: unknown) => {
        // A commit's tree never changes: its refusal is kept like a listing (costing nothing),
        // not listed again for every read. Other failures (git away) are tried again.
        if (e instanceof TreeTooLarge) this.settled(key, t, 1);
        else if (this.trees.get(key) === t) this.trees.delete(key);
      },
    );
    return t;
  }

  /**
   * A listing arrived: it counts against the cache's bound, the least recently used go until it
   * fits. It stays itself, however large (it is in use: the files it lists are read next).
   */
  private settled(key: string, t: Promise<Tree>, size: number): void {
    if (this.trees.get(key) !== t) return; // evicted while it was listed
    this.sizes.set(key, size);
    this.held += size;
    for (const k of this.trees.keys()) {
      if (this.held <= this.limits.maxCachedEntries) break;
      const n = this.sizes.get(k);
      if (n === undefined || k === key) continue; // still being listed, or the one just read
      this.trees.delete(k);
      this.sizes.delete(k);
      this.held -= n;
    }
  }
}

/** A tree the generators refuse for its size (kept like a listing: a commit never changes). */
class TreeTooLarge extends GitError {}
