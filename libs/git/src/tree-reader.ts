import type { GitTreeReader } from '../../generators/src/index.js';
import { GitCache, GitError, type TreeEntry } from './git-cache.js';
import { SizedPromiseCache } from './sized-cache.js';

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
  private readonly trees: SizedPromiseCache<Tree>;
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
    this.trees = new SizedPromiseCache<Tree>({
      maxCount: Infinity,
      maxSize: this.limits.maxCachedEntries,
      size: (t) => t.entries.length,
      // A commit's tree never changes: its refusal is final, not listed again for every read.
      keepRejection: (e) => e instanceof TreeTooLarge,
    });
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
    const max = this.limits.maxTreeEntries;
    return this.trees.get(`${repoURL}\0${commit}`, async () => {
      const entries = await this.git.listTree(repoURL, commit, '', { dirs: true });
      if (entries.length > max) {
        throw new TreeTooLarge(
          `the tree of ${repoURL} at ${commit.slice(0, 12)} has ${entries.length} entries, more than ${max}, the most the git generators list`,
        );
      }
      return { entries };
    });
  }
}

/** A tree the generators refuse for its size (kept like a listing: a commit never changes). */
class TreeTooLarge extends GitError {}
