import { resourceKey } from './identity.js';
import type { KubeObject } from './types.js';

/**
 * The cluster-scoped kinds Kubernetes itself serves (`group/Kind`, core as ``), as of 1.34. What
 * the hub can tell of an object's scope without asking its cluster: a kind that is not here and
 * not defined by a CRD beside it is taken as namespaced there, and the agent, which asks its API
 * server, decides.
 */
const BUILT_IN_CLUSTER_SCOPED = new Set([
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  '/ComponentStatus',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'apiregistration.k8s.io/APIService',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
  'admissionregistration.k8s.io/MutatingAdmissionPolicy',
  'admissionregistration.k8s.io/MutatingAdmissionPolicyBinding',
  'storage.k8s.io/StorageClass',
  'storage.k8s.io/CSIDriver',
  'storage.k8s.io/CSINode',
  'storage.k8s.io/VolumeAttachment',
  'storage.k8s.io/VolumeAttributesClass',
  'scheduling.k8s.io/PriorityClass',
  'node.k8s.io/RuntimeClass',
  'networking.k8s.io/IngressClass',
  'networking.k8s.io/IPAddress',
  'networking.k8s.io/ServiceCIDR',
  'certificates.k8s.io/CertificateSigningRequest',
  'certificates.k8s.io/ClusterTrustBundle',
  'flowcontrol.apiserver.k8s.io/FlowSchema',
  'flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration',
  'resource.k8s.io/DeviceClass',
  'resource.k8s.io/ResourceSlice',
  'storagemigration.k8s.io/StorageVersionMigration',
  'internal.apiserver.k8s.io/StorageVersion',
]);

/**
 * The scope of the kinds the CustomResourceDefinitions among `objects` define: `group/Kind` →
 * namespaced.
 */
export function crdScopes(objects: readonly KubeObject[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const o of objects) {
    if (o.kind !== 'CustomResourceDefinition' || !o.apiVersion.startsWith('apiextensions.k8s.io/'))
      continue;
    const spec = (o as { spec?: { group?: unknown; names?: { kind?: unknown }; scope?: unknown } })
      .spec;
    if (typeof spec?.group === 'string' && typeof spec.names?.kind === 'string')
      out.set(`${spec.group}/${spec.names.kind}`, spec.scope !== 'Cluster');
  }
  return out;
}

/**
 * Whether a kind is cluster-scoped as far as can be told without a cluster: a built-in kind, or
 * one a CRD in `crds` (see {@link crdScopes}) defines with `scope: Cluster`.
 */
export function knownClusterScoped(
  group: string,
  kind: string,
  crds?: ReadonlyMap<string, boolean>,
): boolean {
  const gk = `${group}/${kind}`;
  const byCrd = crds?.get(gk);
  return byCrd !== undefined ? !byCrd : BUILT_IN_CLUSTER_SCOPED.has(gk);
}

/** What a bundle holds, object by object, with the scope the hub can tell (see knownClusterScoped). */
export interface ObjectRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  /** Set (true) only for what is cluster-scoped as far as can be told without a cluster. */
  clusterScoped?: boolean;
}

export function objectRefs(objects: readonly KubeObject[]): ObjectRef[] {
  const crds = crdScopes(objects);
  return objects.map((o) => {
    const k = resourceKey(o);
    const ref: ObjectRef = { group: k.group, kind: k.kind, namespace: k.namespace, name: k.name };
    if (knownClusterScoped(k.group, k.kind, crds)) ref.clusterScoped = true;
    return ref;
  });
}
