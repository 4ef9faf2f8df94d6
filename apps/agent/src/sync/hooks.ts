import { assessHealth, type HealthStatus } from '../../../../libs/health/src/index.js';
import type { KubeObject, ResourceKey } from '../../../../libs/manifests/src/index.js';
import { apiVersionOf, kubeError, type KubeClient } from '../kube/kube-client.js';
import { sleep, type Applier } from './apply.js';
import { keyRef } from './resources.js';
import type { AppRuntime, HookRun, Operation } from './runtime.js';
import type { AppInput, EngineCallbacks } from './types.js';

/**
 * Argo CD's resource hooks: PreSync, Sync, PostSync hooks started with their step and followed
 * until they succeed or fail (Pods by phase, anything else by health), SyncFail hooks when an
 * operation fails, and the delete policies (BeforeHookCreation, HookSucceeded, HookFailed).
 */
export class Hooks {
  constructor(
    private readonly applier: Applier,
    private readonly client: KubeClient,
    private readonly cb: Pick<EngineCallbacks, 'event'>,
  ) {}

  async start(rt: AppRuntime, app: AppInput, run: HookRun): Promise<void> {
    const p = await this.applier.prepare(rt, app, run.item);
    if (p instanceof Error) {
      run.phase = 'Failed';
      run.message = p.message;
      return;
    }
    run.key = p.key;
    const policies = run.item.hook!.deletePolicies;
    try {
      const nsErr = await this.applier.ensureNamespaces(app, [p]);
      if (nsErr.size) throw new Error([...nsErr.values()][0]);
      if (policies.includes('BeforeHookCreation')) await this.deleteAndWait(p.key);
      const created = await this.applier.applyOne(p.obj, false, app.options.validate);
      run.uid = metaString(created, 'uid');
      run.resourceVersion = metaString(created, 'resourceVersion');
    } catch (e) {
      run.phase = 'Failed';
      run.message = kubeError(e).message;
    }
  }

  async startSyncFail(rt: AppRuntime, app: AppInput, op: Operation): Promise<void> {
    for (const h of rt.plan.syncFail) {
      const run: HookRun = {
        type: 'SyncFail',
        step: -1,
        item: h.item,
        phase: 'Running',
        message: '',
      };
      op.hooks.push(run);
      await this.start(rt, app, run);
      this.cb.event(
        app.appId,
        run.phase === 'Failed' ? 'Warning' : 'Normal',
        run.phase === 'Failed' ? 'HookFailed' : 'HookStarted',
        `SyncFail hook ${run.key ? keyRef(run.key) : h.item.raw.metadata.name}${run.message ? `: ${run.message}` : ''}`,
        op.generation,
      );
    }
  }

  /**
   * Updates the SyncFail hooks of the app's failed operations (see AppRuntime.syncFailOps); when
   * one finishes, its event is sent and its delete policy applied, as for the other hooks. The
   * reported last operation shares their runs, so it shows them finished too.
   */
  async followSyncFail(rt: AppRuntime, app: AppInput): Promise<void> {
    for (const op of rt.syncFailOps) {
      for (const run of runningSyncFail(op)) {
        try {
          await this.poll(app, op, run);
        } catch {
          // The API server away or refusing: still Running, looked at again on the next pass
          // (the pass itself, and the app's report, go on).
        }
      }
    }
    rt.syncFailOps = rt.syncFailOps.filter((op) => runningSyncFail(op).length > 0);
  }

  /** Updates the hooks of the current step; says what failed or what is still running. */
  async check(
    rt: AppRuntime,
    app: AppInput,
    op: Operation,
  ): Promise<{ failed?: string; waiting?: string }> {
    let waiting: string | undefined;
    for (const run of op.hooks.filter((h) => h.step === op.stepIndex)) {
      if (run.phase === 'Running' && run.key) await this.poll(app, op, run);
      const ref = `${run.type} hook ${run.key ? keyRef(run.key) : run.item.raw.metadata.name}`;
      if (run.phase === 'Failed')
        return { failed: `${ref} failed${run.message ? `: ${run.message}` : ''}` };
      if (run.phase === 'Running') waiting ??= `waiting for ${ref}`;
    }
    return { waiting };
  }

  private async poll(app: AppInput, op: Operation, run: HookRun): Promise<void> {
    const key = run.key!;
    const live = await this.current(run);
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
    // SyncFail hooks run once the operation is over: deleted by their own outcome. The others
    // wait for the operation's (see cleanUp).
    if (run.type === 'SyncFail') await this.deleteByPolicy(run, ok);
  }

  /**
   * The operation is over: its completed hooks with `HookSucceeded` go when it succeeded, those
   * with `HookFailed` when it failed, as gitops-engine deletes them. Not before: a chart's
   * ServiceAccount hook (`hook-succeeded`, a lower weight) must outlive the Job that uses it.
   */
  async cleanUp(op: Operation, succeeded: boolean): Promise<void> {
    for (const run of op.hooks) {
      if (run.type === 'SyncFail' || !run.key) continue;
      if (run.phase !== 'Succeeded' && run.phase !== 'Failed') continue;
      await this.deleteByPolicy(run, succeeded);
    }
  }

  private async deleteByPolicy(run: HookRun, succeeded: boolean): Promise<void> {
    const key = run.key!;
    const policies = run.item.hook!.deletePolicies;
    if (!policies.includes(succeeded ? 'HookSucceeded' : 'HookFailed')) return;
    try {
      await this.client.delete(apiVersionOf(key), key.kind, key.name, key.namespace || undefined);
    } catch (e) {
      run.message = `${run.message} (delete failed: ${kubeError(e).message})`.trim();
    }
  }

  /**
   * The run's object. The watch cache may still hold an earlier run of the hook (deleted by
   * BeforeHookCreation, its DELETED event not processed yet), complete or failed: a cached copy
   * with another uid, or older than the apply response, would pass or fail the new run before it
   * ran, so the API server is asked instead. An object there with another uid is not this run's
   * either: this run's object is gone.
   */
  private async current(run: HookRun): Promise<KubeObject | undefined> {
    const key = run.key!;
    const live = await this.applier.live(key);
    if (!live || !run.uid || isRunOf(live, run)) return live;
    const fresh = await this.client.getOrUndefined(
      apiVersionOf(key),
      key.kind,
      key.name,
      key.namespace || undefined,
    );
    return fresh && metaString(fresh, 'uid') === run.uid ? fresh : undefined;
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
}

/** The object is the run's, as recent as its apply response or more. */
function isRunOf(obj: KubeObject, run: HookRun): boolean {
  return (
    metaString(obj, 'uid') === run.uid &&
    rvNumber(metaString(obj, 'resourceVersion')) >= rvNumber(run.resourceVersion)
  );
}

function metaString(obj: KubeObject, field: 'uid' | 'resourceVersion'): string | undefined {
  const v = obj.metadata[field];
  return typeof v === 'string' ? v : undefined;
}

function rvNumber(rv: string | undefined): number {
  const n = Number(rv);
  return Number.isFinite(n) ? n : 0;
}

function runningSyncFail(op: Operation): HookRun[] {
  return op.hooks.filter((h) => h.type === 'SyncFail' && h.phase === 'Running' && h.key);
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
