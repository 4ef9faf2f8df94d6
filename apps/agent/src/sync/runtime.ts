import type { FieldDiff, FieldSet } from '../../../../libs/diff/src/index.js';
import type { HealthStatus } from '../../../../libs/health/src/index.js';
import type { KubeObject, ResourceKey } from '../../../../libs/manifests/src/index.js';
import type { HookType } from './options.js';
import type { Plan, PlanItem } from './plan.js';
import type { PruneHeld } from './prune-hold.js';
import type { Prepared } from './resources.js';
import type { HealState } from './self-heal.js';
import type { FailedSync } from './types.js';

export type { SyncState } from '../../../../libs/proto/src/codec.js';
import type { SyncState } from '../../../../libs/proto/src/codec.js';
export type OperationPhase = 'Running' | 'Succeeded' | 'Failed';

/** What the API server returned for the agent's last apply (or a dry run of it). */
export interface Snapshot {
  /** Hash of the prepared object this snapshot is for. */
  hash: string;
  expected: KubeObject;
  /** Fields the agent's field manager owns in `expected`. */
  owned: FieldSet;
  dryRun: boolean;
  seq: number;
}

export interface HookRun {
  type: HookType;
  step: number;
  item: PlanItem;
  key?: ResourceKey;
  /**
   * uid and resourceVersion of the object the run created (the apply response): an object under
   * the same key with another uid is an earlier run of the hook, not this one (see Hooks.current).
   */
  uid?: string;
  resourceVersion?: string;
  phase: OperationPhase;
  message: string;
}

/** A sync operation in progress: resumable at the step it waits at. */
export interface Operation {
  generation: number;
  startedAt: number;
  stepIndex: number;
  stepStarted: boolean;
  appliedIds: Set<string>;
  hooks: HookRun[];
  deferredPrune: ResourceKey[];
  waiting?: string;
  /** Retries before this attempt. */
  retryCount: number;
  /** A sync of an already applied generation (SyncNow). */
  forced: boolean;
  /**
   * Live objects the app ran when the operation started (counted before its first step, when it
   * prunes): what the prune guard measures a prune against, before this sync's applies add any.
   */
  ownedBefore?: number;
}

export interface OperationSummary {
  phase: OperationPhase;
  message: string;
  generation: number;
  startedAt: number;
  finishedAt: number;
  retryCount: number;
  nextRetryAt: number;
  hooks: HookRun[];
}

export interface ResourceReport {
  key: ResourceKey;
  sync: SyncState;
  health: HealthStatus;
  message: string;
  drifted: boolean;
  diffs: FieldDiff[];
  diffTotal: number;
  requiresPruning: boolean;
  wave: number;
}

export interface AppReport {
  sync: SyncState;
  health: HealthStatus;
  message: string;
  resources: ResourceReport[];
  drifted: boolean;
  observeOnly: boolean;
  operation?: OperationSummary;
}

/** Everything the agent keeps in memory for one app (rebuilt after a restart). */
export class AppRuntime {
  /** bundle hash + policy the plan was built for. */
  planKey = '';
  plan: Plan = { resources: [], hooks: [], steps: [], syncFail: [] };
  readonly prepared = new Map<PlanItem, Prepared>();
  readonly snapshots = new Map<string, Snapshot>();
  readonly applyErrors = new Map<string, string>();
  readonly diffMemo = new Map<string, { total: number; diffs: FieldDiff[] }>();
  op: Operation | undefined;
  lastOp: OperationSummary | undefined;
  /**
   * Failed operations whose SyncFail hooks still run (the last few). They start after the
   * operation ended, so they are followed on the app's later passes instead, until each finishes,
   * also after a retry or a new generation started: their events and delete policies are theirs.
   */
  syncFailOps: Operation[] = [];
  /** Failed attempts of the current generation and when the next retry may start. */
  failures = 0;
  failuresGeneration = 0;
  retryAt = 0;
  syncRequested = false;
  heal: HealState = { attempts: 0, lastHealAt: 0, driftSince: 0 };
  /** Ids that drifted at the last assessment (for events on change only). */
  lastDrift = '';
  /**
   * The prune held by the guard at the last prune step (or restored after a restart): shown as
   * the app's message while its leftovers stay, and announced once per generation.
   */
  pruneHeld: PruneHeld | undefined;
  /** Live objects the app ran before the first attempt at `generation` (see Operation.ownedBefore). */
  ownedBefore: { generation: number; count: number } | undefined;
  /** The allow-list refusal last announced (generation and reason); '' while allowed. */
  refusal = '';
  timer: NodeJS.Timeout | undefined;
  timerAt = 0;
  snapshotSeq = 0;

  constructor(readonly appId: string) {}

  /**
   * After a restart: the sync of `generation` that failed for good (kept in the state store), as
   * it was before the restart. The report shows it, the differences it left are still not drift
   * (not healed; see assessApp), and a SyncNow counts its retries on from it. Its hooks are not
   * kept.
   */
  restoreFailed(generation: number, f: FailedSync): void {
    this.lastOp = {
      phase: 'Failed',
      message: f.message,
      generation,
      startedAt: f.startedAt,
      finishedAt: f.finishedAt,
      retryCount: f.retryCount,
      nextRetryAt: 0,
      hooks: [],
    };
    this.failures = f.retryCount;
    this.failuresGeneration = generation;
  }

  resetPlan(key: string, plan: Plan): void {
    this.planKey = key;
    this.plan = plan;
    this.prepared.clear();
    this.diffMemo.clear();
  }

  /**
   * Forgets the snapshots and apply errors of objects other than `ids` (those of the current
   * plan). Each snapshot holds a whole API response; without this, names that change with every
   * commit (kustomize's hash suffixes) would add one per commit for the life of the process.
   */
  keepOnly(ids: Set<string>): void {
    for (const id of this.snapshots.keys()) if (!ids.has(id)) this.snapshots.delete(id);
    for (const id of this.applyErrors.keys()) if (!ids.has(id)) this.applyErrors.delete(id);
  }

  /** Wakes the app at `at` (keeps the earliest pending wake-up). */
  wakeAt(at: number, enqueue: () => void): void {
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = 0;
        enqueue();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
