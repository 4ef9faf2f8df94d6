import {
  makeBundle,
  ManifestError,
  parseManifests,
  type Bundle,
  type KubeObject,
  DEFAULT_LIMITS,
  type ManifestLimits,
} from '../../../../libs/manifests/src/index.js';
import type { GitCache } from '../../../../libs/git/src/index.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/**
 * Renders a plain directory of YAML/JSON manifests (recursive, multi-document) at a commit.
 * Symbolic links and submodules are refused; files over the size limit are refused unread.
 */
export async function renderDirectory(
  git: GitCache,
  repoURL: string,
  commit: string,
  path: string,
  limits: ManifestLimits = DEFAULT_LIMITS,
): Promise<Bundle> {
  const entries = await git.listTree(repoURL, commit, path);
  const objects: KubeObject[] = [];
  let total = 0;
  for (const e of entries.sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (!MANIFEST_EXT.test(e.path)) continue;
    if (e.mode === '120000') throw new ManifestError('symbolic links are not followed', e.path);
    if (e.type !== 'blob') throw new ManifestError(`unexpected ${e.type} entry`, e.path);
    if (e.size > limits.maxFileBytes)
      throw new ManifestError(`file is larger than ${limits.maxFileBytes} bytes`, e.path);
    total += e.size;
    if (total > limits.maxBundleBytes)
      throw new ManifestError(
        `manifests under "${path || '/'}" exceed ${limits.maxBundleBytes} bytes`,
      );
    objects.push(...parseManifests(await git.readBlob(repoURL, e.oid), e.path, limits));
  }
  return makeBundle(objects, limits);
}
