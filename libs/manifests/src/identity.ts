import type { KubeObject, ResourceKey } from './types.js';

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

export function resourceKey(obj: KubeObject): ResourceKey {
  const { group, version } = splitApiVersion(obj.apiVersion);
  return {
    group,
    version,
    kind: obj.kind,
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name,
  };
}

/** `group/kind/namespace/name`, the version left out: the same object across API versions. */
export function resourceId(k: Pick<ResourceKey, 'group' | 'kind' | 'namespace' | 'name'>): string {
  return `${k.group}/${k.kind}/${k.namespace}/${k.name}`;
}

/** Kinds applied before everything else, in this order (namespaces and CRDs before their users). */
const KIND_ORDER = [
  'Namespace',
  'CustomResourceDefinition',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
];

function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

/** Canonical apply order: kind rank, then group/kind/namespace/name. Stable for hashing. */
export function compareForApply(a: KubeObject, b: KubeObject): number {
  const r = kindRank(a.kind) - kindRank(b.kind);
  if (r !== 0) return r;
  const ia = resourceId(resourceKey(a));
  const ib = resourceId(resourceKey(b));
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}
