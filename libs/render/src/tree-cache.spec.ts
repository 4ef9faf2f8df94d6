import { chmod, lstat, readFile, readlink, stat, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache } from '../../git/src/index.js';
import { DEFAULT_TREE_LIMITS, TreeCache } from './tree-cache.js';

describe('TreeCache (materialized checkouts)', () => {
  let repo: TestRepo;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let git: GitCache;
  let first: string;
  let second: string;
  const big = Array.from({ length: 40_000 }, (_, i) => `line ${i}\n`).join(''); // ~350 KB

  beforeAll(async () => {
    repo = await TestRepo.create();
    await repo.commit({
      'bin/run.sh': '#!/bin/sh\necho hi\n',
      'data/big.txt': big,
      'a/b/c.yaml': 'x: 1\n',
    });
    await chmod(join(repo.dir, 'bin/run.sh'), 0o755);
    await symlink('../a/b/c.yaml', join(repo.dir, 'data', 'link.yaml'));
    first = await repo.commit({});
    second = await repo.commit({ 'a/b/c.yaml': 'x: 2\n' });
    dir = await tempDir('axle-trees-');
    git = new GitCache(join(dir.path, 'git'), 30_000);
    await git.fetch(repo.fileUrl);
  });
  afterAll(async () => {
    await repo.remove();
    await dir.remove();
  });

  it('writes every file byte for byte, with modes and links, and shares a tree per commit', async () => {
    const trees = new TreeCache(git, join(dir.path, 't1'), DEFAULT_TREE_LIMITS);
    const [l1, l2] = await Promise.all([
      trees.acquire(repo.fileUrl, first),
      trees.acquire(repo.fileUrl, first),
    ]);
    expect(l1.root).toBe(l2.root);
    expect(await readFile(join(l1.root, 'data/big.txt'), 'utf8')).toBe(big);
    expect((await stat(join(l1.root, 'bin/run.sh'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(l1.root, 'a/b/c.yaml'))).mode & 0o777).toBe(0o644);
    expect((await lstat(join(l1.root, 'data/link.yaml'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(l1.root, 'data/link.yaml'))).toBe('../a/b/c.yaml');
    expect(await readFile(join(l1.root, 'data/link.yaml'), 'utf8')).toBe('x: 1\n');
    l1.release();
    l2.release();
    await trees.clear();
    expect(existsSync(l1.root)).toBe(false);
  });

  it('puts a tree where no one can name it from its repository and commit', async () => {
    // A kustomization may name any directory on disk: another repository's tree must not be one.
    const [a, b] = [join(dir.path, 't3'), join(dir.path, 't3')].map(
      (d) => new TreeCache(git, d, DEFAULT_TREE_LIMITS),
    );
    const l1 = await a.acquire(repo.fileUrl, first);
    l1.release();
    await a.clear();
    const l2 = await b.acquire(repo.fileUrl, first);
    expect(l2.root).not.toBe(l1.root);
    const derivable = createHash('sha256').update(`${repo.fileUrl}\0${first}`).digest('hex');
    expect(basename(l2.root)).not.toBe(derivable.slice(0, 32));
    expect(basename(l2.root)).toMatch(/^[0-9a-f]{32}-[0-9a-f]{32}$/);
    l2.release();
    await b.clear();
  });

  it('keeps at most cacheSize trees, deleting evicted ones once released', async () => {
    const trees = new TreeCache(git, join(dir.path, 't2'), {
      ...DEFAULT_TREE_LIMITS,
      cacheSize: 1,
    });
    const a = await trees.acquire(repo.fileUrl, first);
    const b = await trees.acquire(repo.fileUrl, second); // a is in use: kept for now
    expect(existsSync(a.root)).toBe(true);
    expect(await readFile(join(b.root, 'a/b/c.yaml'), 'utf8')).toBe('x: 2\n');
    b.release();
    a.release();
    await new Promise((r) => setTimeout(r, 50));
    expect([existsSync(a.root), existsSync(b.root)].filter(Boolean)).toHaveLength(1);
    await trees.clear();
  });

  it('refuses trees over the limits', async () => {
    const small = new TreeCache(git, join(dir.path, 't3'), {
      ...DEFAULT_TREE_LIMITS,
      maxBytes: 1000,
    });
    await expect(small.acquire(repo.fileUrl, first)).rejects.toThrow(
      'repository files add up to more than 1000 bytes',
    );
    const few = new TreeCache(git, join(dir.path, 't4'), { ...DEFAULT_TREE_LIMITS, maxEntries: 3 });
    await expect(few.acquire(repo.fileUrl, first)).rejects.toThrow(
      'repository has more than 3 entries',
    );
    await expect(few.acquire(repo.fileUrl, 'HEAD')).rejects.toThrow(
      '"HEAD" is not a full commit SHA',
    );
  });
});
