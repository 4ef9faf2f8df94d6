import type { AllowList } from '../allow-list.js';
import type { ResourceKey } from '../../../../libs/manifests/src/index.js';
import type { AppSyncOptions, SyncPolicyState } from './options.js';
import type { PruneHeld, PruneHoldLimits } from './prune-hold.js';

export interface AppInput {
  appId: string;
  appName: string;
  generation: number;
  namespace: string;
  policy: SyncPolicyState;
  options: AppSyncOptions;
  /** Everything that may be in the cluster for this app (persisted inventory). */
  inventory: ResourceKey[];
}

export type EventType = 'Normal' | 'Warning';

export interface EngineCallbacks {
  /** Persists the app's inventory (called as resources are applied and pruned). */
  saveInventory(appId: string, keys: ResourceKey[]): Promise<void>;
  /**
   * The operation for `generation` finished: successfully (`outcome.failed` undefined), or failed
   * with no retry left (`failed` says how; stored with it, see FailedSync). `pruneHeld`: its
   * prune was held (stored too, so the app says so after a restart).
   */
  markApplied(appId: string, generation: number, outcome?: AppliedOutcome): Promise<void>;
  event(appId: string, type: EventType, reason: string, message: string, generation: number): void;
}

export interface EngineOptions {
  fieldManager: string;
  /** The agent's name (its cluster on the hub), labelled on what it applies. */
  agentName: string;
  applyConcurrency: number;
  /** How long an apply waits for a CRD-defined kind to appear. */
  noKindWaitMs?: number;
  /** How long an apply waits for a CRD it applied to become Established. */
  crdWaitMs?: number;
  /** When a prune is held for a person's confirmation (default DEFAULT_PRUNE_HOLD). */
  pruneHold?: PruneHoldLimits;
  /**
   * The cluster's allow-list, for what only preparing an object tells: that its kind is
   * cluster-scoped (a CRD established during the sync). The rest is checked before the sync.
   */
  allowList?: AllowList;
}

/**
 * How a generation's sync failed for good, kept in the state store with the generation it is
 * about: what the failure held back (a failed PreSync hook gates the Sync phase) must stay held
 * after a restart too, not show up as missing or drifted and be applied by self-heal.
 */
export interface FailedSync {
  message: string;
  startedAt: number;
  finishedAt: number;
  /** Failed attempts of the generation (a SyncNow goes on counting from here). */
  retryCount: number;
}

/** What is stored with a finished generation besides its number (see AppState.applied). */
export interface AppliedOutcome {
  failed?: FailedSync;
  pruneHeld?: PruneHeld;
}

export type OperationOutcome = 'succeeded' | 'waiting' | 'failed';

export interface ApplyFailure {
  ref: string;
  id: string;
  message: string;
}
