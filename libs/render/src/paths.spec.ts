import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.js';
import { isSafeTreePath, normalizeRepoPath, PathEscapeError, resolveInside } from './paths.js';

describe('normalizeRepoPath', () => {
  it('normalizes', () => {
    expect(normalizeRepoPath('')).toBe('');
    expect(normalizeRepoPath('.')).toBe('');
    expect(normalizeRepoPath('./a//b/./c/')).toBe('a/b/c');
  });
  it('refuses escapes', () => {
    expect(() => normalizeRepoPath('../x')).toThrow('path "../x" must not contain ".."');
    expect(() => normalizeRepoPath('a/../../x')).toThrow(/must not contain/);
    expect(() => normalizeRepoPath('/etc')).toThrow('path "/etc" must be relative');
    expect(() => normalizeRepoPath('a\0b')).toThrow(/NUL/);
  });
  it('knows unsafe tree paths', () => {
    expect(isSafeTreePath('a/b.yaml')).toBe(true);
    expect(isSafeTreePath('a/../b')).toBe(false);
    expect(isSafeTreePath('.git/config')).toBe(false);
    expect(isSafeTreePath('x/.GIT/hooks')).toBe(false);
    expect(isSafeTreePath('/abs')).toBe(false);
  });
});

describe('resolveInside (symbolic links on disk)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  beforeAll(async () => {
    dir = await tempDir('axle-paths-');
    root = join(dir.path, 'root');
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    await symlink('.', join(root, 'self')); // root/self -> root
    await symlink('a/b', join(root, 'deep'));
    await symlink('../..', join(root, 'a', 'b', 'up2')); // -> root
    await symlink('/etc', join(root, 'abs'));
    await symlink('self/../outside', join(root, 'sneaky')); // lexically inside, really outside
  });
  afterAll(() => dir.remove());

  it('follows links that stay inside', async () => {
    expect(await resolveInside(root, 'deep/x.yaml')).toBe(join(root, 'a/b/x.yaml'));
    expect(await resolveInside(root, 'a/b/up2/a')).toBe(join(root, 'a'));
    expect(await resolveInside(root, 'deep/../c')).toBe(join(root, 'a/c'));
    expect(await resolveInside(root, 'missing/thing')).toBe(join(root, 'missing/thing'));
  });

  it('refuses paths that leave the root, even through links', async () => {
    await expect(resolveInside(root, '../x')).rejects.toThrow(PathEscapeError);
    await expect(resolveInside(root, 'abs/passwd')).rejects.toThrow(/link abs -> \/etc/);
    await expect(resolveInside(root, 'self/../x')).rejects.toThrow(/leads out/);
    await expect(resolveInside(root, 'sneaky')).rejects.toThrow(/leads out/);
    await expect(resolveInside(root, '/etc/passwd')).rejects.toThrow(/absolute/);
  });
});
