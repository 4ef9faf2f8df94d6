import {
  canonicalJson,
  resourceId,
  resourceKey,
  sha256,
  splitApiVersion,
  type KubeObject,
  type ResourceKey,
} from '../../../../libs/manifests/src/index.js';
import { apiVersionOf, type KubeClient } from '../kube/kube-client.js';

/** Label on everything the agent applies: lists and watches select on it. */
export const APP_LABEL = 'app.axle.io/app-id';
/**
 * Label naming the agent (its cluster's name on the hub) that applied an object: an agent
 * watches only its own objects, so several agents on one API server (a cluster registered
 * twice, agents of several hubs) do not receive, decode and discard each other's changes.
 */
export const AGENT_LABEL = 'app.axle.io/agent';

/** The label selector of an agent's lists and watches. */
export function agentSelector(agent: string): string {
  return `${APP_LABEL},${AGENT_LABEL}=${agent}`;
}
/** `<appId>:<group>/<kind>:<namespace>/<name>`: which app owns the object (copied labels lie). */
export const TRACKING_ANNOTATION = 'app.axle.io/tracking-id';

export function trackingId(appId: string, k: ResourceKey): string {
  return `${appId}:${k.group}/${k.kind}:${k.namespace}/${k.name}`;
}

/** Whether a live object was applied by the agent for `appId` (label and tracking id agree). */
export function ownedByApp(obj: KubeObject, appId: string): boolean {
  const md = obj.metadata;
  if (md.labels?.[APP_LABEL] !== appId) return false;
  const t = md.annotations?.[TRACKING_ANNOTATION];
  return t === trackingId(appId, resourceKey(obj));
}

export interface Prepared {
  obj: KubeObject;
  key: ResourceKey;
  id: string;
  /** Hash of what is applied (ApplyOutOfSyncOnly, snapshot validity). */
  hash: string;
}

/**
 * The object as the agent applies it: the app's namespace for namespaced kinds that name none,
 * no namespace for cluster-scoped ones, the app and agent labels and the tracking annotation.
 * Throws NoKindError when the cluster does not serve the kind (yet).
 */
export async function prepareObject(
  client: KubeClient,
  raw: KubeObject,
  appId: string,
  defaultNamespace: string,
  agent: string,
): Promise<Prepared> {
  const namespaced = await client.isNamespaced(raw.apiVersion, raw.kind);
  const metadata = { ...raw.metadata };
  if (namespaced && !metadata.namespace) metadata.namespace = defaultNamespace;
  if (!namespaced) delete metadata.namespace;
  metadata.labels = { ...(metadata.labels ?? {}), [APP_LABEL]: appId, [AGENT_LABEL]: agent };
  const key = resourceKey({ ...raw, metadata });
  metadata.annotations = {
    ...(metadata.annotations ?? {}),
    [TRACKING_ANNOTATION]: trackingId(appId, key),
  };
  const obj = { ...raw, metadata };
  return { obj, key, id: resourceId(key), hash: sha256(canonicalJson(obj)) };
}

/** Best guess of an object's key when its kind cannot be resolved (namespaced assumed). */
export function guessKey(raw: KubeObject, defaultNamespace: string): ResourceKey {
  const { group, version } = splitApiVersion(raw.apiVersion);
  return {
    group,
    version,
    kind: raw.kind,
    namespace: raw.metadata.namespace ?? defaultNamespace,
    name: raw.metadata.name,
  };
}

export function keyRef(k: ResourceKey): string {
  return k.namespace ? `${k.kind}/${k.namespace}/${k.name}` : `${k.kind}/${k.name}`;
}

export function keyApiVersion(k: ResourceKey): string {
  return apiVersionOf(k);
}
