import { hash } from 'node:crypto';
import type { GitTreeReader } from '../../generators/src/index.js';

/** One read a generator made: of which repository, at which revision (as the spec names it). */
export interface GitRead {
  url: string;
  revision: string;
  op: 'directories' | 'files' | 'file';
  path?: string;
}

/** A read and a digest of what it returned. */
export interface RecordedRead extends GitRead {
  digest: string;
}

/** More reads than this are not worth replaying (a git files generator over many files). */
export const MAX_RECORDED_READS = 200;

/**
 * A GitTreeReader that notes what the generators read through it, and a digest of each answer.
 * Replayed at the revisions' current commits (replayReads), the same digests mean the
 * generators would read the same again: a commit that leaves the listings and the files they
 * read as they were changes nothing they generate. A read that failed, or too many reads, leave
 * nothing to replay (`recorded()` is undefined).
 */
export class RecordingTreeReader implements GitTreeReader {
  /** `url \0 commit` → every revision that resolved to it. */
  private readonly revisions = new Map<string, Set<string>>();
  /** Reads by commit (`revision` is the commit here): see recorded(). */
  private readonly reads = new Map<string, RecordedRead>();
  private failed = false;

  constructor(private readonly inner: GitTreeReader) {}

  async resolve(url: string, revision: string): Promise<string> {
    try {
      const commit = await this.inner.resolve(url, revision);
      const k = `${url}\0${commit}`;
      const set = this.revisions.get(k) ?? new Set<string>();
      this.revisions.set(k, set.add(revision));
      return commit;
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  listDirectories(url: string, commit: string): Promise<string[]> {
    return this.note(url, commit, 'directories', undefined, () =>
      this.inner.listDirectories(url, commit),
    );
  }

  listFiles(url: string, commit: string): Promise<string[]> {
    return this.note(url, commit, 'files', undefined, () => this.inner.listFiles(url, commit));
  }

  readFile(url: string, commit: string, path: string): Promise<Buffer> {
    return this.note(url, commit, 'file', path, () => this.inner.readFile(url, commit, path));
  }

  /**
   * What was read, in a stable order; undefined when it cannot stand for the reads. A read is
   * recorded under every revision that resolved to its commit: two branches at one commit are
   * read once (reads are cached by commit), yet either may move on its own.
   */
  recorded(): RecordedRead[] | undefined {
    if (this.failed) return undefined;
    const out = new Map<string, RecordedRead>();
    for (const r of this.reads.values()) {
      const revisions = this.revisions.get(`${r.url}\0${r.revision}`) ?? [r.revision];
      for (const revision of revisions) {
        const x = { ...r, revision };
        out.set(readKey(x), x);
      }
    }
    if (out.size > MAX_RECORDED_READS) return undefined;
    return [...out.values()].sort((a, b) => (readKey(a) < readKey(b) ? -1 : 1));
  }

  private async note<T extends string[] | Buffer>(
    url: string,
    commit: string,
    op: GitRead['op'],
    path: string | undefined,
    read: () => Promise<T>,
  ): Promise<T> {
    try {
      const answer = await read();
      const r: RecordedRead = {
        url,
        revision: commit,
        op,
        ...(path === undefined ? {} : { path }),
        digest: digest(answer),
      };
      this.reads.set(readKey(r), r);
      return answer;
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }
}

/**
 * The same reads at the revisions' current commits, with the digests of what they return now;
 * undefined when one of them fails (the evaluation then runs, and meets the failure itself).
 */
export async function replayReads(
  reader: GitTreeReader,
  reads: readonly GitRead[],
): Promise<RecordedRead[] | undefined> {
  const commits = new Map<string, Promise<string>>();
  const commitOf = (url: string, revision: string) => {
    const k = `${url}\0${revision}`;
    let c = commits.get(k);
    if (!c) commits.set(k, (c = reader.resolve(url, revision)));
    return c;
  };
  try {
    return await Promise.all(
      reads.map(async (r) => {
        const commit = await commitOf(r.url, r.revision);
        const answer =
          r.op === 'directories'
            ? await reader.listDirectories(r.url, commit)
            : r.op === 'files'
              ? await reader.listFiles(r.url, commit)
              : await reader.readFile(r.url, commit, r.path ?? '');
        return { ...r, digest: digest(answer) };
      }),
    );
  } catch {
    return undefined;
  }
}

function readKey(r: GitRead): string {
  return `${r.url}\0${r.revision}\0${r.op}\0${r.path ?? ''}`;
}

function digest(answer: string[] | Buffer): string {
  return hash('sha256', Array.isArray(answer) ? answer.join('\n') : answer);
}
