import type { GitCache, TreeEntry } from '../../git/src/index.js';
import {
  ManifestError,
  parseManifests,
  type KubeObject,
  type ManifestLimits,
} from '../../manifests/src/index.js';
import { RenderError } from './errors.js';
import { compileGlob, type Glob } from './glob.js';
import type { DirectoryOptions } from './types.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/**
 * Objects of a plain directory of YAML/JSON manifests at a commit, read straight from git (nothing
 * is written to disk). Like Argo CD: `.yaml`, `.yml`, `.json` files (multi-document YAML); only the
 * directory itself unless `recurse`; `include`/`exclude` globs match the path relative to the
 * source path. Symbolic links and submodules are refused; files over the size limit are refused
 * unread; the total is bounded by the bundle limit.
 */
export async function readDirectoryObjects(
  git: GitCache,
  repoURL: string,
  commit: string,
  path: string,
  opts: DirectoryOptions & { recurse: boolean },
  limits: ManifestLimits,
  listed?: TreeEntry[],
  warn?: (message: string) => void,
): Promise<KubeObject[]> {
  const entries = listed ?? (await git.listTree(repoURL, commit, path));
  if (entries.length === 1 && entries[0].path === path && entries[0].type !== 'tree' && path) {
    const what = entries[0].mode === '120000' ? 'a symbolic link' : 'a file';
    throw new RenderError(`"${path}" is ${what}, not a directory`, 'directory', path);
  }
  const include = opts.include ? glob(opts.include, 'include', path) : undefined;
  const exclude = opts.exclude ? glob(opts.exclude, 'exclude', path) : undefined;
  const prefix = path ? `${path}/` : '';
  const objects: KubeObject[] = [];
  let total = 0;
  const files = entries
    .filter((e) => e.type !== 'tree' && e.path.startsWith(prefix))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of files) {
    const rel = e.path.slice(prefix.length);
    if (!opts.recurse && rel.includes('/')) continue;
    if (!MANIFEST_EXT.test(rel)) continue;
    if (exclude?.test(rel)) continue;
    if (include && !include.test(rel)) continue;
    if (e.mode === '120000') throw new ManifestError('symbolic links are not followed', e.path);
    if (e.type !== 'blob') throw new ManifestError(`unexpected ${e.type} entry`, e.path);
    if (e.size > limits.maxFileBytes) {
      throw new ManifestError(`file is larger than ${limits.maxFileBytes} bytes`, e.path);
    }
    total += e.size;
    if (total > limits.maxBundleBytes) {
      throw new ManifestError(
        `manifests under "${path || '/'}" exceed ${limits.maxBundleBytes} bytes`,
      );
    }
    objects.push(...parseManifests(await git.readBlob(repoURL, e.oid), e.path, limits, warn));
  }
  return objects;
}

function glob(pattern: string, what: string, path: string): Glob {
  try {
    return compileGlob(pattern);
  } catch (e) {
    throw new RenderError(`invalid ${what} pattern: ${(e as Error).message}`, 'directory', path);
  }
}
