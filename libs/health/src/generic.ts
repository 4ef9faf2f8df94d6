import { health, isHealthStatus, type HealthResult, type HealthStatus } from './types.js';
import type { KubeObject } from './types.js';
import { isWorse } from './order.js';
import { conditionsOf, generationOf, get, isRecord, optInt, str, type Condition } from './util.js';

/*
 * Health of kinds without a dedicated check: custom resources and the plain core objects.
 *
 * Argo CD has no built-in generic check (a kind without a health check simply does not count
 * towards application health); what it ships instead are many per-CRD Lua scripts that follow the
 * same few conventions. This module applies those conventions:
 *
 *  1. `spec.suspend: true` / `spec.paused: true` → Suspended (Flux, Argo Rollouts, KEDA, …);
 *  2. `status.health` holding an Argo CD health code → that code (Argo CD-style controllers);
 *  3. `status.observedGeneration` behind `metadata.generation` → Progressing (kstatus);
 *  4. `status.conditions`:
 *     - Stalled/Failed/Degraded/Error…=True, or Synced/LastAsyncOperation=False → Degraded;
 *     - Suspended/Paused=True → Suspended; Reconciling/Issuing=True → Progressing;
 *     - the readiness condition (Ready, Available, Healthy, Established, Succeeded, Complete):
 *       True → Healthy, False → Degraded (Progressing when its reason says it is still working),
 *       Unknown → Progressing;
 *  5. `status.phase` (or a string `status.state`) mapped by name; when both conditions and
 *     phase give an answer, the worse one is reported (see `combine`);
 *  6. nothing to go on → Healthy: ConfigMaps, Secrets, RBAC and the like have no health, and, like
 *     resources without a health check in Argo CD, must not drag the application down.
 */

const FAILURE_WHEN_TRUE = new Set([
  'Stalled',
  'Failed',
  'Failure',
  'Degraded',
  'Error',
  'ReconcileError',
  'ReplicaFailure',
]);
const FAILURE_WHEN_FALSE = new Set(['Synced', 'LastAsyncOperation']);
const SUSPENDED_WHEN_TRUE = new Set(['Suspended', 'Paused']);
const IN_PROGRESS_WHEN_TRUE = new Set(['Reconciling', 'Issuing']);
const READINESS = ['Ready', 'Available', 'Healthy', 'Established', 'Succeeded', 'Complete'];

/** Reasons of a Ready=False condition that mean "not yet" rather than "broken". */
const IN_PROGRESS_REASON =
  /^(progressing|reconcil|pending|inprogress|in_progress|waiting|creating|provisioning|initiali[sz]|installing|upgrading|updating|deploying|scaling|starting|dependencynotready|notobserved)/i;

const PHASES: ReadonlyMap<string, HealthStatus> = new Map<string, HealthStatus>([
  ...(
    [
      'healthy',
      'ready',
      'running',
      'active',
      'available',
      'bound',
      'succeeded',
      'success',
      'successful',
      'complete',
      'completed',
      'deployed',
      'established',
      'synced',
      'online',
      'provisioned',
    ] as const
  ).map((p) => [p, 'Healthy'] as const),
  ...(
    [
      'progressing',
      'pending',
      'creating',
      'provisioning',
      'initializing',
      'initialising',
      'starting',
      'scheduling',
      'scheduled',
      'updating',
      'upgrading',
      'installing',
      'deploying',
      'reconciling',
      'scaling',
      'waiting',
      'queued',
      'inprogress',
      'in-progress',
      'terminating',
      'deleting',
    ] as const
  ).map((p) => [p, 'Progressing'] as const),
  ...(
    [
      'degraded',
      'failed',
      'failure',
      'error',
      'errored',
      'unhealthy',
      'crashloopbackoff',
      'lost',
      'invalid',
      'rejected',
    ] as const
  ).map((p) => [p, 'Degraded'] as const),
  ...(['suspended', 'paused', 'stopped', 'hibernated', 'hibernating'] as const).map(
    (p) => [p, 'Suspended'] as const,
  ),
  ['missing', 'Missing'],
  ['unknown', 'Unknown'],
]);

/** Maps a phase-like word (`Running`, `Failed`, `Paused`, …) to a health code, if it is known. */
export function healthOfPhase(phase: string): HealthStatus | undefined {
  if (isHealthStatus(phase)) return phase;
  return PHASES.get(phase.trim().toLowerCase());
}

function describe(c: Condition): string {
  if (c.reason && c.message) return `${c.reason}: ${c.message}`;
  return c.message || c.reason;
}

interface ConditionVerdict {
  result: HealthResult;
  /** Degraded only because the readiness condition is False, with no explicit failure. */
  weak: boolean;
}

function fromConditions(conditions: Condition[]): ConditionVerdict | undefined {
  const failed = conditions.find(
    (c) =>
      (FAILURE_WHEN_TRUE.has(c.type) && c.status === 'True') ||
      (FAILURE_WHEN_FALSE.has(c.type) && c.status === 'False'),
  );
  if (failed) return { result: health('Degraded', describe(failed)), weak: false };

  const suspended = conditions.find((c) => SUSPENDED_WHEN_TRUE.has(c.type) && c.status === 'True');
  if (suspended) return { result: health('Suspended', describe(suspended)), weak: false };

  const working = conditions.find((c) => IN_PROGRESS_WHEN_TRUE.has(c.type) && c.status === 'True');
  if (working) return { result: health('Progressing', describe(working)), weak: false };

  for (const type of READINESS) {
    const ready = conditions.find((c) => c.type === type);
    if (!ready) continue;
    if (ready.status === 'True') {
      return { result: health('Healthy', ready.message || ready.reason), weak: false };
    }
    if (ready.status === 'False' && !IN_PROGRESS_REASON.test(ready.reason)) {
      return { result: health('Degraded', describe(ready)), weak: true };
    }
    return { result: health('Progressing', describe(ready)), weak: false };
  }
  return undefined;
}

/**
 * Conditions and phase are independent signals (an aborted Argo Rollout still has Available=True),
 * so the worse one wins, conditions first on a tie; except that a bare Ready=False does not
 * overrule a phase that says the resource is still starting up.
 */
function combine(
  conditions: ConditionVerdict | undefined,
  phase: HealthResult | undefined,
): HealthResult | undefined {
  if (!conditions) return phase;
  if (!phase) return conditions.result;
  if (conditions.weak && phase.status === 'Progressing') return phase;
  return isWorse(conditions.result.status, phase.status) ? phase : conditions.result;
}

function fromHealthField(status: unknown): HealthResult | undefined {
  const field = get(status, 'health');
  const code = isRecord(field) ? field['status'] : field;
  if (typeof code !== 'string') return undefined;
  const mapped = healthOfPhase(code);
  if (!mapped) return undefined;
  return health(mapped, str(get(field, 'message')));
}

function fromPhase(status: unknown): HealthResult | undefined {
  const phase = get(status, 'phase') ?? get(status, 'state');
  if (typeof phase !== 'string' || phase === '') return undefined;
  const mapped = healthOfPhase(phase);
  if (!mapped) return undefined;
  return health(mapped, str(get(status, 'message')) || str(get(status, 'reason')));
}

export function genericHealth(obj: KubeObject): HealthResult {
  const spec: unknown = obj.spec;
  const status: unknown = obj.status;
  const kind = str(obj.kind) || 'Resource';
  if (get(spec, 'suspend') === true) return health('Suspended', `${kind} is suspended`);
  if (get(spec, 'paused') === true) return health('Suspended', `${kind} is paused`);

  if (!isRecord(status) || Object.keys(status).length === 0) return health('Healthy');

  const fromHealth = fromHealthField(status);
  if (fromHealth) return fromHealth;

  const observed = optInt(status['observedGeneration']);
  const generation = generationOf(obj);
  if (observed !== undefined && generation > observed) {
    return health(
      'Progressing',
      `Waiting for the controller to observe generation ${generation} (observed ${observed})`,
    );
  }

  return combine(fromConditions(conditionsOf(obj)), fromPhase(status)) ?? health('Healthy');
}
