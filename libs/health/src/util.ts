import type { KubeObject } from './types.js';

/**
 * Defensive readers over decoded JSON. Go's typed conversion turns a missing number into 0, a
 * missing string into "" and a missing list into an empty slice; these helpers do the same so the
 * checks below read like Argo's and treat absent fields the way Argo does.
 */

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Walks `path` through nested records; anything that is not a record on the way yields undefined. */
export function get(value: unknown, ...path: string[]): unknown {
  let current: unknown = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** A string field, or "" (Go's zero value). */
export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** An integer field, or 0 (Go's zero value). */
export function int(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** An optional integer field (Go's `*int32`): undefined when absent. */
export function optInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export function toCondition(value: unknown): Condition {
  const status = get(value, 'status');
  return {
    type: str(get(value, 'type')),
    // Hand-written YAML often has `status: True`, which YAML reads as a boolean.
    status: typeof status === 'boolean' ? (status ? 'True' : 'False') : str(status),
    reason: str(get(value, 'reason')),
    message: str(get(value, 'message')),
  };
}

/** `status.conditions` of an object, normalised. */
export function conditionsOf(obj: KubeObject): Condition[] {
  const status: unknown = obj.status;
  return list(get(status, 'conditions')).filter(isRecord).map(toCondition);
}

/** First condition of the given type, like the `get*Condition` helpers in gitops-engine. */
export function findCondition(conditions: Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

export function nameOf(obj: KubeObject): string {
  return str(obj.metadata?.name);
}

export function generationOf(obj: KubeObject): number {
  return int(obj.metadata?.generation);
}

export function annotationsOf(obj: KubeObject): Record<string, string> {
  const raw = obj.metadata?.['annotations'];
  const out: Record<string, string> = {};
  if (isRecord(raw)) {
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value === 'string') out[key] = value;
    }
  }
  return out;
}

export function finalizersOf(obj: KubeObject): string[] {
  return list(obj.metadata?.['finalizers']).filter((f): f is string => typeof f === 'string');
}

export interface GroupVersion {
  group: string;
  version: string;
}

/** Splits `apiVersion` into group and version; the core group is "" as in Kubernetes. */
export function groupVersionOf(obj: KubeObject): GroupVersion {
  const apiVersion = str(obj.apiVersion);
  const slash = apiVersion.lastIndexOf('/');
  if (slash < 0) return { group: '', version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Go's `%q` for the plain strings Kubernetes names are made of. */
export function quote(value: string): string {
  return JSON.stringify(value);
}

/** Argo CD resource hook annotations (`argocd.argoproj.io/hook`, Helm's `helm.sh/hook`). */
export const ANNOTATION_ARGO_HOOK = 'argocd.argoproj.io/hook';
export const ANNOTATION_HELM_HOOK = 'helm.sh/hook';
export const ANNOTATION_IGNORE_HEALTHCHECK = 'argocd.argoproj.io/ignore-healthcheck';
export const ANNOTATION_IGNORE_RESTART_POLICY = 'argocd.argoproj.io/ignore-restart-policy';
export const HOOK_FINALIZER = 'argocd.argoproj.io/hook-finalizer';

/**
 * Whether the object is a sync hook rather than a regular application resource. Mirrors
 * gitops-engine's `hook.IsHook`: an Argo hook annotation other than `Skip`, or a Helm hook other
 * than `crd-install` (which Argo treats as a regular resource).
 */
export function isHook(obj: KubeObject): boolean {
  const annotations = annotationsOf(obj);
  const argoHook = annotations[ANNOTATION_ARGO_HOOK];
  if (argoHook !== undefined) {
    const kinds = argoHook.split(',').map((s) => s.trim());
    return kinds.some((k) => k !== '' && k !== 'Skip');
  }
  const helmHook = annotations[ANNOTATION_HELM_HOOK];
  if (helmHook !== undefined) {
    const kinds = helmHook.split(',').map((s) => s.trim());
    return kinds.some((k) => k !== '' && k !== 'crd-install');
  }
  return false;
}

/**
 * Whether the object is an Argo CD `Application` (`argoproj.io`): in an application's manifests it
 * is a child application the hub keeps (app of apps), never an object applied to a cluster.
 */
export function isChildApplication(obj: KubeObject): boolean {
  return obj.kind === 'Application' && groupVersionOf(obj).group === 'argoproj.io';
}

/**
 * Whether the object is a resource a sync applies and tracks: neither a hook, nor marked
 * `argocd.argoproj.io/hook: Skip` (gitops-engine's `hook.Skip`), nor a child application.
 */
export function isSyncedResource(obj: KubeObject): boolean {
  return !isHook(obj) && !isChildApplication(obj) && !isSkipped(obj);
}

/** Whether the object is marked `argocd.argoproj.io/hook: Skip` (never applied). */
export function isSkipped(obj: KubeObject): boolean {
  const argoHook = annotationsOf(obj)[ANNOTATION_ARGO_HOOK] ?? '';
  return argoHook.split(',').some((k) => k.trim() === 'Skip');
}
