import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache, GitError } from './git-cache.js';
import { CachedTreeReader } from './tree-reader.js';

describe('CachedTreeReader (a real repository over file://)', () => {
  let repo: TestRepo;
  let cacheDir: Awaited<ReturnType<typeof tempDir>>;
  let cache: GitCache;
  let small: string; // 2 directories, 3 files: 5 entries
  let large: string; // 4 directories, 5 files: 9 entries

  beforeAll(async () => {
    repo = await TestRepo.create();
    small = await repo.commit({ 'apps/a/x.yaml': 'a: 1\n', 'apps/b.json': '{}', 'README.md': '#' });
    large = await repo.commit({ 'apps/c/d/y.yaml': 'c: 1\n', 'apps/e.yaml': 'e: 1\n' });
    cacheDir = await tempDir('axle-tree-reader-');
    cache = new GitCache(cacheDir.path, 30_000);
    await cache.fetch(repo.fileUrl);
  });
  afterAll(async () => {
    await repo.remove();
    await cacheDir.remove();
  });

  it('lists directories and files and reads files of a commit', async () => {
    const reader = new CachedTreeReader(cache);
    expect(await reader.listDirectories(repo.fileUrl, small)).toEqual(['apps', 'apps/a']);
    expect(await reader.listFiles(repo.fileUrl, small)).toEqual([
      'README.md',
      'apps/a/x.yaml',
      'apps/b.json',
    ]);
    expect((await reader.readFile(repo.fileUrl, small, 'apps/a/x.yaml')).toString()).toBe('a: 1\n');
    await expect(reader.readFile(repo.fileUrl, small, 'apps/a')).rejects.toThrow(/no such file/);
    await expect(reader.readFile(repo.fileUrl, small, 'apps/c/d/y.yaml')).rejects.toThrow(GitError);
  });

  it('refuses a tree with more entries than maxTreeEntries, naming the limit, once', async () => {
    const list = vi.spyOn(cache, 'listTree');
    try {
      const reader = new CachedTreeReader(cache, { maxTreeEntries: 8 });
      expect(await reader.listFiles(repo.fileUrl, small)).toHaveLength(3);
      const refused = new GitError(
        `the tree of ${repo.fileUrl} at ${large.slice(0, 12)} has 9 entries, more than 8, the most the git generators list`,
      );
      await expect(reader.listFiles(repo.fileUrl, large)).rejects.toThrow(refused);
      await expect(reader.readFile(repo.fileUrl, large, 'apps/e.yaml')).rejects.toThrow(refused);
      expect(list).toHaveBeenCalledTimes(2); // the refusal is kept: a commit never changes
    } finally {
      list.mockRestore();
    }
  });

  it('keeps at most maxCachedEntries in memory, the least recently used trees going first', async () => {
    const list = vi.spyOn(cache, 'listTree');
    try {
      const reader = new CachedTreeReader(cache, { maxCachedEntries: 14 });
      const read = async (commit: string) => reader.listFiles(repo.fileUrl, commit);
      await read(small);
      await read(large); // 5 + 9 entries: both kept
      await read(small);
      expect(list).toHaveBeenCalledTimes(2);
      const tight = new CachedTreeReader(cache, { maxCachedEntries: 10 });
      await tight.listFiles(repo.fileUrl, small);
      await tight.listFiles(repo.fileUrl, large); // 14 > 10: the small one goes
      await tight.listFiles(repo.fileUrl, large);
      expect(list).toHaveBeenCalledTimes(4);
      await tight.listFiles(repo.fileUrl, small); // listed again
      expect(list).toHaveBeenCalledTimes(5);
      // A tree larger than the whole cache is kept while it is the last one read (its files are
      // read next), and goes when another is read.
      const tiny = new CachedTreeReader(cache, { maxCachedEntries: 4 });
      await tiny.listFiles(repo.fileUrl, small);
      await tiny.readFile(repo.fileUrl, small, 'apps/b.json');
      expect(list).toHaveBeenCalledTimes(6);
      await tiny.listFiles(repo.fileUrl, large);
      await tiny.listFiles(repo.fileUrl, small);
      expect(list).toHaveBeenCalledTimes(8);
    } finally {
      list.mockRestore();
    }
  });
});
