import { health, type HealthResult, type KubeObject } from './types.js';
import {
  annotationsOf,
  conditionsOf,
  groupVersionOf,
  isRecord,
  toCondition,
  type Condition,
} from './util.js';

/*
 * HorizontalPodAutoscaler, following gitops-engine's health_hpa.go. autoscaling/v1 carries its
 * conditions as JSON in an annotation; later versions have status.conditions. Conditions are read
 * in order and the first one that says anything decides: a known failure state makes the HPA
 * Degraded, AbleToScale=True or ScalingLimited=True makes it Healthy. An HPA whose first
 * condition is AbleToScale=True is Healthy even when a later one failed to get metrics, exactly
 * as in Argo CD. With no such condition it is waiting.
 */

export const HPA_CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions';

function waiting(): HealthResult {
  return health('Progressing', 'Waiting to Autoscale');
}

/** Exactly gitops-engine's list: other failure reasons do not decide on their own. */
const DEGRADED_STATES: ReadonlyArray<readonly [type: string, reason: string]> = [
  ['AbleToScale', 'FailedGetScale'],
  ['AbleToScale', 'FailedUpdateScale'],
  ['ScalingActive', 'FailedGetResourceMetric'],
  ['ScalingActive', 'InvalidSelector'],
];

function isDegraded(c: Condition): boolean {
  return DEGRADED_STATES.some(([type, reason]) => c.type === type && c.reason === reason);
}

function isHealthy(c: Condition): boolean {
  return (c.type === 'AbleToScale' || c.type === 'ScalingLimited') && c.status === 'True';
}

function checkConditions(conditions: Condition[]): HealthResult {
  for (const c of conditions) {
    if (isDegraded(c)) return health('Degraded', c.message);
    if (isHealthy(c)) return health('Healthy', c.message);
  }
  return waiting();
}

function v1Conditions(obj: KubeObject): Condition[] | HealthResult {
  const annotation = annotationsOf(obj)[HPA_CONDITIONS_ANNOTATION];
  if (annotation === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(annotation);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return health('Unknown', `failed to convert conditions annotation to typed: ${reason}`);
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed) || !parsed.every(isRecord)) {
    return health(
      'Unknown',
      'failed to convert conditions annotation to typed: expected a JSON array of conditions',
    );
  }
  return parsed.map(toCondition);
}

export function hpaHealth(obj: KubeObject): HealthResult {
  if (groupVersionOf(obj).version === 'v1') {
    const conditions = v1Conditions(obj);
    if (!Array.isArray(conditions)) return conditions;
    if (conditions.length === 0) return waiting();
    return checkConditions(conditions);
  }
  return checkConditions(conditionsOf(obj));
}
