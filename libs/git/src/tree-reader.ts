import type { GitTreeReader } from '../../generators/src/index.js';
import { GitCache, GitError, type TreeEntry } from './git-cache.js';

/**
 * The generators' view of git: whole trees at a commit, read through the bare-clone cache.
 * Listings are cached per (repository, commit): a commit never changes, and one ApplicationSet
 * evaluation (or many) may ask for the same tree many times.
 */
export class CachedTreeReader implements GitTreeReader {
  private readonly trees = new Map<string, Promise<TreeEntry[]>>();
  private static readonly MAX_TREES = 64;

  constructor(
    private readonly git: GitCache,
    private readonly maxFileBytes = 4 * 1024 * 1024,
    /** How revisions are resolved (the hub passes one that keeps replicas in step). */
    private readonly resolver: (url: string, revision: string) => Promise<string> = (u, r) =>
      git.resolve(u, r),
  ) {}

  resolve(repoURL: string, revision: string): Promise<string> {
    return this.resolver(repoURL, revision || 'HEAD');
  }

  async listDirectories(repoURL: string, commit: string): Promise<string[]> {
    return (await this.tree(repoURL, commit)).filter((e) => e.type === 'tree').map((e) => e.path);
  }

  async listFiles(repoURL: string, commit: string): Promise<string[]> {
    return (await this.tree(repoURL, commit))
      .filter((e) => e.type === 'blob' && e.mode !== '120000')
      .map((e) => e.path);
  }

  async readFile(repoURL: string, commit: string, path: string): Promise<Buffer> {
    const entry = (await this.tree(repoURL, commit)).find((e) => e.path === path);
    if (!entry || entry.type !== 'blob')
      throw new GitError(`${path}: no such file at ${commit.slice(0, 12)}`);
    if (entry.mode === '120000') throw new GitError(`${path}: symbolic links are not followed`);
    if (entry.size > this.maxFileBytes)
      throw new GitError(`${path}: file is larger than ${this.maxFileBytes} bytes`);
    return this.git.readBlobBytes(repoURL, entry.oid);
  }

  private tree(repoURL: string, commit: string): Promise<TreeEntry[]> {
    const key = `${repoURL}\0${commit}`;
    let t = this.trees.get(key);
    if (!t) {
      t = this.git.listTree(repoURL, commit, '', { dirs: true });
      t.catch(() => this.trees.delete(key));
      this.trees.set(key, t);
      if (this.trees.size > CachedTreeReader.MAX_TREES)
        this.trees.delete(this.trees.keys().next().value!);
    }
    return t;
  }
}
