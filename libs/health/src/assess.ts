import { apiServiceHealth, crdHealth } from './apiextensions.js';
import { argoApplicationHealth, argoWorkflowHealth } from './argo.js';
import { cronJobHealth, jobHealth } from './batch.js';
import { genericHealth } from './generic.js';
import { hpaHealth } from './hpa.js';
import { ingressHealth, serviceHealth } from './networking.js';
import { podHealth } from './pod.js';
import { pvcHealth } from './storage.js';
import { health, type HealthResult, type KubeObject } from './types.js';
import { finalizersOf, groupVersionOf, HOOK_FINALIZER, isRecord, str } from './util.js';
import {
  daemonSetHealth,
  deploymentHealth,
  replicaSetHealth,
  statefulSetHealth,
} from './workloads.js';

export type HealthCheck = (obj: KubeObject) => HealthResult;

/**
 * Dedicated checks by `group/kind`, like gitops-engine's `GetHealthCheckFunc` plus the Lua checks
 * Argo CD ships for CronJob and CustomResourceDefinition. Any version of a group is accepted.
 */
const CHECKS: ReadonlyMap<string, HealthCheck> = new Map<string, HealthCheck>([
  ['apps/Deployment', deploymentHealth],
  ['apps/StatefulSet', statefulSetHealth],
  ['apps/DaemonSet', daemonSetHealth],
  ['apps/ReplicaSet', replicaSetHealth],
  ['extensions/Deployment', deploymentHealth],
  ['extensions/DaemonSet', daemonSetHealth],
  ['extensions/ReplicaSet', replicaSetHealth],
  ['extensions/Ingress', ingressHealth],
  ['networking.k8s.io/Ingress', ingressHealth],
  ['/Pod', podHealth],
  ['/Service', serviceHealth],
  ['/PersistentVolumeClaim', pvcHealth],
  ['batch/Job', jobHealth],
  ['batch/CronJob', cronJobHealth],
  ['autoscaling/HorizontalPodAutoscaler', hpaHealth],
  ['apiregistration.k8s.io/APIService', apiServiceHealth],
  ['apiextensions.k8s.io/CustomResourceDefinition', crdHealth],
  ['argoproj.io/Workflow', argoWorkflowHealth],
  ['argoproj.io/Application', argoApplicationHealth],
]);

/** The check for a group and kind; kinds without a dedicated one get the generic conventions. */
export function healthCheckFor(group: string, kind: string): HealthCheck {
  return CHECKS.get(`${group}/${kind}`) ?? genericHealth;
}

/**
 * Health of one Kubernetes object, as Argo CD would report it. A missing object (undefined or null)
 * is Missing; an object being deleted is Progressing ("Pending deletion") unless only an Argo CD
 * hook finalizer holds it.
 */
export function assessHealth(obj: KubeObject | undefined | null): HealthResult {
  if (obj === undefined || obj === null) return health('Missing');
  if (!isRecord(obj)) return health('Unknown', 'not a Kubernetes object');
  const deletionTimestamp: unknown = obj.metadata?.deletionTimestamp;
  if (
    deletionTimestamp !== undefined &&
    deletionTimestamp !== null &&
    !finalizersOf(obj).includes(HOOK_FINALIZER)
  ) {
    return health('Progressing', 'Pending deletion');
  }
  const check = healthCheckFor(groupVersionOf(obj).group, str(obj.kind));
  try {
    return check(obj);
  } catch (err) {
    // The checks read defensively; this only guards against objects no decoder would produce.
    return health('Unknown', err instanceof Error ? err.message : String(err));
  }
}
