import { isChildApplication } from '../../../../libs/health/src/index.js';
import { Logger } from '@nestjs/common';
import {
  resourceId,
  type KubeObject,
  type ResourceKey,
} from '../../../../libs/manifests/src/index.js';
import { backoffDelay } from '../../../../libs/workqueue/src/backoff.js';
import { KeyedQueue } from '../../../../libs/workqueue/src/keyed-queue.js';
import {
  ALLOW_ALL,
  allowListRefusal,
  scopeMatters,
  scopesOf,
  type AllowList,
} from '../allow-list.js';
import type { BundleCache } from '../bundle-cache.js';
import { kubeError } from '../kube/kube-client.js';
import type { WatchCache, WatchChange } from '../kube/watch-cache.js';
import type { StatusReporter } from '../outbound/status-reporter.js';
import type { AppState, StateStore } from '../state-store.js';
import { assessApp, type Assessment } from '../sync/assess.js';
import type { AppInput, SyncEngine } from '../sync/engine.js';
import type { AppliedOutcome } from '../sync/types.js';
import { appSyncOptions } from '../sync/options.js';
import { buildPlan } from '../sync/plan.js';
import { APP_LABEL, keyRef } from '../sync/resources.js';
import { AppRuntime } from '../sync/runtime.js';
import { healDueAt, recordHeal } from '../sync/self-heal.js';

/** An operation waiting for health or hooks is re-checked at least this often. */
const WAIT_RECHECK_MS = 5_000;

export interface ReconcilerOptions {
  /** How many apps are reconciled at once (each app on its own key). */
  concurrency: number;
  /** Agent-wide observe-only: nothing is applied, pruned or healed. */
  observeOnly?: boolean;
  selfHeal: { delayMs: number; maxDelayMs: number };
  resyncSeconds: number;
  /**
   * The cluster's allow-list (default: everything). Stored apps are checked against it too: it
   * may have been tightened, and the agent restarted, since they were deployed.
   */
  allowList?: AllowList;
}

/**
 * Reconcile and heal: every app on its own key of one queue (so never twice at once), level
 * triggered: a pass syncs the app when it is behind or asked to, assesses it against the live
 * objects, heals drift with backoff, and hands the assessment to the reporter. Triggered by new
 * desired state, watch events on what it manages, timers of running operations, and a periodic
 * resync of every app.
 */
export class AppReconciler {
  private readonly log = new Logger('Agent');
  private readonly queue: KeyedQueue<string>;
  private readonly runtimes = new Map<string, AppRuntime>();
  private readonly removals = new Map<string, { prune: boolean; done: () => void }>();
  /**
   * Removals that failed (the API server refused or was away), tried again with backoff. The app
   * is neither synced nor healed meanwhile: the hub no longer wants it.
   */
  private readonly removalRetries = new Map<
    string,
    { prune: boolean; attempts: number; timer?: NodeJS.Timeout }
  >();
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly bundles: BundleCache,
    private readonly watches: WatchCache,
    private readonly engine: SyncEngine,
    private readonly reporter: StatusReporter,
    /** Asks the hub for a bundle this agent lacks; false when it cannot ask now. */
    private readonly askBundle: (app: AppState) => boolean,
    private readonly options: ReconcilerOptions,
  ) {
    this.queue = new KeyedQueue<string>(
      (id) => this.reconcile(id),
      options.concurrency,
      (id, e) => this.log.error(`app ${id}: ${(e as Error).stack ?? String(e)}`),
    );
  }

  /**
   * Autonomy: whatever was desired before a restart is reconciled without waiting for the hub
   * (each app's first pass checks it against the allow-list before anything is applied).
   */
  start(): void {
    for (const a of this.store.apps()) {
      // A removal the restart interrupted, or that failed and waited for its retry: it goes on
      // (tried now, then with backoff), the app is not synced.
      if (a.removing) {
        this.resumeRemoval(a.appId, a.removing.prune);
        continue;
      }
      // Objects applied by an older agent lack the agent label: apply them once more.
      if (this.store.upgraded) this.runtime(a.appId).syncRequested = true;
      this.queue.enqueue(a.appId);
    }
    this.resyncTimer = setInterval(
      () => this.store.apps().forEach((a) => this.queue.enqueue(a.appId)),
      this.options.resyncSeconds * 1000,
    );
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    // Stored (see markRemoving): the next start resumes them.
    for (const retry of this.removalRetries.values()) clearTimeout(retry.timer);
    for (const rt of this.runtimes.values()) rt.dispose();
    await this.queue.stop();
  }

  /** Waits until no pass is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  enqueue(appId: string): void {
    this.queue.enqueue(appId);
  }

  /** A sync even when the app is at its generation (the hub's SyncNow). */
  requestSync(appId: string): void {
    this.runtime(appId).syncRequested = true;
    this.queue.enqueue(appId);
  }

  /** Removal runs on the app's queue (never concurrently with its sync); resolves when done. */
  remove(appId: string, prune: boolean): Promise<void> {
    if (!this.store.get(appId)) return Promise.resolve();
    return new Promise((done) => {
      this.removals.set(appId, { prune, done });
      this.queue.enqueue(appId);
    });
  }

  /**
   * New desired state for an app whose removal failed: it is wanted again, not removed. The
   * caller stores that state (without the `removing` mark) right after.
   */
  cancelRemoval(appId: string): void {
    clearTimeout(this.removalRetries.get(appId)?.timer);
    this.removalRetries.delete(appId);
    // A retry whose timer fired may be waiting for a queue slot: it must not run either.
    const waiting = this.removals.get(appId);
    if (waiting) {
      this.removals.delete(appId);
      waiting.done();
    }
  }

  /** A change to an object the agent manages: its app is looked at again. */
  onWatch(c: WatchChange): void {
    const appId = c.object.metadata.labels?.[APP_LABEL];
    if (appId && this.store.get(appId)) this.queue.enqueue(appId);
  }

  /**
   * Updates only the `applied` part of an app's stored state (never a stale copy of the rest). A
   * finished generation replaces what was stored with the one before (`outcome`: how this one
   * failed, whether its prune was held); a change of the inventory alone keeps it.
   */
  async saveApplied(
    appId: string,
    generation: number | undefined,
    resources: ResourceKey[] | undefined,
    outcome: AppliedOutcome = {},
  ): Promise<void> {
    const app = this.store.get(appId);
    if (!app) return;
    const { failed, pruneHeld } = generation === undefined ? (app.applied ?? {}) : outcome;
    // What the generation was: known when it is the one held (a newer one may have arrived).
    const { revision, bundleHash } =
      generation === undefined
        ? (app.applied ?? {})
        : generation === app.generation
          ? app
          : { revision: undefined, bundleHash: undefined };
    await this.store.put({
      ...app,
      applied: {
        generation: generation ?? app.applied?.generation ?? 0,
        resources: resources ?? app.applied?.resources ?? [],
        ...(failed && { failed }),
        ...(pruneHeld && { pruneHeld }),
        ...(revision !== undefined && bundleHash !== undefined && { revision, bundleHash }),
      },
    });
  }

  private runtime(appId: string): AppRuntime {
    let rt = this.runtimes.get(appId);
    if (!rt) {
      rt = new AppRuntime(appId);
      // The app's first pass since the agent started: a sync that failed for good before the
      // restart goes on holding back what it did not apply, as the runtime before did.
      const applied = this.store.get(appId)?.applied;
      if (applied?.failed) rt.restoreFailed(applied.generation, applied.failed);
      // A held prune too: still said in the app's status, and not announced again.
      rt.pruneHeld = applied?.pruneHeld;
      this.runtimes.set(appId, rt);
    }
    return rt;
  }

  private input(app: AppState): AppInput {
    return {
      appId: app.appId,
      appName: app.appName,
      generation: app.generation,
      namespace: app.namespace,
      policy: app.policy,
      options: appSyncOptions(app.policy, this.options.observeOnly),
      inventory: app.applied?.resources ?? [],
    };
  }

  /**
   * The objects of the bundle an app holds (throws when it is gone or damaged), without the child
   * applications the hub keeps (Argo CD `Application`s of an app of apps): never applied here.
   */
  private bundleObjects(app: AppState): KubeObject[] {
    const held = this.bundles.get(app.bundleHash);
    if (!held) {
      // Ask the hub for it now (or it learns at the next Hello; see the inventory).
      const asked = this.askBundle(app);
      throw new Error(
        `bundle ${app.bundleHash} is not held here; ${asked ? 'asked the hub for it' : 'the hub resends it at the next connection'}`,
      );
    }
    this.bundles.remember(app.bundleHash, held.objects);
    return held.objects.some(isChildApplication)
      ? held.objects.filter((o) => !isChildApplication(o))
      : held.objects;
  }

  /** One pass over an app: remove it, or sync it when needed, then assess, heal and report. */
  private async reconcile(appId: string): Promise<void> {
    const removal = this.removals.get(appId);
    if (removal) return this.removeNow(appId, removal);
    if (this.removalRetries.has(appId)) return;
    const app = this.store.get(appId);
    // Marked for removal: never synced or healed (the removal's own retries go on).
    if (!app || app.removing) return;
    const rt = this.runtime(appId);
    const objects = this.bundleObjects(app);
    if (await this.refuse(rt, app, objects)) return;
    const planKey = `${app.bundleHash}|${app.namespace}|${JSON.stringify(app.policy)}`;
    if (rt.planKey !== planKey) rt.resetPlan(planKey, buildPlan(objects));
    const input = this.input(app);
    this.watchKinds(rt, input);
    const enqueue = () => this.queue.enqueue(appId);

    if (!input.options.observeOnly) {
      await this.maybeSync(rt, app, input, enqueue);
      // No timer of its own: a hook's changes reach the app as watch events, and the periodic
      // resync looks again, so one that never finishes does not keep the app busy.
      await this.engine.followSyncFail(rt, input);
    }
    let a = await assessApp(this.engine, rt, input);
    await this.forget(appId, input, a.gone);
    this.noteDrift(rt, input, a);
    if (await this.maybeHeal(rt, app, input, a, enqueue)) {
      a = await assessApp(this.engine, rt, input);
    }
    if (rt.op) rt.wakeAt(Date.now() + WAIT_RECHECK_MS, enqueue);
    this.reporter.report(app, a.report);
  }

  /**
   * The allow-list, for what is stored: the hub does not send a generation this agent holds
   * again, so a list tightened since (and the agent restarted) is only ever seen here. A stored
   * app it forbids is refused as its Deploy would be: reported out of sync with the same error,
   * neither synced, healed nor pruned; what it applied before stays as it is. Returns whether it
   * was refused.
   */
  private async refuse(rt: AppRuntime, app: AppState, objects: KubeObject[]): Promise<boolean> {
    const allowList = this.options.allowList ?? ALLOW_ALL;
    // Which objects are cluster-scoped (whatever namespace their manifest names), when the list
    // limits cluster-scoped kinds.
    const project = app.policy.clusterKinds;
    const namespaced = scopeMatters(allowList, project)
      ? await scopesOf(objects, (v, k) => this.engine.applier.namespaced(v, k))
      : undefined;
    const message = allowListRefusal(allowList, objects, app.namespace, namespaced, project);
    if (!message) {
      rt.refusal = '';
      return false;
    }
    // Nothing of it is assessed: it needs no watches of its own.
    this.watches.release(app.appId);
    const refusal = `${app.generation}|${message}`;
    // Over the generation it holds (there is no status of it yet after a start); kept by the
    // reporter and resent when the hub welcomes the agent.
    if (rt.refusal !== refusal) {
      rt.refusal = refusal;
      this.reporter.event(app.appId, 'Warning', 'SyncRefused', message, app.generation);
      // Over what runs: the generation last applied when it is known, not the refused one.
      const applied = app.applied;
      const held =
        applied &&
        applied.generation > 0 &&
        applied.generation < app.generation &&
        applied.revision !== undefined &&
        applied.bundleHash !== undefined
          ? {
              generation: applied.generation,
              revision: applied.revision,
              bundleHash: applied.bundleHash,
            }
          : app;
      this.reporter.refused(app.appId, message, held);
    }
    return true;
  }

  private async maybeSync(
    rt: AppRuntime,
    app: AppState,
    input: AppInput,
    enqueue: () => void,
  ): Promise<void> {
    const behind = (app.applied?.generation ?? 0) < app.generation;
    if (!rt.op && !behind && !rt.syncRequested) return;
    // The backoff is that of the generation that failed: a newer one starts at once (as Argo CD
    // starts a new operation for a new revision), and so does a sync asked for now (the
    // protocol's SyncNow; today's hub sends none: its syncs are new generations).
    const retryAt = rt.failuresGeneration === app.generation && !rt.syncRequested ? rt.retryAt : 0;
    if (!rt.op && Date.now() < retryAt) {
      rt.wakeAt(retryAt, enqueue);
      return;
    }
    if (!rt.op || rt.op.generation !== app.generation) {
      this.engine.startOperation(rt, input, !behind);
    }
    rt.syncRequested = false;
    const outcome = await this.engine.runOperation(rt, input);
    if (outcome === 'failed' && rt.retryAt) rt.wakeAt(rt.retryAt, enqueue);
  }

  /** Drops inventory entries no longer the app's (pruned, deleted by someone, or taken over). */
  private async forget(appId: string, input: AppInput, gone: ResourceKey[]): Promise<void> {
    if (gone.length === 0) return;
    const ids = new Set(gone.map(resourceId));
    input.inventory = input.inventory.filter((k) => !ids.has(resourceId(k)));
    await this.saveApplied(appId, undefined, input.inventory);
  }

  private watchKinds(rt: AppRuntime, input: AppInput): void {
    const kinds = new Map<string, { apiVersion: string; kind: string }>();
    for (const item of [...rt.plan.resources, ...rt.plan.hooks]) {
      kinds.set(`${item.raw.apiVersion}/${item.raw.kind}`, item.raw);
    }
    for (const k of input.inventory) {
      const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
      kinds.set(`${apiVersion}/${k.kind}`, { apiVersion, kind: k.kind });
    }
    this.watches.use(input.appId, [...kinds.values()]);
  }

  /** Records a DriftDetected event when the set of drifted resources changes. */
  private noteDrift(rt: AppRuntime, input: AppInput, a: Assessment): void {
    const drifted = a.report.resources.filter((r) => r.drifted);
    const key = drifted.map((r) => `${resourceId(r.key)}:${r.message}`).join('|');
    if (key === rt.lastDrift) return;
    rt.lastDrift = key;
    if (drifted.length === 0) return;
    const what = drifted
      .slice(0, 5)
      .map((r) => `${keyRef(r.key)}: ${r.message}`)
      .join('; ');
    this.reporter.event(input.appId, 'Warning', 'DriftDetected', what, input.generation);
  }

  /** Self-heal with backoff (see healDueAt). Returns whether it healed. */
  private async maybeHeal(
    rt: AppRuntime,
    app: AppState,
    input: AppInput,
    a: Assessment,
    enqueue: () => void,
  ): Promise<boolean> {
    const h = rt.heal;
    if (
      input.options.observeOnly ||
      !app.policy.selfHeal ||
      rt.op ||
      (app.applied?.generation ?? 0) < app.generation ||
      a.healIds.size === 0
    ) {
      if (a.healIds.size === 0) h.driftSince = 0;
      return false;
    }
    const due = healDueAt(h, Date.now(), this.options.selfHeal);
    if (Date.now() < due) {
      rt.wakeAt(due, enqueue);
      return false;
    }
    const drifted = a.report.resources.filter((r) => a.healIds.has(resourceId(r.key)));
    const failures = await this.engine.heal(rt, input, a.healIds);
    recordHeal(h, Date.now());
    const what = drifted
      .slice(0, 5)
      .map((r) => `${keyRef(r.key)} (${r.message})`)
      .join('; ');
    if (failures.length) {
      this.reporter.event(
        input.appId,
        'Warning',
        'SelfHealFailed',
        `${failures.map((f) => `${f.ref}: ${f.message}`).join('; ')}`,
        input.generation,
      );
    } else {
      this.reporter.event(
        input.appId,
        'Normal',
        'SelfHealed',
        `re-applied ${what}`,
        input.generation,
      );
    }
    return true;
  }

  private async removeNow(appId: string, r: { prune: boolean; done: () => void }): Promise<void> {
    this.removals.delete(appId);
    let failed = false;
    const generation = this.store.get(appId)?.generation;
    // A Deploy stored while the resources were being deleted: the app is wanted again. Its state
    // stays (the hub has its acknowledgement) and a pass applies it anew.
    const wantedAgain = () => this.store.get(appId)?.generation !== generation;
    try {
      const app = this.store.get(appId);
      if (!app) return;
      await this.markRemoving(app, r.prune);
      if (wantedAgain()) {
        // Deployed while the mark was written: that state (unmarked) stays and is applied.
        this.queue.enqueue(appId);
        return;
      }
      const rt = this.runtime(appId);
      const input = this.input(app);
      // Observe-only deletes nothing, not even when the app goes away.
      const prune = r.prune && !input.options.observeOnly;
      if (prune) {
        const error = await this.engine.removeApp(rt, input);
        if (wantedAgain()) {
          this.queue.enqueue(appId);
          return;
        }
        if (error) {
          // Its state (and inventory) stays until every resource is gone: tried again later.
          failed = true;
          this.log.warn(`removing ${app.appName}: ${error} (trying again)`);
          return;
        }
      }
      rt.dispose();
      this.runtimes.delete(appId);
      this.watches.release(appId);
      await this.store.remove(appId);
      this.reporter.forget(appId);
      this.reporter.event(
        appId,
        'Normal',
        'Removed',
        `${app.appName} removed${prune ? ' with its resources' : '; its resources were kept'}`,
        app.generation,
      );
    } catch (e) {
      failed = true;
      this.log.error(`removing ${appId}: ${kubeError(e).message} (trying again)`);
    } finally {
      if (failed && !wantedAgain()) this.retryRemoval(appId, r.prune);
      else this.removalRetries.delete(appId);
      r.done();
    }
  }

  /**
   * Writes down that the app is being removed, before anything is deleted: after a restart it
   * would otherwise be an app like any other, synced and healed, and what a removal that failed
   * half-way had deleted would be re-created.
   */
  private async markRemoving(app: AppState, prune: boolean): Promise<void> {
    if (app.removing?.prune === prune) return;
    await this.store.put({ ...app, removing: { prune } });
  }

  /** A removal stored before the restart is tried again now (no one waits for it). */
  private resumeRemoval(appId: string, prune: boolean): void {
    this.removals.set(appId, { prune, done: () => undefined });
    this.queue.enqueue(appId);
  }

  private retryRemoval(appId: string, prune: boolean): void {
    const attempts = (this.removalRetries.get(appId)?.attempts ?? 0) + 1;
    const entry: { prune: boolean; attempts: number; timer?: NodeJS.Timeout } = {
      prune,
      attempts,
    };
    entry.timer = setTimeout(
      () => {
        if (this.removalRetries.get(appId) !== entry) return; // cancelled, or wanted again
        // A Remove from the hub already waiting is newer and will run: its `done` must stay
        // (the hub's next messages wait for it).
        if (!this.removals.has(appId)) this.removals.set(appId, { prune, done: () => undefined });
        this.queue.enqueue(appId);
      },
      backoffDelay(attempts, 1000, 60_000),
    );
    entry.timer.unref();
    this.removalRetries.set(appId, entry);
  }
}
