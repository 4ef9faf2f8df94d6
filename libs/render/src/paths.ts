import { lstat, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { RenderError } from './errors.js';

/**
 * Normalizes a repository-relative path (`a//b/./c/` → `a/b/c`, `.` or `''` → `''`) and refuses
 * absolute paths, `..` segments and NUL bytes.
 */
export function normalizeRepoPath(path: string, what = 'path'): string {
  if (path.includes('\0')) throw new RenderError(`${what} must not contain NUL`);
  if (path.startsWith('/')) throw new RenderError(`${what} "${path}" must be relative`);
  const parts = path.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new RenderError(`${what} "${path}" must not contain ".."`);
  return parts.join('/');
}

/** Whether a git tree path is safe to write below a directory (no `..`, `.git`, absolute). */
export function isSafeTreePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\0')) return false;
  return path
    .split('/')
    .every((s) => s !== '' && s !== '.' && s !== '..' && s.toLowerCase() !== '.git');
}

/** A path that would leave the repository (directly or through symbolic links). */
export class PathEscapeError extends RenderError {}

/**
 * Resolves `rel` below `root` the way the kernel would, one component at a time, following
 * symbolic links that exist on disk, and refuses any path that would leave `root` (a `..` above
 * it, or an absolute link target). Components that do not exist are taken literally. Returns the
 * absolute resolved path (which may not exist). `root` must itself contain no symbolic links.
 */
export async function resolveInside(root: string, rel: string, maxLinks = 40): Promise<string> {
  if (rel.includes('\0')) throw new PathEscapeError(`"${rel}" contains NUL`);
  if (posix.isAbsolute(rel)) throw new PathEscapeError(`"${rel}" is an absolute path`);
  const resolved: string[] = [];
  let pending = rel.split('/');
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) throw new PathEscapeError(`"${rel}" leads out of the repository`);
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    const st = await lstat(candidate).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++links > maxLinks) throw new PathEscapeError(`"${rel}": too many symbolic links`);
      const target = await readlink(candidate);
      if (posix.isAbsolute(target)) {
        throw new PathEscapeError(
          `"${rel}" leads out of the repository (link ${[...resolved, part].join('/')} -> ${target})`,
        );
      }
      pending = [...target.split('/'), ...pending];
      continue;
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}
