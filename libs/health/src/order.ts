import { HEALTH_ORDER, type HealthStatus } from './types.js';

/** Position of a code in Argo CD's health order; higher is worse. */
export function healthRank(status: HealthStatus): number {
  return HEALTH_ORDER.indexOf(status);
}

/** Argo CD's `IsWorse(current, new)`: whether `candidate` is strictly worse than `current`. */
export function isWorse(current: HealthStatus, candidate: HealthStatus): boolean {
  return healthRank(candidate) > healthRank(current);
}

/**
 * The worst of a set of health codes, as Argo CD computes application health from its resources:
 * Healthy < Suspended < Progressing < Missing < Degraded < Unknown. An empty set is Healthy.
 */
export function worstHealth(results: readonly HealthStatus[]): HealthStatus {
  let worst: HealthStatus = 'Healthy';
  for (const status of results) {
    if (isWorse(worst, status)) worst = status;
  }
  return worst;
}
