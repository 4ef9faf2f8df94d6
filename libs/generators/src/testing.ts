import type { GitTreeReader } from './types.js';

/** One repository of a {@link MemoryGitTree}. */
export interface MemoryRepo {
  /** path → content of the default tree. */
  files: Record<string, string | Buffer>;
  /** Extra (possibly empty) directories; directories of files are derived automatically. */
  dirs?: string[];
  /** revision → files, for trees that differ per revision. Other revisions see `files`. */
  revisions?: Record<string, Record<string, string | Buffer>>;
}

/**
 * An in-memory {@link GitTreeReader} for tests. `resolve` returns `sha:<revision>`; call counts
 * are recorded in `calls`.
 */
export class MemoryGitTree implements GitTreeReader {
  readonly calls = { resolve: 0, listDirectories: 0, listFiles: 0, readFile: 0 };

  constructor(
    private readonly repos: Record<string, MemoryRepo>,
    private readonly maxFileBytes = 1024 * 1024,
  ) {}

  private files(repoURL: string, commit: string): Record<string, string | Buffer> {
    const repo = this.repos[repoURL];
    if (!repo) throw new Error(`repository not found: ${repoURL}`);
    const rev = commit.startsWith('sha:') ? commit.slice(4) : commit;
    return repo.revisions?.[rev] ?? repo.files;
  }

  resolve(repoURL: string, revision: string): Promise<string> {
    this.calls.resolve++;
    if (!this.repos[repoURL]) return Promise.reject(new Error(`repository not found: ${repoURL}`));
    return Promise.resolve(`sha:${revision}`);
  }

  listDirectories(repoURL: string, commit: string): Promise<string[]> {
    this.calls.listDirectories++;
    try {
      const dirs = new Set<string>(this.repos[repoURL]?.dirs ?? []);
      for (const f of Object.keys(this.files(repoURL, commit))) {
        const parts = f.split('/');
        for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
      }
      return Promise.resolve([...dirs]);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  listFiles(repoURL: string, commit: string): Promise<string[]> {
    this.calls.listFiles++;
    try {
      return Promise.resolve(Object.keys(this.files(repoURL, commit)));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  readFile(repoURL: string, commit: string, path: string): Promise<Buffer> {
    this.calls.readFile++;
    let content: string | Buffer | undefined;
    try {
      content = this.files(repoURL, commit)[path];
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    if (content === undefined) return Promise.reject(new Error(`file not found: ${path}`));
    const buf = typeof content === 'string' ? Buffer.from(content) : content;
    if (buf.length > this.maxFileBytes) return Promise.reject(new Error(`file too large: ${path}`));
    return Promise.resolve(buf);
  }
}
