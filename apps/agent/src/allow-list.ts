import { globMatch } from '../../../libs/glob/src/index.js';
import { resourceKey, type KubeObject } from '../../../libs/manifests/src/index.js';

/**
 * The agent's own limits, set by whoever installs it in the cluster: the last of the three project
 * checkpoints, so a compromised hub path alone cannot write outside what this cluster allows.
 * Patterns are globs where `*` matches anything; kinds are written `group/Kind` (`/Kind` or
 * `core/Kind` for the core group).
 */
export interface AllowList {
  namespaces: string[];
  allowedKinds: string[];
  deniedKinds: string[];
}

export const ALLOW_ALL: AllowList = { namespaces: ['*'], allowedKinds: ['*'], deniedKinds: [] };

function kindMatches(pattern: string, group: string, kind: string): boolean {
  if (pattern === '*') return true;
  const i = pattern.lastIndexOf('/');
  const g = i < 0 ? '*' : pattern.slice(0, i);
  const k = i < 0 ? pattern : pattern.slice(i + 1);
  const groupOk = g === '*' || globMatch(g === 'core' ? '' : g, group);
  return groupOk && globMatch(k, kind);
}

/** Reasons the objects may not be applied here (empty: allowed). */
export function checkAllowList(
  list: AllowList,
  objects: KubeObject[],
  destinationNamespace: string,
): string[] {
  const out = new Set<string>();
  if (destinationNamespace && !list.namespaces.some((n) => globMatch(n, destinationNamespace))) {
    out.add(`namespace "${destinationNamespace}" is not allowed on this cluster`);
  }
  for (const o of objects) {
    const k = resourceKey(o);
    const gk = `${k.group || 'core'}/${k.kind}`;
    const allowed =
      list.allowedKinds.some((p) => kindMatches(p, k.group, k.kind)) &&
      !list.deniedKinds.some((p) => kindMatches(p, k.group, k.kind));
    if (!allowed) out.add(`kind ${gk} is not allowed on this cluster (${k.kind}/${k.name})`);
    if (k.namespace && !list.namespaces.some((n) => globMatch(n, k.namespace))) {
      out.add(`namespace "${k.namespace}" is not allowed on this cluster (${k.kind}/${k.name})`);
    }
    // A Namespace object is a namespace too: taken over, it would be deleted with everything in
    // it when its app is pruned or removed.
    if (
      k.group === '' &&
      k.kind === 'Namespace' &&
      !list.namespaces.some((n) => globMatch(n, k.name))
    ) {
      out.add(`namespace "${k.name}" is not allowed on this cluster (Namespace/${k.name})`);
    }
  }
  return [...out];
}

/**
 * What an app the allow-list forbids is reported with (undefined: allowed). One wording for a
 * Deploy refused on arrival and a stored app refused after the list was tightened.
 */
export function allowListRefusal(
  list: AllowList,
  objects: KubeObject[],
  destinationNamespace: string,
): string | undefined {
  const refused = checkAllowList(list, objects, destinationNamespace);
  return refused.length ? `refused by this cluster's allow-list: ${refused.join('; ')}` : undefined;
}

/** Comma-separated patterns from the environment; empty means the default. */
export function patterns(v: string | undefined, fallback: string[]): string[] {
  const list = (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length ? list : fallback;
}
