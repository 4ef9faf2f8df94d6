import {
  HealthStatus,
  SyncStatus,
  type IgnoreDifference,
  type SyncPolicy,
} from '../gen/axle/agent/v1/agent.js';

/**
 * The one mapping between the wire (proto/axle/agent/v1/agent.proto) and the words hub and agent
 * use: sync and health states, and the sync policy. The hub encodes policies and decodes states;
 * the agent does the opposite. Both directions live here so that they cannot drift apart.
 */

export type SyncState = 'Synced' | 'OutOfSync' | 'Unknown';
export type HealthState =
  'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';

const SYNC: Record<SyncState, SyncStatus> = {
  Synced: SyncStatus.SYNC_STATUS_SYNCED,
  OutOfSync: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
  Unknown: SyncStatus.SYNC_STATUS_UNKNOWN,
};

const HEALTH: Record<HealthState, HealthStatus> = {
  Healthy: HealthStatus.HEALTH_STATUS_HEALTHY,
  Progressing: HealthStatus.HEALTH_STATUS_PROGRESSING,
  Degraded: HealthStatus.HEALTH_STATUS_DEGRADED,
  Suspended: HealthStatus.HEALTH_STATUS_SUSPENDED,
  Missing: HealthStatus.HEALTH_STATUS_MISSING,
  Unknown: HealthStatus.HEALTH_STATUS_UNKNOWN,
};

/** Every sync state, and every health state (the API's and the wire's). */
export const SYNC_STATES = Object.keys(SYNC) as readonly SyncState[];
export const HEALTH_STATES = Object.keys(HEALTH) as readonly HealthState[];

const SYNC_BY_WIRE = new Map<SyncStatus, SyncState>([
  ...Object.entries(SYNC).map(([k, v]) => [v, k as SyncState] as const),
  [SyncStatus.SYNC_STATUS_UNSPECIFIED, 'Unknown'],
]);

const HEALTH_BY_WIRE = new Map<HealthStatus, HealthState>([
  ...Object.entries(HEALTH).map(([k, v]) => [v, k as HealthState] as const),
  [HealthStatus.HEALTH_STATUS_UNSPECIFIED, 'Unknown'],
]);

export function encodeSync(s: SyncState): SyncStatus {
  return SYNC[s];
}

/** The state of a wire value; a value this version does not know (a newer peer's) is undefined. */
export function decodeSync(s: SyncStatus): SyncState | undefined {
  return SYNC_BY_WIRE.get(s);
}

export function encodeHealth(h: HealthState): HealthStatus {
  return HEALTH[h];
}

/** The state of a wire value; a value this version does not know (a newer peer's) is undefined. */
export function decodeHealth(h: HealthStatus): HealthState | undefined {
  return HEALTH_BY_WIRE.get(h);
}

/** Argo CD's ignoreDifferences entry, as the wire has it. */
export type IgnoreDifferenceRule = IgnoreDifference;

/** A sync policy as both sides mean it; absent optional fields are their defaults. */
export interface SyncPolicyModel {
  automated: boolean;
  prune: boolean;
  selfHeal: boolean;
  /** `Name=value` items (CreateNamespace, Replace, PruneLast, …). */
  syncOptions?: string[];
  /** Retries of a failed operation; durations in Go syntax (`5s`), empty for the default. */
  retry?: { limit: number; duration: string; factor: number; maxDuration: string };
  observeOnly?: boolean;
  ignoreDifferences?: IgnoreDifferenceRule[];
  /**
   * A person confirmed this generation's prune: the agent does not hold it, however much it
   * deletes. Only the generation of that person's sync carries it.
   */
  pruneConfirmed?: boolean;
  /**
   * The kinds the application's project lets it apply cluster-scoped (group `` is core, `*`
   * globs); absent: the project does not bound them. Empty: none.
   */
  clusterKinds?: { group: string; kind: string }[];
}

/** The policy on the wire; empty lists and unset options are left out (absent: the default). */
export function encodeSyncPolicy(p: SyncPolicyModel): SyncPolicy {
  return {
    automated: p.automated,
    prune: p.prune,
    selfHeal: p.selfHeal,
    ...(p.syncOptions?.length ? { syncOptions: { items: [...p.syncOptions] } } : {}),
    ...(p.retry ? { retry: { ...p.retry } } : {}),
    ...(p.observeOnly ? { observeOnly: true } : {}),
    ...(p.ignoreDifferences?.length
      ? { ignoreDifferences: { items: p.ignoreDifferences.map(copyRule) } }
      : {}),
    ...(p.pruneConfirmed ? { pruneConfirmed: true } : {}),
    ...(p.clusterKinds
      ? { clusterKinds: { items: p.clusterKinds.map(({ group, kind }) => ({ group, kind })) } }
      : {}),
  };
}

/**
 * The policy a Deploy carries. A hub of the first protocol version sent none: that meant
 * automated sync without prune or self-heal.
 */
export function decodeSyncPolicy(p: SyncPolicy | undefined): SyncPolicyModel {
  if (!p) return { automated: true, prune: false, selfHeal: false };
  const m: SyncPolicyModel = { automated: p.automated, prune: p.prune, selfHeal: p.selfHeal };
  if (p.syncOptions?.items.length) m.syncOptions = [...p.syncOptions.items];
  if (p.retry) {
    const { limit, duration, factor, maxDuration } = p.retry;
    m.retry = { limit, duration, factor, maxDuration };
  }
  if (p.observeOnly) m.observeOnly = true;
  if (p.ignoreDifferences?.items.length)
    m.ignoreDifferences = p.ignoreDifferences.items.map(copyRule);
  if (p.pruneConfirmed) m.pruneConfirmed = true;
  if (p.clusterKinds)
    m.clusterKinds = p.clusterKinds.items.map(({ group, kind }) => ({ group, kind }));
  return m;
}

function copyRule(i: IgnoreDifferenceRule): IgnoreDifferenceRule {
  return {
    group: i.group,
    kind: i.kind,
    name: i.name,
    namespace: i.namespace,
    jsonPointers: [...i.jsonPointers],
    managedFieldsManagers: [...i.managedFieldsManagers],
  };
}
