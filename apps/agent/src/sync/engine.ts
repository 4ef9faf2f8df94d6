import {
  diffOwnedFields,
  fieldSetOfObject,
  fieldsOwnedBy,
  getAtPointer,
  ignoredManagerFields,
  ignoreFor,
  setAtPointer,
} from '../../../../libs/diff/src/index.js';
import { assessHealth, type HealthStatus } from '../../../../libs/health/src/index.js';
import {
  resourceId,
  resourceKey,
  type KubeObject,
  type ResourceKey,
} from '../../../../libs/manifests/src/index.js';
import {
  apiVersionOf,
  kubeError,
  NoKindError,
  type KubeClient,
  type PropagationPolicy,
} from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import {
  mayRetry,
  resourceSyncOptions,
  retryDelay,
  syncWave,
  type AppSyncOptions,
  type SyncPolicyState,
} from './options.js';
import { describeStep, type PlanItem, type Step } from './plan.js';
import { isHookObject, keyRef, ownedByApp, prepareObject, type Prepared } from './resources.js';
import type { AppRuntime, HookRun, Operation, Snapshot } from './runtime.js';

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
  /** The operation for `generation` finished (successfully, or failed with no retry left). */
  markApplied(appId: string, generation: number): Promise<void>;
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
}

export type OperationOutcome = 'succeeded' | 'waiting' | 'failed';

interface ApplyFailure {
  ref: string;
  id: string;
  message: string;
}

const CRD_GROUP = 'apiextensions.k8s.io';

/**
 * Applies, prunes and heals one app at a time (the caller serialises per app). Holds no state of
 * its own: what it learns about an app lives in that app's AppRuntime.
 */
/** How long a namespace seen to exist is taken to exist without asking again. */
const NAMESPACE_SEEN_MS = 60_000;

export class SyncEngine {
  /** Namespaces seen to exist, and when (see ensureNamespaces). */
  private readonly namespacesSeen = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly watches: WatchCache,
    private readonly cb: EngineCallbacks,
    private readonly opts: EngineOptions,
  ) {}

  // ---- preparing and reading -------------------------------------------------------------

  /** The prepared object, or the error that prevents preparing it (a kind not served yet). */
  async prepare(rt: AppRuntime, app: AppInput, item: PlanItem): Promise<Prepared | Error> {
    const cached = rt.prepared.get(item);
    if (cached) return cached;
    try {
      const p = await prepareObject(
        this.client,
        item.raw,
        app.appId,
        app.namespace,
        this.opts.agentName,
      );
      rt.prepared.set(item, p);
      return p;
    } catch (e) {
      return kubeError(e);
    }
  }

  /** The live object: from the watch cache when it has it, else from the API server. */
  async live(key: ResourceKey): Promise<KubeObject | undefined> {
    const apiVersion = apiVersionOf(key);
    // A kind just added is listed once instead of read object by object.
    await this.watches.waitSynced(apiVersion, key.kind, 2_000);
    const cached = this.watches.cached(apiVersion, key.kind, key.namespace || undefined, key.name);
    if (cached) return cached;
    // Not synced yet, or absent from the cache (deleted, or its label was removed): ask.
    return this.client.getOrUndefined(apiVersion, key.kind, key.name, key.namespace || undefined);
  }

  /**
   * The newer of the cached object and the last apply response: right after an apply the watch
   * cache may still hold the object as it was before, which must not look like drift.
   */
  async freshest(rt: AppRuntime, p: Prepared): Promise<KubeObject | undefined> {
    const live = await this.live(p.key);
    const snap = rt.snapshots.get(p.id);
    if (!live || !snap || snap.dryRun) return live;
    return rvNumber(snap.expected) > rvNumber(live) ? snap.expected : live;
  }

  // ---- applying ----------------------------------------------------------------------------

  private snapshot(rt: AppRuntime, p: Prepared, result: KubeObject, dryRun: boolean): Snapshot {
    const owned =
      fieldsOwnedBy(result, [this.opts.fieldManager], p.obj.apiVersion) ??
      withoutStatus(fieldSetOfObject(p.obj));
    const snap = { hash: p.hash, expected: result, owned, dryRun, seq: ++rt.snapshotSeq };
    rt.snapshots.set(p.id, snap);
    return snap;
  }

  /** A dry-run apply: what the object would look like with the desired state applied. */
  async dryRunSnapshot(rt: AppRuntime, p: Prepared, validate?: boolean): Promise<Snapshot> {
    const result = await this.client.apply(p.obj, this.opts.fieldManager, {
      dryRun: true,
      validate,
    });
    return this.snapshot(rt, p, result, true);
  }

  /**
   * Applies prepared objects: namespaces first, then CRDs (each waited on until Established),
   * then everything else concurrently. Returns the failures; successes update the snapshots.
   */
  async applyObjects(
    rt: AppRuntime,
    app: AppInput,
    items: { p: Prepared; item: PlanItem }[],
  ): Promise<ApplyFailure[]> {
    const failures: ApplyFailure[] = [];
    const nsErr = await this.ensureNamespaces(
      app,
      items.map((i) => i.p),
    );
    const groups = [
      items.filter((i) => i.p.key.kind === 'Namespace' && i.p.key.group === ''),
      items.filter(
        (i) => i.p.key.kind === 'CustomResourceDefinition' && i.p.key.group === CRD_GROUP,
      ),
    ];
    groups.push(items.filter((i) => !groups[0].includes(i) && !groups[1].includes(i)));
    for (const group of groups) {
      await mapLimit(group, this.opts.applyConcurrency, async ({ p, item }) => {
        try {
          const ns = p.key.namespace;
          if (ns && nsErr.has(ns)) throw new Error(nsErr.get(ns));
          const replace = item.options.replace ?? app.options.replace;
          const body = app.options.respectIgnoreDifferences
            ? await this.withIgnoredLiveValues(app, p)
            : p.obj;
          const result = await this.applyOne(body, replace, app.options.validate);
          this.snapshot(rt, p, result, false);
          rt.applyErrors.delete(p.id);
          if (p.key.kind === 'CustomResourceDefinition' && p.key.group === CRD_GROUP) {
            await this.waitEstablished(result);
          }
        } catch (e) {
          const message = kubeError(e).message;
          // The namespace may be gone (or going): look again next time.
          this.namespacesSeen.clear();
          rt.applyErrors.set(p.id, message);
          failures.push({ ref: keyRef(p.key), id: p.id, message });
        }
      });
    }
    return failures;
  }

  /** SSA (or replace), retrying a kind the cluster does not serve yet (its CRD is coming). */
  private async applyOne(
    obj: KubeObject,
    replace: boolean,
    validate: boolean,
  ): Promise<KubeObject> {
    const deadline = Date.now() + (this.opts.noKindWaitMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return replace
          ? await this.client.replace(obj, this.opts.fieldManager, validate)
          : await this.client.apply(obj, this.opts.fieldManager, { validate });
      } catch (e) {
        if (!(e instanceof NoKindError) || Date.now() > deadline) throw e;
        this.client.invalidate(obj.apiVersion);
        await sleep(Math.min(1000, 100 * 2 ** attempt));
      }
    }
  }

  /** RespectIgnoreDifferences: ignored fields keep their live values instead of git's. */
  private async withIgnoredLiveValues(app: AppInput, p: Prepared): Promise<KubeObject> {
    const ignore = ignoreFor(app.policy.ignoreDifferences ?? [], p.key);
    if (ignore.pointers.length === 0) return p.obj;
    const live = await this.live(p.key);
    if (!live) return p.obj;
    const obj = structuredClone(p.obj);
    for (const ptr of ignore.pointers) {
      try {
        setAtPointer(obj, ptr, structuredClone(getAtPointer(live, ptr)));
      } catch {
        // malformed pointer: nothing to keep
      }
    }
    return obj;
  }

  private async waitEstablished(crd: KubeObject): Promise<void> {
    const deadline = Date.now() + (this.opts.crdWaitMs ?? 30_000);
    let obj = crd;
    for (;;) {
      const conds = (obj as { status?: { conditions?: { type: string; status: string }[] } }).status
        ?.conditions;
      if (conds?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) {
        throw new Error(`CustomResourceDefinition ${crd.metadata.name} is not Established`);
      }
      await sleep(100);
      obj = await this.client.get(crd.apiVersion, crd.kind, crd.metadata.name);
    }
    const spec = (obj as { spec?: { group?: string; versions?: { name: string }[] } }).spec;
    const group = spec?.group;
    if (!group) return;
    for (const v of spec?.versions ?? []) this.client.invalidate(`${group}/${v.name}`);
    this.watches.wakeGroup(group);
  }

  /**
   * Creates the namespaces objects live in (unless CreateNamespace=false); errors by name. A
   * namespace seen to exist is not asked about again for NAMESPACE_SEEN_MS (every sync of every
   * app would otherwise cost a GET); a failed apply forgets them all.
   */
  private async ensureNamespaces(app: AppInput, ps: Prepared[]): Promise<Map<string, string>> {
    const errors = new Map<string, string>();
    if (!app.options.createNamespace) return errors;
    const declared = new Set(ps.filter((p) => p.key.kind === 'Namespace').map((p) => p.key.name));
    const needed = new Set(ps.map((p) => p.key.namespace).filter((ns) => ns && !declared.has(ns)));
    const now = Date.now();
    for (const ns of needed) {
      try {
        if (now - (this.namespacesSeen.get(ns) ?? 0) < NAMESPACE_SEEN_MS) continue;
        const live = this.watches.cached('v1', 'Namespace', undefined, ns);
        if (!live && !(await this.client.getOrUndefined('v1', 'Namespace', ns))) {
          await this.client.apply(
            { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
            this.opts.fieldManager,
          );
        }
        this.namespacesSeen.set(ns, now);
        if (this.namespacesSeen.size > 10_000)
          this.namespacesSeen.delete(this.namespacesSeen.keys().next().value!);
      } catch (e) {
        errors.set(ns, `namespace ${ns}: ${kubeError(e).message}`);
      }
    }
    return errors;
  }

  // ---- operations ---------------------------------------------------------------------------

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
    while (op.stepIndex < steps.length) {
      const step = steps[op.stepIndex];
      if (!op.stepStarted) {
        const wait = await this.gate(rt, app, op);
        if (wait) return this.wait(rt, op, wait);
        const failure = await this.startStep(rt, app, op, step);
        op.stepStarted = true;
        if (failure) return this.fail(rt, app, op, failure);
      }
      const hooks = await this.checkHooks(rt, app, op);
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
    rt.failures = 0;
    rt.retryAt = 0;
    rt.lastOp = {
      ...rt.lastOp!,
      phase: 'Succeeded',
      message: `synced generation ${op.generation}`,
      finishedAt: Date.now(),
      nextRetryAt: 0,
    };
    await this.cb.markApplied(app.appId, op.generation);
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
    await this.startSyncFailHooks(rt, app, op);
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
      // No retry left: the generation counts as applied (with errors); self-heal may fix it.
      await this.cb.markApplied(app.appId, op.generation);
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
      const p = await this.prepare(rt, app, item);
      if (p instanceof Error) return `${item.raw.kind}/${item.raw.metadata.name}: ${p.message}`;
      const live = await this.freshest(rt, p);
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
        return this.pruneStep(rt, app, op);
      case 'pruneLast':
        return this.deleteKeys(app, op.deferredPrune, 'Pruned');
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
      const p = await this.prepare(rt, app, item);
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
        ((app.options.applyOutOfSyncOnly || this.mayLeaveUnchanged(app, op, p)) &&
          (await this.inSync(rt, app, p)))
      ) {
        op.appliedIds.add(p.id);
        continue;
      }
      items.push({ p, item });
    }
    const done = await this.applyResolving(rt, app, items, failures);
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
      await this.startHook(rt, app, run);
    }
    if (failures.length === 0) return undefined;
    const first = failures[0];
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
    return `${first.ref}: ${first.message}${more}`;
  }

  /**
   * Applies, preparing first what could not be prepared before (kinds from a CRD applied in the
   * same step). Adds failures to `failures`; returns what was applied.
   */
  private async applyResolving(
    rt: AppRuntime,
    app: AppInput,
    items: { p: Prepared; item: PlanItem }[],
    failures: ApplyFailure[],
  ): Promise<Prepared[]> {
    const ready = items.filter((i) => i.p.id !== '');
    const pending = items.filter((i) => i.p.id === '');
    failures.push(...(await this.applyObjects(rt, app, ready)));
    const resolved: { p: Prepared; item: PlanItem }[] = [];
    const deadline = Date.now() + (this.opts.noKindWaitMs ?? 15_000);
    for (const { item } of pending) {
      for (let attempt = 0; ; attempt++) {
        const p = await this.prepare(rt, app, item);
        if (!(p instanceof Error)) {
          resolved.push({ p, item });
          break;
        }
        if (!(p instanceof NoKindError) || Date.now() > deadline) {
          failures.push({ ref: refOf(item), id: '', message: p.message });
          break;
        }
        this.client.invalidate(item.raw.apiVersion);
        await sleep(Math.min(1000, 100 * 2 ** attempt));
      }
    }
    failures.push(...(await this.applyObjects(rt, app, resolved)));
    return [...ready, ...resolved].map((i) => i.p).filter((p) => !rt.applyErrors.has(p.id));
  }

  /**
   * An object unchanged by a new generation need not be sent again, unless the sync was asked
   * for (a user's sync re-applies everything, as in Argo CD) or fields of it are ignored in
   * comparisons (an apply would still set them; inSync cannot see that).
   */
  private mayLeaveUnchanged(app: AppInput, op: Operation, p: Prepared): boolean {
    if (!app.options.skipUnchanged || op.forced) return false;
    const ignored = ignoreFor(app.policy.ignoreDifferences ?? [], p.key);
    return ignored.pointers.length === 0 && ignored.managers.length === 0;
  }

  /** ApplyOutOfSyncOnly: the last apply of this exact object still matches the live one. */
  private async inSync(rt: AppRuntime, app: AppInput, p: Prepared): Promise<boolean> {
    const snap = rt.snapshots.get(p.id);
    if (!snap || snap.hash !== p.hash || snap.dryRun) return false;
    const live = await this.freshest(rt, p);
    if (!live) return false;
    return this.diff(rt, app, p, snap, live).total === 0;
  }

  // ---- hooks -------------------------------------------------------------------------------

  private async startHook(rt: AppRuntime, app: AppInput, run: HookRun): Promise<void> {
    const p = await this.prepare(rt, app, run.item);
    if (p instanceof Error) {
      run.phase = 'Failed';
      run.message = p.message;
      return;
    }
    run.key = p.key;
    const policies = run.item.hook!.deletePolicies;
    try {
      const nsErr = await this.ensureNamespaces(app, [p]);
      if (nsErr.size) throw new Error([...nsErr.values()][0]);
      if (policies.includes('BeforeHookCreation')) await this.deleteAndWait(p.key);
      await this.applyOne(p.obj, false, app.options.validate);
    } catch (e) {
      run.phase = 'Failed';
      run.message = kubeError(e).message;
    }
  }

  private async startSyncFailHooks(rt: AppRuntime, app: AppInput, op: Operation): Promise<void> {
    for (const h of rt.plan.syncFail) {
      const run: HookRun = {
        type: 'SyncFail',
        step: -1,
        item: h.item,
        phase: 'Running',
        message: '',
      };
      op.hooks.push(run);
      await this.startHook(rt, app, run);
      this.cb.event(
        app.appId,
        run.phase === 'Failed' ? 'Warning' : 'Normal',
        run.phase === 'Failed' ? 'HookFailed' : 'HookStarted',
        `SyncFail hook ${run.key ? keyRef(run.key) : h.item.raw.metadata.name}${run.message ? `: ${run.message}` : ''}`,
        op.generation,
      );
    }
  }

  /** Updates the hooks of the current step; says what failed or what is still running. */
  private async checkHooks(
    rt: AppRuntime,
    app: AppInput,
    op: Operation,
  ): Promise<{ failed?: string; waiting?: string }> {
    let waiting: string | undefined;
    for (const run of op.hooks.filter((h) => h.step === op.stepIndex)) {
      if (run.phase === 'Running' && run.key) await this.pollHook(app, op, run);
      const ref = `${run.type} hook ${run.key ? keyRef(run.key) : run.item.raw.metadata.name}`;
      if (run.phase === 'Failed')
        return { failed: `${ref} failed${run.message ? `: ${run.message}` : ''}` };
      if (run.phase === 'Running') waiting ??= `waiting for ${ref}`;
    }
    return { waiting };
  }

  private async pollHook(app: AppInput, op: Operation, run: HookRun): Promise<void> {
    const key = run.key!;
    const live = await this.live(key);
    if (!live) {
      run.phase = 'Failed';
      run.message = 'the hook object disappeared';
    } else {
      const r = hookResult(live);
      run.phase = r.phase;
      run.message = r.message;
    }
    if (run.phase === 'Running') return;
    const ok = run.phase === 'Succeeded';
    this.cb.event(
      app.appId,
      ok ? 'Normal' : 'Warning',
      ok ? 'HookSucceeded' : 'HookFailed',
      `${run.type} hook ${keyRef(key)} ${ok ? 'succeeded' : 'failed'}${run.message ? `: ${run.message}` : ''}`,
      op.generation,
    );
    const policies = run.item.hook!.deletePolicies;
    if ((ok && policies.includes('HookSucceeded')) || (!ok && policies.includes('HookFailed'))) {
      try {
        await this.client.delete(apiVersionOf(key), key.kind, key.name, key.namespace || undefined);
      } catch (e) {
        run.message = `${run.message} (delete failed: ${kubeError(e).message})`.trim();
      }
    }
  }

  private async deleteAndWait(key: ResourceKey): Promise<void> {
    const apiVersion = apiVersionOf(key);
    const ns = key.namespace || undefined;
    if (!(await this.client.delete(apiVersion, key.kind, key.name, ns))) return;
    const deadline = Date.now() + 30_000;
    while (await this.client.getOrUndefined(apiVersion, key.kind, key.name, ns)) {
      if (Date.now() > deadline) throw new Error(`${keyRef(key)} is still being deleted`);
      await sleep(100);
    }
  }

  // ---- pruning -----------------------------------------------------------------------------

  /**
   * What the app has in the cluster that is no longer desired: its inventory plus any live
   * object carrying its label and tracking id (so a lost inventory still prunes correctly).
   * Objects whose kind could not be resolved this time are never treated as leftovers.
   */
  async leftovers(rt: AppRuntime, app: AppInput): Promise<ResourceKey[]> {
    const desired = new Set<string>();
    const unresolved = new Set<string>();
    for (const item of rt.plan.resources) {
      const p = await this.prepare(rt, app, item);
      if (p instanceof Error) unresolved.add(`${item.raw.kind}/${item.raw.metadata.name}`);
      else desired.add(p.id);
    }
    const out = new Map<string, ResourceKey>();
    const consider = (k: ResourceKey) => {
      const id = resourceId(k);
      if (!desired.has(id) && !unresolved.has(`${k.kind}/${k.name}`)) out.set(id, k);
    };
    app.inventory.forEach(consider);
    for (const obj of this.labelled(app.appId)) consider(resourceKey(obj));
    return [...out.values()];
  }

  /** Live objects in the watch caches that the agent applied for this app. */
  private labelled(appId: string, includeHooks = false): KubeObject[] {
    const out: KubeObject[] = [];
    for (const inf of this.watches.all()) {
      for (const obj of inf.objects.values()) {
        if (ownedByApp(obj, appId) && (includeHooks || !isHookObject(obj))) out.push(obj);
      }
    }
    return out;
  }

  private async pruneStep(
    rt: AppRuntime,
    app: AppInput,
    op: Operation,
  ): Promise<string | undefined> {
    if (!app.policy.prune) return undefined;
    const now: ResourceKey[] = [];
    for (const k of await this.leftovers(rt, app)) {
      const live = await this.live(k);
      if (!live) continue;
      const o = resourceSyncOptions(live);
      if (!o.prune) continue;
      if (o.pruneLast ?? app.options.pruneLast) op.deferredPrune.push(k);
      else now.push(k);
    }
    return this.deleteKeys(app, now, 'Pruned');
  }

  /** Deletes in reverse apply order (later waves first, namespaces and CRDs last). */
  async deleteKeys(
    app: AppInput,
    keys: ResourceKey[],
    reason: string,
    policy: PropagationPolicy = app.options.propagationPolicy,
  ): Promise<string | undefined> {
    if (keys.length === 0) return undefined;
    const waves = new Map<string, number>();
    for (const k of keys) waves.set(resourceId(k), syncWave(await this.live(k)));
    const rank = (k: ResourceKey) =>
      k.kind === 'Namespace' ? 2 : k.kind === 'CustomResourceDefinition' ? 1 : 0;
    const buckets = new Map<string, ResourceKey[]>();
    for (const k of keys) {
      const b = `${rank(k)}:${-(waves.get(resourceId(k)) ?? 0)}`;
      buckets.set(b, [...(buckets.get(b) ?? []), k]);
    }
    const order = [...buckets.keys()].sort((a, b) => {
      const [ra, wa] = a.split(':').map(Number);
      const [rb, wb] = b.split(':').map(Number);
      return ra - rb || wa - wb;
    });
    const errors: string[] = [];
    for (const b of order) {
      await mapLimit(buckets.get(b)!, this.opts.applyConcurrency, async (k) => {
        try {
          const ns = k.namespace || undefined;
          if (await this.client.delete(apiVersionOf(k), k.kind, k.name, ns, policy)) {
            this.cb.event(app.appId, 'Normal', reason, `${keyRef(k)} deleted`, app.generation);
          }
        } catch (e) {
          errors.push(`${keyRef(k)}: ${kubeError(e).message}`);
        }
      });
    }
    return errors.length ? `delete failed: ${errors.join('; ')}` : undefined;
  }

  /** Deletes what an app put in the cluster (the app was deleted), except Delete=false ones. */
  async removeApp(rt: AppRuntime, app: AppInput): Promise<string | undefined> {
    const keys = new Map<string, ResourceKey>();
    for (const k of app.inventory) keys.set(resourceId(k), k);
    for (const obj of this.labelled(app.appId))
      keys.set(resourceId(resourceKey(obj)), resourceKey(obj));
    const doomed: ResourceKey[] = [];
    for (const k of keys.values()) {
      const live = await this.live(k);
      if (live && resourceSyncOptions(live).delete) doomed.push(k);
    }
    rt.dispose();
    return this.deleteKeys(app, doomed, 'Deleted');
  }

  // ---- self-heal -----------------------------------------------------------------------------

  /** Re-applies the given resources (drifted or missing) in apply order. */
  async heal(rt: AppRuntime, app: AppInput, ids: Set<string>): Promise<ApplyFailure[]> {
    const items: { p: Prepared; item: PlanItem }[] = [];
    for (const item of rt.plan.resources) {
      const p = await this.prepare(rt, app, item);
      if (!(p instanceof Error) && ids.has(p.id) && !item.options.observeOnly) {
        items.push({ p, item });
      }
    }
    const failures = await this.applyObjects(rt, app, items);
    const applied = items.filter(({ p }) => !rt.applyErrors.has(p.id)).map(({ p }) => p.key);
    if (applied.length) {
      app.inventory = union(app.inventory, applied);
      await this.cb.saveInventory(app.appId, app.inventory);
    }
    return failures;
  }

  // ---- comparing -----------------------------------------------------------------------------

  diff(rt: AppRuntime, app: AppInput, p: Prepared, snap: Snapshot, live: KubeObject) {
    const rv = live.metadata.resourceVersion;
    const memoKey = `${p.id}|${snap.seq}|${typeof rv === 'string' ? rv : ''}`;
    const hit = rt.diffMemo.get(memoKey);
    if (hit) return hit;
    const ignore = ignoreFor(app.policy.ignoreDifferences ?? [], p.key);
    const r = diffOwnedFields(snap.expected, live, snap.owned, {
      ignorePointers: ignore.pointers,
      ignoreFields: ignoredManagerFields(live, ignore.managers),
      redact: p.key.group === '' && p.key.kind === 'Secret',
    });
    if (rt.diffMemo.size > 20_000) rt.diffMemo.clear();
    rt.diffMemo.set(memoKey, r);
    return r;
  }
}

function refOf(item: PlanItem): string {
  return `${item.raw.kind}/${item.raw.metadata.name}`;
}

/** A placeholder for an object whose kind is not served yet (resolved at apply time). */
function unresolved(item: PlanItem, app: AppInput): Prepared {
  return {
    obj: item.raw,
    key: {
      group: '',
      version: '',
      kind: item.raw.kind,
      namespace: app.namespace,
      name: item.raw.metadata.name,
    },
    id: '',
    hash: '',
  };
}

export function hookResult(live: KubeObject): { phase: HookRun['phase']; message: string } {
  if (live.kind === 'Pod') {
    const phase = (live as { status?: { phase?: string; message?: string } }).status;
    if (phase?.phase === 'Succeeded') return { phase: 'Succeeded', message: phase.message ?? '' };
    if (phase?.phase === 'Failed') return { phase: 'Failed', message: phase.message ?? '' };
    return { phase: 'Running', message: phase?.phase ?? '' };
  }
  const h = assessHealth(live);
  const statusOf: Partial<Record<HealthStatus, HookRun['phase']>> = {
    Healthy: 'Succeeded',
    Degraded: 'Failed',
  };
  return { phase: statusOf[h.status] ?? 'Running', message: h.message ?? '' };
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

function withoutStatus<T extends Record<string, unknown>>(fs: T): T {
  const { ['f:status']: _status, ...rest } = fs;
  return rest as T;
}

function rvNumber(o: KubeObject): number {
  const n = Number(o.metadata.resourceVersion);
  return Number.isFinite(n) ? n : 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
