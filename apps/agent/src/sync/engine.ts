import { ignoreFor } from '../../../../libs/diff/src/index.js';
import { assessHealth } from '../../../../libs/health/src/index.js';
import { resourceId, type ResourceKey } from '../../../../libs/manifests/src/index.js';
import { NoKindError, type KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import { Applier, refOf, unresolved } from './apply.js';
import { inSync } from './diff.js';
import { Hooks } from './hooks.js';
import { mayRetry, retryDelay } from './options.js';
import { describeStep, type PlanItem, type Step } from './plan.js';
import { Pruner } from './prune.js';
import { keyRef, type Prepared } from './resources.js';
import type { AppRuntime, HookRun, Operation, OperationSummary } from './runtime.js';
import type {
  AppInput,
  AppliedOutcome,
  ApplyFailure,
  EngineCallbacks,
  EngineOptions,
  FailedSync,
  OperationOutcome,
} from './types.js';

/** Failed attempts whose SyncFail hooks are followed at most (see AppRuntime.syncFailOps). */
const MAX_SYNC_FAIL_OPS = 5;

export type {
  AppInput,
  EngineCallbacks,
  EngineOptions,
  EventType,
  FailedSync,
  OperationOutcome,
} from './types.js';

/**
 * Sync operations, one app at a time (the caller serialises per app): the plan's steps in order
 * (waves gated on the health of the one before, hooks followed, prune, PruneLast), retries with
 * backoff, and self-heal. Applying is the Applier's, hooks the Hooks', pruning the Pruner's,
 * comparing diff.ts's. Holds no state of its own: what it learns about an app lives in that app's
 * AppRuntime.
 */
export class SyncEngine {
  readonly applier: Applier;
  readonly hooks: Hooks;
  readonly pruner: Pruner;

  constructor(
    client: KubeClient,
    watches: WatchCache,
    private readonly cb: EngineCallbacks,
    opts: EngineOptions,
  ) {
    this.applier = new Applier(client, watches, opts);
    this.hooks = new Hooks(this.applier, client, cb);
    this.pruner = new Pruner(this.applier, client, watches, cb, opts);
  }

  startOperation(rt: AppRuntime, app: AppInput, forced: boolean): Operation {
    if (rt.failuresGeneration !== app.generation) {
      rt.failures = 0;
      rt.failuresGeneration = app.generation;
    }
    const op: Operation = {
      generation: app.generation,
      startedAt: Date.now(),
      stepIndex: 0,
      stepStarted: false,
      appliedIds: new Set(),
      hooks: [],
      deferredPrune: [],
      retryCount: rt.failures,
      forced,
    };
    rt.op = op;
    rt.lastOp = {
      phase: 'Running',
      message: '',
      generation: app.generation,
      startedAt: op.startedAt,
      finishedAt: 0,
      retryCount: rt.failures,
      nextRetryAt: 0,
      hooks: op.hooks,
    };
    this.cb.event(
      app.appId,
      'Normal',
      'SyncStarted',
      `sync of generation ${app.generation} started${rt.failures ? ` (retry ${rt.failures})` : ''}`,
      app.generation,
    );
    return op;
  }

  /** Runs (or resumes) the app's operation until it waits, fails or succeeds. */
  async runOperation(rt: AppRuntime, app: AppInput): Promise<OperationOutcome> {
    const op = rt.op!;
    const steps = rt.plan.steps;
    // Before the first step applies anything: the prune guard measures against what ran before,
    // once per generation. A retry comes after its failed attempt applied part of the bundle:
    // counted again, a renamed app's new objects would halve the share of its old ones.
    if (op.ownedBefore === undefined && app.policy.prune && !app.policy.pruneConfirmed) {
      if (rt.ownedBefore?.generation !== app.generation)
        rt.ownedBefore = { generation: app.generation, count: await this.pruner.owned(app) };
      op.ownedBefore = rt.ownedBefore.count;
    }
    while (op.stepIndex < steps.length) {
      const step = steps[op.stepIndex];
      if (!op.stepStarted) {
        const wait = await this.gate(rt, app, op);
        if (wait) return this.wait(rt, op, wait);
        const failure = await this.startStep(rt, app, op, step);
        op.stepStarted = true;
        if (failure) return this.fail(rt, app, op, failure);
      }
      const hooks = await this.hooks.check(rt, app, op);
      if (hooks.failed) return this.fail(rt, app, op, hooks.failed);
      if (hooks.waiting) return this.wait(rt, op, hooks.waiting);
      op.stepIndex++;
      op.stepStarted = false;
      op.waiting = undefined;
    }
    return this.succeed(rt, app, op);
  }

  private wait(rt: AppRuntime, op: Operation, message: string): OperationOutcome {
    op.waiting = message;
    if (rt.lastOp) rt.lastOp.message = message;
    return 'waiting';
  }

  private async succeed(rt: AppRuntime, app: AppInput, op: Operation): Promise<OperationOutcome> {
    rt.op = undefined;
    await this.hooks.cleanUp(op, true);
    rt.failures = 0;
    rt.retryAt = 0;
    // Retries of a failed attempt measure against one count; a later sync counts again.
    rt.ownedBefore = undefined;
    rt.lastOp = {
      ...rt.lastOp!,
      phase: 'Succeeded',
      message: `synced generation ${op.generation}`,
      finishedAt: Date.now(),
      nextRetryAt: 0,
    };
    await this.cb.markApplied(app.appId, op.generation, heldOf(rt, op));
    this.cb.event(app.appId, 'Normal', 'SyncSucceeded', rt.lastOp.message, op.generation);
    return 'succeeded';
  }

  private async fail(
    rt: AppRuntime,
    app: AppInput,
    op: Operation,
    message: string,
  ): Promise<OperationOutcome> {
    rt.op = undefined;
    await this.hooks.cleanUp(op, false);
    await this.hooks.startSyncFail(rt, app, op);
    // The operation is over: the app's later passes follow its SyncFail hooks (followSyncFail),
    // those of a few failed attempts at most (hooks that never finish are not kept for ever).
    if (op.hooks.some((h) => h.type === 'SyncFail')) {
      rt.syncFailOps.push(op);
      if (rt.syncFailOps.length > MAX_SYNC_FAIL_OPS) rt.syncFailOps.shift();
    }
    rt.failures++;
    const retry = mayRetry(app.policy.retry, rt.failures);
    rt.retryAt = retry ? Date.now() + retryDelay(app.policy.retry!, rt.failures - 1) : 0;
    rt.lastOp = {
      ...rt.lastOp!,
      phase: 'Failed',
      message,
      finishedAt: Date.now(),
      retryCount: rt.failures,
      nextRetryAt: rt.retryAt,
    };
    this.cb.event(app.appId, 'Warning', 'SyncFailed', message, op.generation);
    if (retry) {
      this.cb.event(
        app.appId,
        'Normal',
        'SyncRetrying',
        `retry ${rt.failures} in ${Math.round((rt.retryAt - Date.now()) / 100) / 10} s`,
        op.generation,
      );
    } else {
      // No retry left: the generation counts as applied (with errors); self-heal may fix drift,
      // not what the failure held back. The failure is stored with it, so that a restart still
      // holds it back (see assessApp), until a new generation or a SyncNow.
      await this.cb.markApplied(app.appId, op.generation, {
        failed: failedSync(rt.lastOp),
        ...heldOf(rt, op),
      });
    }
    return 'failed';
  }

  /** Why the step at op.stepIndex may not start yet (undefined: it may). */
  private async gate(rt: AppRuntime, app: AppInput, op: Operation): Promise<string | undefined> {
    const steps = rt.plan.steps;
    const step = steps[op.stepIndex];
    const prev = steps
      .slice(0, op.stepIndex)
      .reverse()
      .find((s) => s.kind === 'apply');
    if (step.kind === 'apply' && prev?.kind === 'apply' && prev.resources.length > 0) {
      const w = await this.unhealthy(rt, app, prev.resources);
      if (w) return `waiting for ${describeStep(prev)}: ${w}`;
    }
    const firstPostSync =
      step.kind === 'apply' && step.phase === 'PostSync' && prev?.kind === 'apply'
        ? prev.phase !== 'PostSync'
        : false;
    if (firstPostSync || (step.kind === 'pruneLast' && op.deferredPrune.length > 0)) {
      const w = await this.unhealthy(rt, app, rt.plan.resources);
      if (w) return `waiting for all resources to be healthy: ${w}`;
    }
    return undefined;
  }

  /** The first resource that is not Healthy (or Suspended), described; undefined if none. */
  private async unhealthy(
    rt: AppRuntime,
    app: AppInput,
    items: PlanItem[],
  ): Promise<string | undefined> {
    for (const item of items) {
      const p = await this.applier.prepare(rt, app, item);
      if (p instanceof Error) return `${item.raw.kind}/${item.raw.metadata.name}: ${p.message}`;
      const live = await this.applier.freshest(rt, p);
      const h = assessHealth(live);
      if (h.status !== 'Healthy' && h.status !== 'Suspended') {
        return `${keyRef(p.key)} is ${h.status}${h.message ? `: ${h.message}` : ''}`;
      }
    }
    return undefined;
  }

  private async startStep(
    rt: AppRuntime,
    app: AppInput,
    op: Operation,
    step: Step,
  ): Promise<string | undefined> {
    switch (step.kind) {
      case 'apply':
        return this.applyStep(rt, app, op, step);
      case 'prune':
        return this.pruner.pruneStep(rt, app, op);
      case 'pruneLast':
        return this.pruner.deleteKeys(app, op.deferredPrune, 'Pruned');
    }
  }

  private async applyStep(
    rt: AppRuntime,
    app: AppInput,
    op: Operation,
    step: Extract<Step, { kind: 'apply' }>,
  ): Promise<string | undefined> {
    const items: { p: Prepared; item: PlanItem }[] = [];
    const failures: ApplyFailure[] = [];
    for (const item of step.resources) {
      const p = await this.applier.prepare(rt, app, item);
      if (p instanceof NoKindError) {
        // The CRD may come in this very step: apply retries until the kind is served.
        items.push({ p: unresolved(item, app), item });
        continue;
      }
      if (p instanceof Error) {
        failures.push({ ref: refOf(item), id: '', message: p.message });
        continue;
      }
      // ObserveOnly=true on the resource: compared, never applied. ApplyOutOfSyncOnly=true, or a
      // new generation in which this object did not change: applied only when out of sync.
      if (
        item.options.observeOnly ||
        ((app.options.applyOutOfSyncOnly || mayLeaveUnchanged(app, op, p)) &&
          (await inSync(this.applier, rt, app, p)))
      ) {
        op.appliedIds.add(p.id);
        continue;
      }
      items.push({ p, item });
    }
    const done = await this.applier.applyResolving(rt, app, items, failures);
    for (const p of done) op.appliedIds.add(p.id);
    if (done.length) {
      const inventory = union(
        app.inventory,
        done.map((p) => p.key),
      );
      // Stored only when it changed (a sync of the same objects writes nothing to disk).
      if (!sameKeys(inventory, app.inventory)) {
        app.inventory = inventory;
        await this.cb.saveInventory(app.appId, app.inventory);
      }
    }
    for (const h of step.hooks) {
      const run: HookRun = {
        type: h.type,
        step: op.stepIndex,
        item: h.item,
        phase: 'Running',
        message: '',
      };
      op.hooks.push(run);
      await this.hooks.start(rt, app, run);
    }
    if (failures.length === 0) return undefined;
    const first = failures[0];
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
    return `${first.ref}: ${first.message}${more}`;
  }

  /** Re-applies the given resources (drifted or missing) in apply order. */
  async heal(rt: AppRuntime, app: AppInput, ids: Set<string>): Promise<ApplyFailure[]> {
    const items: { p: Prepared; item: PlanItem }[] = [];
    for (const item of rt.plan.resources) {
      const p = await this.applier.prepare(rt, app, item);
      if (!(p instanceof Error) && ids.has(p.id) && !item.options.observeOnly) {
        items.push({ p, item });
      }
    }
    const failures = await this.applier.applyObjects(rt, app, items);
    const applied = items.filter(({ p }) => !rt.applyErrors.has(p.id)).map(({ p }) => p.key);
    if (applied.length) {
      app.inventory = union(app.inventory, applied);
      await this.cb.saveInventory(app.appId, app.inventory);
    }
    return failures;
  }

  /** Follows the SyncFail hooks of the app's last failed operation, if any still run. */
  followSyncFail(rt: AppRuntime, app: AppInput): Promise<void> {
    return this.hooks.followSyncFail(rt, app);
  }

  /** Deletes what an app put in the cluster (the app was deleted), except Delete=false ones. */
  removeApp(rt: AppRuntime, app: AppInput): Promise<string | undefined> {
    return this.pruner.removeApp(rt, app);
  }
}

/**
 * An object unchanged by a new generation need not be sent again, unless the sync was asked
 * for (a user's sync re-applies everything, as in Argo CD) or fields of it are ignored in
 * comparisons (an apply would still set them; inSync cannot see that).
 */
function mayLeaveUnchanged(app: AppInput, op: Operation, p: Prepared): boolean {
  if (!app.options.skipUnchanged || op.forced) return false;
  const ignored = ignoreFor(app.policy.ignoreDifferences ?? [], p.key);
  return ignored.pointers.length === 0 && ignored.managers.length === 0;
}

/** What is stored of a failed operation (its hooks are not: they are followed in memory). */
function failedSync(s: OperationSummary): FailedSync {
  return {
    message: s.message,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    retryCount: s.retryCount,
  };
}

/** The prune the guard holds for the operation's generation, to be stored with it. */
function heldOf(rt: AppRuntime, op: Operation): AppliedOutcome {
  return rt.pruneHeld?.generation === op.generation ? { pruneHeld: rt.pruneHeld } : {};
}

function sameKeys(a: ResourceKey[], b: ResourceKey[]): boolean {
  if (a.length !== b.length) return false;
  const ids = new Map(b.map((k) => [resourceId(k), k.version]));
  return a.every((k) => ids.get(resourceId(k)) === k.version);
}

export function union(a: ResourceKey[], b: ResourceKey[]): ResourceKey[] {
  const m = new Map<string, ResourceKey>();
  for (const k of [...a, ...b]) m.set(resourceId(k), k);
  return [...m.values()];
}
