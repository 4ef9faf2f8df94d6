import { execFileSync } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache, GitError } from './git-cache.js';

const cm = (name: string, v = '1') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: "${v}"\n`;

describe('GitCache (real repositories over file://)', () => {
  let repo: TestRepo;
  let cacheDir: Awaited<ReturnType<typeof tempDir>>;
  let cache: GitCache;
  let first: string;
  let second: string;

  beforeAll(async () => {
    repo = await TestRepo.create();
    first = await repo.commit({
      'app/a.yaml': cm('a'),
      'app/nested/b.json': JSON.stringify(
        JSON.parse(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}`),
      ),
      'app/README.md': '# not a manifest',
    });
    await repo.tag('v1.0.0');
    second = await repo.commit({ 'app/a.yaml': cm('a', '2') });
    cacheDir = await tempDir('axle-gitcache-');
    cache = new GitCache(cacheDir.path, 30_000);
  });
  afterAll(async () => {
    await repo.remove();
    await cacheDir.remove();
  });

  it('lists the paths two commits differ in', async () => {
    await cache.fetch(repo.fileUrl, { force: true });
    expect(await cache.changedPaths(repo.fileUrl, first, second)).toEqual(['app/a.yaml']);
    expect(await cache.changedPaths(repo.fileUrl, first, first)).toEqual([]);
    expect(await cache.changedPaths(repo.fileUrl, first, second, 0)).toBeUndefined();
    await expect(cache.changedPaths(repo.fileUrl, 'main', second)).rejects.toThrow(GitError);
  });

  it('resolves branches, tags, HEAD, full and abbreviated SHAs', async () => {
    expect(await cache.resolve(repo.fileUrl, 'main')).toBe(second);
    expect(await cache.resolve(repo.fileUrl, 'HEAD')).toBe(second);
    expect(await cache.resolve(repo.fileUrl, 'v1.0.0')).toBe(first);
    expect(await cache.resolve(repo.fileUrl, first)).toBe(first);
    expect(await cache.resolve(repo.fileUrl, first.slice(0, 7))).toBe(first);
    expect(await cache.resolve(repo.fileUrl, second.slice(0, 12))).toBe(second);
    // Not a commit (a tree or blob of the repository starting the same), or no object at all.
    const tree = execFileSync('git', ['rev-parse', `${second}^{tree}`], { cwd: repo.dir })
      .toString()
      .trim();
    await expect(cache.resolve(repo.fileUrl, tree.slice(0, 10))).rejects.toThrow(GitError);
    await expect(cache.resolve(repo.fileUrl, 'deadbeef00')).rejects.toThrow(GitError);
  });

  it('names a revision that does not exist', async () => {
    await expect(cache.resolve(repo.fileUrl, 'no-such-branch')).rejects.toThrow(
      new GitError(`revision "no-such-branch" not found in ${repo.fileUrl}`),
    );
  });

  it('makes a clone again whose creation stopped half-way', async () => {
    const other = await TestRepo.create();
    try {
      const head = await other.commit({ 'a.yaml': cm('a') });
      const half = new GitCache(join(cacheDir.path, 'half'), 30_000);
      // `init --bare` done, `remote add origin` not: the hub stopped in between.
      await mkdir(half.repoDir(other.fileUrl), { recursive: true });
      execFileSync('git', ['init', '--bare', '--quiet', half.repoDir(other.fileUrl)]);
      await half.fetch(other.fileUrl, { force: true });
      expect(await half.resolve(other.fileUrl, 'main')).toBe(head);
    } finally {
      await other.remove();
    }
  });

  it('fetches the branches of a repository whose HEAD names a branch that does not exist', async () => {
    const other = await TestRepo.create();
    try {
      const head = await other.commit({ 'a.yaml': cm('a') });
      // The default branch renamed on the server, its HEAD left behind.
      execFileSync('git', ['-C', other.dir, 'symbolic-ref', 'HEAD', 'refs/heads/master']);
      const c = new GitCache(join(cacheDir.path, 'dangling'), 30_000);
      await c.fetch(other.fileUrl, { force: true });
      expect(await c.resolve(other.fileUrl, 'main')).toBe(head);
      await expect(c.resolve(other.fileUrl, 'HEAD')).rejects.toThrow(GitError);
    } finally {
      await other.remove();
    }
  });

  it('coalesces concurrent fetches of one repository into one git fetch', async () => {
    const results = await Promise.all([
      cache.fetch(repo.fileUrl),
      cache.fetch(repo.fileUrl),
      cache.fetch(repo.fileUrl),
    ]);
    expect(results[0]).toBe(results[1]);
    expect(results[1]).toBe(results[2]);
  });

  it('runs one more fetch for every forced fetch asked for while one runs, not one each', async () => {
    let fetches = 0;
    const c = new GitCache(
      join(cacheDir.path, 'forced'),
      30_000,
      5_000,
      undefined,
      () => fetches++,
    );
    const running = c.fetch(repo.fileUrl);
    const forced = Array.from({ length: 10 }, () => c.fetch(repo.fileUrl, { force: true }));
    await Promise.all([running, ...forced]);
    expect(fetches).toBe(2);
  });

  it('sees new commits after a fetch', async () => {
    const third = await repo.commit({ 'app/c.yaml': cm('c') });
    expect(await cache.resolve(repo.fileUrl, 'main')).toBe(second); // local refs until fetched
    await cache.fetch(repo.fileUrl);
    expect(await cache.resolve(repo.fileUrl, 'main')).toBe(third);
  });

  it('refuses a missing path', async () => {
    await expect(cache.listTree(repo.fileUrl, first, 'nope')).rejects.toThrow(
      /path "nope" does not exist/,
    );
  });

  it('lists directories too when asked, and reports symbolic links as such', async () => {
    await symlink('/etc/hostname', join(repo.dir, 'app', 'evil.yaml'));
    const sha = await repo.commit({});
    await cache.fetch(repo.fileUrl);
    const entries = await cache.listTree(repo.fileUrl, sha, 'app', { dirs: true });
    expect(entries.find((e) => e.path === 'app/nested')?.type).toBe('tree');
    expect(entries.find((e) => e.path === 'app/evil.yaml')?.mode).toBe('120000');
  });

  it('reports a repository that cannot be fetched', async () => {
    await expect(cache.fetch('file:///no/such/repo')).rejects.toThrow(
      /^fetching file:\/\/\/no\/such\/repo failed: /,
    );
  });
});
