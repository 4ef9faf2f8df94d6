import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  parseApplicationSet,
  type RollingSyncStrategy,
} from '../../../../libs/appset/src/index.js';
import { AppSyncService } from '../applications/app-sync.service.js';
import { TargetsRepository } from '../applications/targets.repository.js';
import {
  destinationClusters,
  targetNamespace,
  type ApplicationSpec,
} from '../applications/application.schemas.js';
import { AuditService } from '../audit/audit.service.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { groupBy } from '../common/group-by.js';
import { Conflict, NotFound } from '../common/validation.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { standingPolicy, toSyncPolicy } from '../reconcile/sync-policy.js';
import { DependenciesService } from '../dependencies/dependencies.service.js';
import { planRollingSync, stepOf, type AppPhase, type RolloutApp } from './rolling-sync.js';
import {
  confirmedFailures,
  contentKey,
  current,
  fresh,
  haltedBundles,
  recordSync,
  snapshot,
  syncedAt,
} from './rollout-state.js';
import {
  RolloutsRepository,
  type RolloutKind,
  type RolloutState,
  type RolloutStatus,
  type RolloutTargetRow,
} from './rollouts.repository.js';

/** How often rollouts look at health and move on. */
const TICK_MS = 1000;
/** One replica moves rollouts at a time: the one holding this advisory lock. */
const LOCK_KEY = 0x6178726f; // "axro" (not "axle": that one is the migrations' lock)
/** Without rollouts, rollouts of deleted owners are swept this often (in ticks). */
const ORPHAN_SWEEP_TICKS = 60;

export type RolloutAction = 'pause' | 'resume' | 'abort' | 'promote';

export interface RolloutView {
  kind: RolloutKind;
  name: string;
  status: RolloutStatus | 'Pending';
  /** 1-based; the last step holds what no step selects. */
  step: number;
  message: string;
  onFailure: RollingSyncStrategy['onFailure'];
  startedAt: string | null;
  /** Applications (RollingSync) or clusters (waves) per step, with their phase. */
  steps: { step: number; maxUpdate: number | string; units: { name: string; phase: AppPhase }[] }[];
}

/** A rollout's owner and how it rolls. */
interface Subject {
  kind: RolloutKind;
  id: string;
  name: string;
  strategy: RollingSyncStrategy;
  /** Waves of an application: soak time and promote gate per step. */
  waves?: { soakSeconds: number; promote: 'auto' | 'manual' }[];
}

/** What a rollout moves: applications of an ApplicationSet, or clusters of one application. */
interface Unit extends RolloutApp {
  /** The application to sync, and (waves) the one cluster. */
  app: string;
  spec: ApplicationSpec;
  /** The application's registered destination clusters, by name. */
  clusterNames: string[];
  clusterId?: string;
  revision: string | null;
  current: RolloutTargetRow[];
}

/**
 * Progressive rollouts: ApplicationSets with a RollingSync strategy (their applications, step by
 * step) and applications with `rollout.waves` (their clusters, wave by wave). Each tick, the
 * replica holding the rollout lock plans every rollout from stored state (rolling-sync.ts), syncs
 * what may go next, halts on a failure (pausing, or returning what it updated to the bundle it ran
 * before), and records the state in `rollouts`.
 */
@Injectable()
export class RolloutsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Rollouts');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private idleTicks = 0;
  private readonly strategies = new Map<
    string,
    { version: number; strategy: RollingSyncStrategy | undefined }
  >();

  constructor(
    private readonly ds: DataSource,
    private readonly repo: RolloutsRepository,
    private readonly syncs: AppSyncService,
    private readonly clusters: ClustersRepository,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    private readonly dependencies: DependenciesService,
    private readonly targets: TargetsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick()
        .catch((e: unknown) => this.log.error(`rollout tick failed: ${(e as Error).message}`))
        .finally(() => (this.running = undefined));
    }, TICK_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * One look at every rollout, by one replica at a time: the tick holds a transaction-scoped
   * advisory lock on a connection of its own for its duration (released with the transaction,
   * whatever happens).
   */
  async tick(): Promise<void> {
    // Most hubs have no rollout most of the time: two small reads, no lock, nothing else.
    if ((await this.subjects()).length === 0) {
      if (++this.idleTicks % ORPHAN_SWEEP_TICKS === 0) await this.repo.forgetOrphans();
      return;
    }
    const lock = this.ds.createQueryRunner();
    try {
      await lock.connect();
      await lock.startTransaction();
      const rows = (await lock.query('SELECT pg_try_advisory_xact_lock($1) AS ok', [LOCK_KEY])) as {
        ok: boolean;
      }[];
      if (!rows[0].ok) return;
      await this.repo.forgetOrphans();
      for (const subject of await this.subjects()) {
        try {
          await this.advance(subject);
        } catch (e) {
          this.log.error(`${subject.kind} ${subject.name}: ${(e as Error).message}`);
        }
      }
    } finally {
      if (lock.isTransactionActive) await lock.rollbackTransaction().catch(() => undefined);
      await lock.release().catch(() => undefined);
    }
  }

  async view(kind: RolloutKind, name: string): Promise<RolloutView> {
    const subject = await this.subject(kind, name);
    const state = await this.repo.state(kind, subject.id);
    const units = await this.units(subject);
    const decision = planRollingSync(
      units,
      subject.strategy,
      syncedAt(state, units),
      Date.now(),
      undefined,
      undefined,
      watchedBy(subject, state, units),
    );
    const { steps } = subject.strategy;
    const view = [...steps, { maxUpdate: '100%' as const }].map((s, i) => ({
      step: i + 1,
      maxUpdate: s.maxUpdate,
      units: units
        .filter((u) => stepOf(u.labels, steps) === i)
        .map((u) => ({ name: u.name, phase: decision.phases.get(u.id)! })),
    }));
    return {
      kind,
      name,
      status: state?.status ?? 'Pending',
      step: (state?.step ?? 0) + 1,
      message: state?.message ?? '',
      onFailure: subject.strategy.onFailure,
      startedAt: state?.startedAt.toISOString() ?? null,
      steps: view.filter((s) => s.step <= steps.length || s.units.length > 0),
    };
  }

  /**
   * pause: nothing more is synced; resume: go on (also after a halt or abort); abort: stop this
   * rollout until a new commit; promote: let a wave waiting for promotion start.
   */
  async control(kind: RolloutKind, name: string, action: RolloutAction): Promise<RolloutView> {
    const subject = await this.subject(kind, name);
    for (let attempt = 0; ; attempt++) {
      const stored = await this.repo.state(kind, subject.id);
      const state = stored ?? fresh();
      const before = state.status;
      await this.apply(subject, state, action);
      // Compare-and-set: a tick that wrote meanwhile is read again, not overwritten.
      if (await this.repo.save(kind, subject.id, state, stored?.updatedAt ?? null)) {
        await this.audit.record(
          `rollout.${action}`,
          auditKind(kind),
          name,
          { status: before },
          { status: state.status, step: state.step + 1 },
        );
        this.gauge(subject, state);
        return this.view(kind, name);
      }
      if (attempt >= 5) throw new Conflict(`rollout of "${name}" is busy: try again`);
    }
  }

  private async apply(subject: Subject, state: RolloutState, action: RolloutAction): Promise<void> {
    const { name } = subject;
    switch (action) {
      case 'pause':
        if (state.status !== 'Progressing' && state.status !== 'Completed')
          throw new Conflict(`rollout of "${name}" is ${state.status}: nothing to pause`);
        state.status = 'Paused';
        state.message = 'paused on request';
        break;
      case 'resume':
        if (state.status === 'Progressing' || state.status === 'Completed')
          throw new Conflict(`rollout of "${name}" is ${state.status}: nothing to resume`);
        state.status = 'Progressing';
        state.haltedBundles = null;
        delete state.gates.rollback;
        state.message = 'resumed on request';
        // Progress deadlines count from now: what missed one gets its time again.
        for (const u of Object.values(state.updated)) u.at = Date.now();
        break;
      case 'abort': {
        const units = await this.units(subject);
        state.status = 'Aborted';
        state.haltedBundles = haltedBundles(state, units);
        delete state.gates.rollback;
        state.message = 'aborted on request: nothing more is synced until a new commit';
        break;
      }
      case 'promote':
        if (!/waits for promotion/.test(state.message))
          throw new Conflict(`rollout of "${name}" has no wave waiting for promotion`);
        state.gates.promoted = [...(state.gates.promoted ?? []), state.step];
        state.message = `wave ${state.step + 1} promoted`;
        break;
    }
  }

  private async advance(subject: Subject): Promise<void> {
    const { kind, id, name, strategy } = subject;
    const stored = await this.repo.state(kind, id);
    const expected = stored?.updatedAt ?? null;
    const was = stored ? snapshot(stored) : undefined;
    if (stored?.status === 'Paused') return;
    const units = await this.units(subject);
    const goOn = current(stored ?? fresh(), units);
    if (!goOn) return this.retryRollback(subject, stored, units);
    let state: RolloutState = goOn;
    const now = Date.now();
    const held = await this.held(subject, units);
    const filled = new Set(units.map((u) => stepOf(u.labels, strategy.steps)));
    const decision = planRollingSync(
      units,
      strategy,
      syncedAt(state, units),
      now,
      (step, started) => (started ? undefined : waveGate(subject, state, step, filled, now)),
      (unitId) => held.get(unitId),
      watchedBy(subject, state, units),
    );
    forgetUndone(subject, state, units, decision.phases);
    if (kind === 'app') {
      for (const u of units)
        this.metrics.dependencyWaiting.set({ app: name, cluster: u.name }, held.has(u.id) ? 1 : 0);
    }
    const reached = (state.gates.reached ??= {});
    for (const u of units) if (decision.phases.get(u.id) === 'Done' && u.key) reached[u.id] = u.key;
    const failed = confirmedFailures(state, decision.failed, now);
    let synced: string[] = [];
    // A failure can be in a wave before the one rolling (a wave under soak).
    if (decision.failed.length) state.step = decision.step;
    if (failed.length) {
      await this.halt(subject, state, units, failed, expected);
      return;
    } else if (decision.failed.length) {
      const byId = new Map(units.map((u) => [u.id, u]));
      state.message = `watching a failure: ${decision.failed
        .map((f) => `${byId.get(f)?.name ?? f} (${failureOf(byId.get(f))})`)
        .join(', ')}`;
    } else if (decision.complete) {
      if (state.status !== 'Completed' && Object.keys(state.updated).length > 0) {
        await this.audit.record('rollout.complete', auditKind(kind), name, undefined, {
          updated: Object.keys(state.updated).length,
        });
      }
      state = { ...fresh(), status: 'Completed', step: decision.step, startedAt: state.startedAt };
    } else {
      if (state.status === 'Completed') state = fresh();
      state.step = decision.step;
      state.message = decision.waiting ?? '';
      synced = await this.syncUnits(subject, state, units, decision.sync, now);
    }
    this.gauge(subject, state);
    // Nothing changed (a settled rollout, a step still waiting): nothing to write.
    if (was === snapshot(state)) return;
    await this.saveTick(kind, id, state, expected, synced);
  }

  /**
   * Saves what a tick decided, not over a pause or abort written meanwhile: that one wins, and
   * only what this tick synced is added to it (the rest is as the other writer left it).
   */
  private async saveTick(
    kind: RolloutKind,
    id: string,
    state: RolloutState,
    expected: Date | null,
    synced: string[],
  ): Promise<void> {
    if (await this.repo.save(kind, id, state, expected)) return;
    const now = await this.repo.state(kind, id);
    if (!now || synced.length === 0) return;
    for (const unitId of synced) recordSync(now, unitId, state.updated[unitId]);
    await this.repo.save(kind, id, now, now.updatedAt);
  }

  /** Syncs these units to their planned bundle, recording what each ran before. */
  private async syncUnits(
    subject: Subject,
    state: RolloutState,
    units: Unit[],
    ids: string[],
    now: number,
  ): Promise<string[]> {
    const { kind, name, strategy } = subject;
    const byId = new Map(units.map((u) => [u.id, u]));
    const synced: string[] = [];
    for (const unitId of ids) {
      const u = byId.get(unitId)!;
      const from = Object.fromEntries(
        u.current.map((t) => [t.clusterId, { bundleHash: t.bundleHash, revision: t.revision }]),
      );
      const reason = `rollout of ${name}, ${kind === 'app' ? 'wave' : 'step'} ${state.step + 1}`;
      try {
        const app = await this.syncs.entity(u.app);
        if (u.clusterId) {
          await this.syncs.deployStored(app, [u.clusterId], {
            revision: u.revision!,
            bundleHash: u.bundleHash!,
            prune: strategy.defaultPrune,
            reason,
          });
        } else {
          await this.syncs.syncFor(app, {
            prune: strategy.defaultPrune,
            reason,
            // What was planned, even if a newer render landed meanwhile.
            bundle: { revision: u.revision!, bundleHash: u.bundleHash! },
          });
        }
        recordSync(state, unitId, { at: now, bundleHash: u.bundleHash!, from });
        synced.push(unitId);
      } catch (e) {
        // Refused for now (a sync window, a project): tried again next tick.
        state.message = `${u.name}: ${(e as Error).message}`;
      }
    }
    return synced;
  }

  /**
   * A failed step: pause, or (onFailure: rollback) return what this rollout updated. The halt is
   * stored first, so a rollback that fails part way is not tried again every tick; a unit refused
   * for now (a sync window) is, until every unit is back (see {@link rollBack}).
   */
  private async halt(
    subject: Subject,
    state: RolloutState,
    units: Unit[],
    failed: string[],
    expected: Date | null,
  ): Promise<void> {
    const { kind, id, name, strategy } = subject;
    const byId = new Map(units.map((u) => [u.id, u]));
    const names = failed.map((f) => `${byId.get(f)?.name ?? f} (${failureOf(byId.get(f))})`);
    const what = kind === 'app' ? 'wave' : 'step';
    state.status = 'Halted';
    state.message = `${what} ${state.step + 1} failed: not Healthy at the new bundle: ${names.join(', ')}`;
    state.haltedBundles = haltedBundles(state, units);
    const halted = await this.repo.save(kind, id, state, expected);
    if (!halted) return; // paused or aborted meanwhile
    this.metrics.rolloutHalts.inc({ appset: name, on_failure: strategy.onFailure });
    let rolledBack = false;
    if (strategy.onFailure === 'rollback') {
      state.gates.rollback = {
        reason: state.message,
        pending: Object.keys(state.updated).filter((u) => byId.has(u)),
        returned: [],
        left: [],
      };
      await this.rollBack(subject, state, units, halted);
      rolledBack = state.gates.rollback.pending.length === 0;
    }
    this.gauge(subject, state);
    await this.audit.record(
      `rollout.${rolledBack ? 'rollback' : 'halt'}`,
      auditKind(kind),
      name,
      undefined,
      { failed: names, message: state.message },
    );
    this.log.warn(`${name}: ${state.message}`);
  }

  /**
   * Returns the units of `gates.rollback.pending` to the bundle they ran before this rollout
   * synced them. Those refused (a sync window, a project) stay pending and the rollout Halted, to
   * be tried again next tick; once none is left it is RolledBack. Saved over `expected` when
   * something changed (a refusal that holds for hours writes nothing each tick); false when
   * nothing changed or another writer (a pause, an abort) came first.
   */
  private async rollBack(
    subject: Subject,
    state: RolloutState,
    units: Unit[],
    expected: Date,
    retry = false,
  ): Promise<boolean> {
    const { kind, id, name, strategy } = subject;
    const rollback = state.gates.rollback!;
    const byId = new Map(units.map((u) => [u.id, u]));
    const pending: string[] = [];
    const errors: string[] = [];
    const returnedBefore = rollback.returned.length;
    for (const unitId of rollback.pending) {
      const unit = byId.get(unitId);
      const update = state.updated[unitId];
      if (!unit || !update) continue; // no longer part of the rollout (deleted)
      const back = Object.entries(update.from).filter(([, f]) => f !== null);
      if (back.length === 0) {
        // Nothing to return to (new), or returned on an earlier try.
        if (!rollback.returned.includes(unit.name)) rollback.left.push(unit.name);
        continue;
      }
      try {
        const app = await this.syncs.entity(unit.app);
        for (const group of groupBy(back, ([, f]) => f!.bundleHash).values()) {
          const f = group[0][1]!;
          await this.syncs.deployStored(
            app,
            group.map(([c]) => c),
            {
              revision: f.revision,
              bundleHash: f.bundleHash,
              prune: strategy.defaultPrune,
              reason: `rollout of ${name} rolled back (${rollback.reason.split(':')[0]})`,
            },
          );
          // Back: a retry (another cluster of it refused) does not deploy these again.
          for (const [cluster] of group) update.from[cluster] = null;
        }
        rollback.returned.push(unit.name);
      } catch (e) {
        if (e instanceof NotFound) continue; // the application is gone: nothing to return
        pending.push(unitId);
        errors.push(`${unit.name}: ${(e as Error).message}`);
      }
    }
    const unchanged =
      pending.length === rollback.pending.length && rollback.returned.length === returnedBefore;
    rollback.pending = pending;
    state.status = pending.length ? 'Halted' : 'RolledBack';
    state.message = `${rollback.reason}; returned to their previous bundle: ${rollback.returned.join(', ') || 'none'}${
      rollback.left.length ? `; nothing to return to (new): ${rollback.left.join(', ')}` : ''
    }${errors.length ? `; not returned yet, tried again every few seconds: ${errors.join('; ')}` : ''}`;
    if (unchanged && retry) return false;
    return (await this.repo.save(kind, id, state, expected)) !== undefined;
  }

  /** A halt whose rollback was refused in part: tries the rest again. */
  private async retryRollback(subject: Subject, stored: RolloutState | undefined, units: Unit[]) {
    if (stored?.status !== 'Halted' || !stored.gates.rollback?.pending.length) return;
    const state = structuredClone(stored);
    const before = state.message;
    if (!(await this.rollBack(subject, state, units, stored.updatedAt, true))) return;
    this.gauge(subject, state);
    if (state.status === 'RolledBack') {
      await this.audit.record(
        'rollout.rollback',
        auditKind(subject.kind),
        subject.name,
        undefined,
        {
          message: state.message,
        },
      );
      this.log.warn(`${subject.name}: ${state.message}`);
    } else if (state.message !== before) this.log.warn(`${subject.name}: ${state.message}`);
  }

  /** Units that wait for dependencies, with why (by unit id). */
  private async held(subject: Subject, units: Unit[]): Promise<Map<string, string>> {
    const byApp = groupBy(units, (u) => u.app);
    const waiting = await this.dependencies.blockersOf(
      [...byApp].map(([app, us]) => ({
        key: app,
        spec: us[0].spec,
        clusters: subject.kind === 'app' ? us.map((u) => u.name) : us[0].clusterNames,
      })),
    );
    const out = new Map<string, string>();
    for (const [app, us] of byApp) {
      const w = waiting.get(app);
      if (!w?.size) continue;
      for (const u of us) {
        const why =
          subject.kind === 'app' ? w.get(u.name) : [...w].map(([c, r]) => `${c}: ${r}`).join('; ');
        if (why) out.set(u.id, why);
      }
    }
    return out;
  }

  private async subjects(): Promise<Subject[]> {
    const sets = (await this.repo.rollingAppSets()).flatMap((set) => {
      const strategy = this.strategy(set);
      return strategy ? [{ kind: 'appset' as const, id: set.id, name: set.name, strategy }] : [];
    });
    const apps = (await this.repo.wavedApps()).map((a) => waveSubject(a));
    return [...sets, ...apps];
  }

  private async subject(kind: RolloutKind, name: string): Promise<Subject> {
    const found = (await this.subjects()).find((s) => s.kind === kind && s.name === name);
    if (found) return found;
    throw new NotFound(
      kind === 'appset'
        ? `applicationset "${name}" has no RollingSync strategy`
        : `application "${name}" has no rollout (spec.rollout with automated sync, not suspended)`,
    );
  }

  /** The units of a rollout with what their clusters run now. */
  private async units(subject: Subject): Promise<Unit[]> {
    const rows = await this.repo.apps(subject.kind, subject.id);
    const targets = await this.targets.readiness(rows.map((r) => r.id));
    const clusters = new Map(
      (
        await this.clusters.destinations([
          ...new Set(rows.flatMap((r) => destinationClusters(r.spec))),
        ])
      ).map((c) => [c.name, c]),
    );
    const byApp = groupBy(
      // A person's prune confirmation is not content: it must not make a unit look behind.
      targets.map((t) => ({
        ...t,
        key: contentKey(t.bundleHash, t.namespace, standingPolicy(t.policy)),
      })),
      (t) => t.appId,
    );
    // What a target must run for a unit to be at its render: the bundle, namespace and the
    // policy the rollout deploys with (its prune as the strategy says).
    const gate = await this.syncs.projectGate();
    const keyOf = (r: { spec: ApplicationSpec; bundleHash: string | null }) => {
      if (r.bundleHash === null) return null;
      const policy = toSyncPolicy(r.spec, gate.clusterKinds(r.spec.project));
      return contentKey(r.bundleHash, targetNamespace(r.spec), {
        ...policy,
        prune: policy.prune || subject.strategy.defaultPrune,
      });
    };
    if (subject.kind === 'appset') {
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        app: r.name,
        key: keyOf(r),
        spec: r.spec,
        clusterNames: destinationClusters(r.spec).filter((c) => clusters.has(c)),
        labels: r.labels,
        bundleHash: r.bundleHash,
        revision: r.revision,
        clusters: destinationClusters(r.spec).flatMap((c) => clusters.get(c)?.id ?? []),
        targets: byApp.get(r.id) ?? [],
        current: byApp.get(r.id) ?? [],
      }));
    }
    // Waves: one unit per registered destination cluster of the application.
    const [app] = rows;
    if (!app) return [];
    return destinationClusters(app.spec).flatMap((name) => {
      const c = clusters.get(name);
      if (!c) return [];
      const mine = (byApp.get(app.id) ?? []).filter((t) => t.clusterId === c.id);
      return [
        {
          id: c.id,
          name: c.name,
          app: app.name,
          key: keyOf(app),
          spec: app.spec,
          clusterNames: [c.name],
          clusterId: c.id,
          labels: c.labels,
          bundleHash: app.bundleHash,
          revision: app.revision,
          clusters: [c.id],
          targets: mine,
          current: mine,
        },
      ];
    });
  }

  private strategy(set: {
    id: string;
    spec_version: number;
    document: unknown;
  }): RollingSyncStrategy | undefined {
    const hit = this.strategies.get(set.id);
    if (hit?.version === set.spec_version) return hit.strategy;
    const strategy = parseApplicationSet(set.document).appset?.spec.rollingSync;
    this.strategies.set(set.id, { version: set.spec_version, strategy });
    return strategy;
  }

  private gauge(subject: Subject, s: RolloutState): void {
    const labels = { appset: subject.kind === 'app' ? `app:${subject.name}` : subject.name };
    this.metrics.rolloutStep.set(labels, s.step + 1);
    for (const status of STATUSES)
      this.metrics.rolloutStatus.set({ ...labels, status }, status === s.status ? 1 : 0);
  }
}

const STATUSES: RolloutStatus[] = [
  'Progressing',
  'Paused',
  'Halted',
  'RolledBack',
  'Aborted',
  'Completed',
];

/** Why a unit counts as failed, in a word or two. */
function failureOf(u: Unit | undefined): string {
  const at = u?.targets.filter((t) => t.bundleHash === u.bundleHash && t.applied) ?? [];
  if (at.some((t) => t.failed)) return 'sync failed';
  if (at.some((t) => t.health === 'Degraded')) return 'Degraded';
  return 'not Healthy in time';
}

function auditKind(kind: RolloutKind): string {
  return kind === 'app' ? 'Application' : 'ApplicationSet';
}

/** An application's waves as a rollout: clusters selected by label, one step per wave. */
function waveSubject(a: { id: string; name: string; spec: ApplicationSpec }): Subject {
  // Without waves (dependencies only): one wave of every cluster.
  const r = a.spec.rollout ?? { waves: [{ clusterSelector: { matchLabels: {} } }] };
  return {
    kind: 'app',
    id: a.id,
    name: a.name,
    strategy: {
      steps: r.waves.map((w) => ({
        matchExpressions: Object.entries(w.clusterSelector.matchLabels).map(([key, v]) => ({
          key,
          operator: 'In' as const,
          values: [v],
        })),
        maxUpdate: w.maxUnavailable ?? '100%',
      })),
      defaultPrune: a.spec.syncPolicy.automated?.prune ?? false,
      onFailure: r.onFailure ?? 'pause',
      progressDeadlineSeconds: r.progressDeadlineSeconds ?? 600,
    },
    waves: r.waves.map((w) => ({ soakSeconds: w.soakSeconds ?? 0, promote: w.promote ?? 'auto' })),
  };
}

/**
 * Why a wave may not start yet: the last wave before it with clusters (`filled`) is soaking,
 * or it waits for `promote` (the first wave too: only the soak needs a wave before). A wave
 * that selects no cluster has nothing to soak, but its promote gate holds the waves after it.
 * Records when the wave soaking was first seen done (the soak starts then).
 */
function waveGate(
  subject: Subject,
  state: RolloutState,
  step: number,
  filled: Set<number>,
  now: number,
): string | undefined {
  if (!subject.waves) return undefined;
  let prev = step - 1;
  while (prev >= 0 && !filled.has(prev)) prev--;
  const soaked = state.gates.soaked ?? [];
  if (prev >= 0 && !soaked.includes(prev)) {
    const doneAt = (state.gates.doneAt ??= {});
    doneAt[prev] ??= now;
    const soakUntil = doneAt[prev] + (subject.waves[prev]?.soakSeconds ?? 0) * 1000;
    if (now < soakUntil) {
      return `soaking after wave ${prev + 1} until ${new Date(soakUntil).toISOString()}`;
    }
  }
  if (subject.waves[step]?.promote === 'manual' && !(state.gates.promoted ?? []).includes(step)) {
    return `wave ${step + 1} waits for promotion (axle rollout promote ${subject.name})`;
  }
  // This wave starts: the one before it is no longer watched.
  if (filled.has(step) && prev >= 0 && !soaked.includes(prev))
    state.gates.soaked = [...soaked, prev];
  return undefined;
}

/** A wave not done (any more) soaks again from when it is done again. */
function forgetUndone(
  subject: Subject,
  state: RolloutState,
  units: Unit[],
  phases: Map<string, AppPhase>,
): void {
  const doneAt = state.gates.doneAt;
  if (!subject.waves || !doneAt) return;
  for (const k of Object.keys(doneAt)) {
    const wave = units.filter((u) => stepOf(u.labels, subject.strategy.steps) === Number(k));
    if (wave.some((u) => phases.get(u.id) !== 'Done')) delete doneAt[k];
  }
}

/**
 * The units a wave rollout watches though seen Done: those it synced to their current bundle,
 * in a wave whose soak is not over (no wave after it started yet).
 */
function watchedBy(subject: Subject, state: RolloutState | undefined, units: Unit[]) {
  const byId = new Map(units.map((u) => [u.id, u]));
  return (unitId: string): boolean => {
    const u = byId.get(unitId);
    if (!subject.waves || !u || state?.updated[unitId]?.bundleHash !== u.bundleHash) return false;
    return !(state.gates.soaked ?? []).includes(stepOf(u.labels, subject.strategy.steps));
  };
}
