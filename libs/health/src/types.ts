/**
 * Health vocabulary shared with Argo CD (gitops-engine `pkg/health`): the same six codes, the same
 * meaning, the same ordering when a set of resources is summarised into one application health.
 */
export type HealthStatus =
  'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';

/** Every health code, in Argo CD's order from most to least healthy (see `IsWorse`). */
export const HEALTH_ORDER: readonly HealthStatus[] = [
  'Healthy',
  'Suspended',
  'Progressing',
  'Missing',
  'Degraded',
  'Unknown',
];

export interface HealthResult {
  status: HealthStatus;
  /** Human readable detail; absent when there is nothing to say (Argo's `omitempty`). */
  message?: string;
}

/**
 * A Kubernetes object as decoded from JSON or YAML. Only the envelope is typed; `spec` and `status`
 * are whatever the kind says they are, and every checker reads them defensively.
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    generation?: number;
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary per-kind payload
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary per-kind payload
  status?: any;
  [k: string]: unknown;
}

/** One line of `axle health -f FILE -o json`. */
export interface DocumentHealth {
  kind: string;
  name: string;
  status: HealthStatus;
  message: string;
}

export function isHealthStatus(value: unknown): value is HealthStatus {
  return typeof value === 'string' && (HEALTH_ORDER as readonly string[]).includes(value);
}

/** Builds a result, leaving `message` out when it is empty so results compare like Argo's. */
export function health(status: HealthStatus, message?: string): HealthResult {
  return message ? { status, message } : { status };
}
