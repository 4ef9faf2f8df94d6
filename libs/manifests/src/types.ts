export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** group/version/kind + namespace/name: what identifies a live resource. */
export interface ResourceKey {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}
