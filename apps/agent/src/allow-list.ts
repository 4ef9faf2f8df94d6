import { globMatch } from '../../../libs/glob/src/index.js';
import {
  crdScopes,
  resourceKey,
  splitApiVersion,
  type KubeObject,
} from '../../../libs/manifests/src/index.js';

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
  /**
   * Kinds that may be applied cluster-scoped (they reach past every namespace: ClusterRoles and
   * their bindings, CRDs, webhooks...). Namespace objects are governed by `namespaces` instead.
   * Default: every kind when `namespaces` is `*`, none otherwise (see {@link defaultClusterKinds}).
   */
  clusterKinds?: string[];
}

export const ALLOW_ALL: AllowList = {
  namespaces: ['*'],
  allowedKinds: ['*'],
  deniedKinds: [],
  clusterKinds: ['*'],
};

/**
 * An agent limited to some namespaces applies nothing cluster-scoped unless told which kinds it
 * may (as an Argo CD project's empty cluster resource allow-list): a ClusterRoleBinding would
 * reach every namespace.
 */
export function defaultClusterKinds(namespaces: string[]): string[] {
  return namespaces.includes('*') ? ['*'] : [];
}

/** Whether some kinds may not be applied cluster-scoped (their objects' scope then matters). */
export function restrictsClusterKinds(list: AllowList): boolean {
  return !(list.clusterKinds ?? defaultClusterKinds(list.namespaces)).includes('*');
}

/**
 * Whether an object's kind is namespaced: true or false when known (discovery, or a CRD among the
 * objects checked), undefined when not (a kind not served yet).
 */
export type ScopeOf = (o: KubeObject) => boolean | undefined;

function kindMatches(pattern: string, group: string, kind: string): boolean {
  if (pattern === '*') return true;
  const i = pattern.lastIndexOf('/');
  const g = i < 0 ? '*' : pattern.slice(0, i);
  const k = i < 0 ? pattern : pattern.slice(i + 1);
  const groupOk = g === '*' || globMatch(g === 'core' ? '' : g, group);
  return groupOk && globMatch(k, kind);
}

/**
 * Why a cluster-scoped object of this kind is outside a bound on cluster-scoped kinds (`patterns`
 * as the allow-list writes kinds; `where` and `setBy` word the refusal); undefined: inside it. A
 * Namespace is checked by name instead.
 */
function outsideClusterKinds(
  patterns: string[],
  k: { group: string; kind: string; name: string },
  where: string,
  setBy: string,
): string | undefined {
  if (k.group === '' && k.kind === 'Namespace') return undefined;
  if (patterns.some((p) => kindMatches(p, k.group, k.kind))) return undefined;
  return `kind ${k.group || 'core'}/${k.kind} may not be applied cluster-scoped${where} (${k.kind}/${k.name}; ${setBy})`;
}

/**
 * Why a cluster-scoped object of this kind may not be applied here (undefined: it may). A
 * Namespace is checked by name against `namespaces` instead.
 */
export function clusterScopedRefusal(
  list: AllowList,
  k: { group: string; kind: string; name: string },
): string | undefined {
  return outsideClusterKinds(
    list.clusterKinds ?? defaultClusterKinds(list.namespaces),
    k,
    ' on this cluster',
    'AXLE_AGENT_ALLOWED_CLUSTER_KINDS',
  );
}

/** A project's bound on cluster-scoped kinds, as the hub sends it (`SyncPolicy.cluster_kinds`). */
export type ProjectClusterKinds = { group: string; kind: string }[] | undefined;

/**
 * Why the application's project does not let it apply a cluster-scoped object of this kind
 * (undefined: it does, or does not bound them). Namespace objects are checked by the project by
 * name, at the hub.
 */
export function projectClusterScopedRefusal(
  kinds: ProjectClusterKinds,
  k: { group: string; kind: string; name: string },
): string | undefined {
  if (!kinds) return undefined;
  // As the allow-list writes them: the core group is "core", any group "*".
  const patterns = kinds.map((p) => `${p.group === '' ? 'core' : p.group}/${p.kind}`);
  return outsideClusterKinds(patterns, k, '', "the project's spec.clusterKinds");
}

/**
 * Why a cluster-scoped object may not be applied, by this cluster's allow-list (when it has one)
 * or by the application's project, worded as reported (undefined: it may).
 */
export function clusterKindRefusal(
  list: AllowList | undefined,
  project: ProjectClusterKinds,
  k: { group: string; kind: string; name: string },
): string | undefined {
  const byList = list && clusterScopedRefusal(list, k);
  if (byList) return `refused by this cluster's allow-list: ${byList}`;
  const byProject = projectClusterScopedRefusal(project, k);
  return byProject && `refused by the application's project: ${byProject}`;
}

/** Whether an object's scope matters: the list or the project bound cluster-scoped kinds. */
export function scopeMatters(list: AllowList, project: ProjectClusterKinds): boolean {
  return (
    restrictsClusterKinds(list) ||
    (project !== undefined && !project.some((p) => p.group === '*' && p.kind === '*'))
  );
}

/**
 * Reasons the objects may not be applied here (empty: allowed). `namespaced` tells the scope of
 * their kinds where known: a cluster-scoped object is checked against `clusterKinds` (whatever
 * namespace its manifest names: it is applied without one).
 */
export function checkAllowList(
  list: AllowList,
  objects: KubeObject[],
  destinationNamespace: string,
  namespaced: ScopeOf = () => undefined,
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
    const scope = namespaced(o);
    const cluster = scope === false ? clusterScopedRefusal(list, k) : undefined;
    if (cluster) out.add(cluster);
    if (scope !== false && k.namespace && !list.namespaces.some((n) => globMatch(n, k.namespace))) {
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
  namespaced?: ScopeOf,
  project?: ProjectClusterKinds,
): string | undefined {
  const refused = checkAllowList(list, objects, destinationNamespace, namespaced);
  const byProject = new Set<string>();
  if (project && namespaced) {
    for (const o of objects) {
      if (namespaced(o) !== false) continue;
      const why = projectClusterScopedRefusal(project, resourceKey(o));
      if (why) byProject.add(why);
    }
  }
  const parts = [
    ...(refused.length ? [`refused by this cluster's allow-list: ${refused.join('; ')}`] : []),
    ...(byProject.size
      ? [`refused by the application's project: ${[...byProject].join('; ')}`]
      : []),
  ];
  return parts.length ? parts.join('; ') : undefined;
}

/**
 * The scope of each object's kind as far as it can be told without waiting: `served` (discovery:
 * the cluster's answer, undefined when it does not serve the kind yet), else a
 * CustomResourceDefinition among `objects` that defines the kind (its `spec.scope`).
 */
export async function scopesOf(
  objects: KubeObject[],
  served: (apiVersion: string, kind: string) => Promise<boolean | undefined>,
): Promise<ScopeOf> {
  const byCrd = crdScopes(objects);
  const known = new Map<string, boolean | undefined>();
  for (const o of objects) {
    const id = `${o.apiVersion}\0${o.kind}`;
    if (known.has(id)) continue;
    known.set(
      id,
      (await served(o.apiVersion, o.kind)) ??
        byCrd.get(`${splitApiVersion(o.apiVersion).group}/${o.kind}`),
    );
  }
  return (o) => known.get(`${o.apiVersion}\0${o.kind}`);
}

/** Comma-separated patterns from the environment; empty means the default. */
export function patterns(v: string | undefined, fallback: string[]): string[] {
  const list = (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length ? list : fallback;
}
