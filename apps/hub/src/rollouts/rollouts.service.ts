import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DataSource, type QueryRunner } from 'typeorm';
import {
  parseApplicationSet,
  type RollingSyncStrategy,
} from '../../../../libs/appset/src/index.js';
import { AppSyncService } from '../applications/app-sync.service.js';
import { destinationClusters } from '../applications/application.schemas.js';
import { AuditService } from '../audit/audit.service.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { groupBy } from '../common/group-by.js';
import { Conflict, NotFound } from '../common/validation.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { planRollingSync, stepOf, type AppPhase, type RolloutApp } from './rolling-sync.js';
import {
  RolloutsRepository,
  type RolloutAppRow,
  type RolloutState,
  type RolloutStatus,
  type RolloutTargetRow,
} from './rollouts.repository.js';

/** How often rollouts look at health and move on. */
const TICK_MS = 1000;
/** One replica moves rollouts at a time: the one holding this advisory lock. */
const LOCK_KEY = 0x61786c65; // "axle"

export interface RolloutView {
  applicationSet: string;
  status: RolloutStatus | 'Pending';
  /** 1-based; steps.length + 1 is the applications no step selects. */
  step: number;
  message: string;
  onFailure: RollingSyncStrategy['onFailure'];
  startedAt: string | null;
  steps: { step: number; maxUpdate: number | string; apps: { name: string; phase: AppPhase }[] }[];
}

interface Loaded {
  strategy: RollingSyncStrategy;
  rows: RolloutAppRow[];
  apps: RolloutApp[];
  targets: Map<string, RolloutTargetRow[]>;
}

/**
 * Progressive rollouts of ApplicationSets with a RollingSync strategy. Their applications are
 * generated without automated sync; each tick, the replica holding the rollout lock looks at
 * every such ApplicationSet and syncs the next applications (rolling-sync.ts decides which),
 * halts on a failure (pausing, or returning every application it updated to the bundle it ran
 * before), and records its state in `rollouts`.
 */
@Injectable()
export class RolloutsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Rollouts');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lock: QueryRunner | undefined;
  private readonly strategies = new Map<
    string,
    { version: number; strategy: RollingSyncStrategy }
  >();

  constructor(
    private readonly ds: DataSource,
    private readonly repo: RolloutsRepository,
    private readonly syncs: AppSyncService,
    private readonly clusters: ClustersRepository,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
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
    await this.lock?.release().catch(() => undefined);
  }

  /** One look at every rolling ApplicationSet (by the replica holding the lock). */
  async tick(): Promise<void> {
    if (!(await this.leader())) return;
    for (const set of await this.repo.rollingAppSets()) {
      const strategy = this.strategy(set);
      if (!strategy) continue;
      try {
        await this.advance(set.id, set.name, strategy);
      } catch (e) {
        this.log.error(`${set.name}: ${(e as Error).message}`);
      }
    }
  }

  async view(name: string): Promise<RolloutView> {
    const set = (await this.repo.rollingAppSets()).find((s) => s.name === name);
    if (!set) throw new NotFound(`applicationset "${name}" has no RollingSync strategy`);
    const strategy = this.strategy(set)!;
    const state = await this.repo.state(set.id);
    const loaded = await this.load(set.id, strategy);
    const decision = planRollingSync(loaded.apps, strategy, syncedAt(state, loaded), Date.now());
    const steps = [...strategy.steps, { maxUpdate: '100%' as const }].map((s, i) => ({
      step: i + 1,
      maxUpdate: s.maxUpdate,
      apps: loaded.apps
        .filter((a) => stepOf(a.labels, strategy.steps) === i)
        .map((a) => ({ name: a.name, phase: decision.phases.get(a.id)! })),
    }));
    return {
      applicationSet: name,
      status: state?.status ?? 'Pending',
      step: (state?.step ?? 0) + 1,
      message: state?.message ?? '',
      onFailure: strategy.onFailure,
      startedAt: state?.startedAt.toISOString() ?? null,
      steps: steps.filter((s) => s.step <= strategy.steps.length || s.apps.length > 0),
    };
  }

  /** pause: nothing more is synced; resume: go on (also after a halt); abort: stop this rollout. */
  async control(name: string, action: 'pause' | 'resume' | 'abort'): Promise<RolloutView> {
    const set = (await this.repo.rollingAppSets()).find((s) => s.name === name);
    if (!set) throw new NotFound(`applicationset "${name}" has no RollingSync strategy`);
    const strategy = this.strategy(set)!;
    const state = (await this.repo.state(set.id)) ?? fresh();
    const before = state.status;
    if (action === 'pause') {
      if (state.status !== 'Progressing' && state.status !== 'Completed')
        throw new Conflict(`rollout of "${name}" is ${state.status}: nothing to pause`);
      state.status = 'Paused';
      state.message = 'paused on request';
    } else if (action === 'resume') {
      if (state.status === 'Progressing' || state.status === 'Completed')
        throw new Conflict(`rollout of "${name}" is ${state.status}: nothing to resume`);
      state.status = 'Progressing';
      state.haltedBundles = null;
      state.message = 'resumed on request';
    } else {
      const loaded = await this.load(set.id, strategy);
      state.status = 'Aborted';
      state.haltedBundles = Object.fromEntries(loaded.rows.map((r) => [r.id, r.bundleHash]));
      state.message = 'aborted on request: nothing more is synced until a new commit';
    }
    await this.repo.save(set.id, state);
    await this.audit.record(
      `rollout.${action}`,
      'ApplicationSet',
      name,
      { status: before },
      {
        status: state.status,
      },
    );
    this.gauge(name, state);
    return this.view(name);
  }

  private async advance(id: string, name: string, strategy: RollingSyncStrategy): Promise<void> {
    let state = (await this.repo.state(id)) ?? fresh();
    const loaded = await this.load(id, strategy);
    if (state.status === 'Paused') return;
    if (state.haltedBundles) {
      // Halted, rolled back or aborted: a new render (a new commit) starts a new rollout.
      const moved = loaded.rows.some((r) => (state.haltedBundles![r.id] ?? null) !== r.bundleHash);
      if (!moved) return;
      state = fresh();
    }
    const now = Date.now();
    const decision = planRollingSync(loaded.apps, strategy, syncedAt(state, loaded), now);
    const byId = new Map(loaded.rows.map((r) => [r.id, r]));
    if (decision.failed.length) {
      await this.halt(name, state, loaded, decision.failed, strategy);
    } else if (decision.complete) {
      if (state.status !== 'Completed' && Object.keys(state.updated).length > 0) {
        await this.audit.record('rollout.complete', 'ApplicationSet', name, undefined, {
          updated: Object.keys(state.updated).length,
        });
      }
      state = { ...state, status: 'Completed', step: decision.step, updated: {}, message: '' };
    } else {
      if (state.status === 'Completed') state = fresh();
      state.step = decision.step;
      state.message = decision.waiting ?? '';
      for (const appId of decision.sync) {
        const row = byId.get(appId)!;
        const from = Object.fromEntries(
          (loaded.targets.get(appId) ?? []).map((t) => [
            t.clusterId,
            { bundleHash: t.bundleHash, revision: t.revision },
          ]),
        );
        try {
          const app = await this.syncs.entity(row.name);
          await this.syncs.syncFor(app, {
            prune: strategy.defaultPrune,
            reason: `rollout of ${name}, step ${decision.step + 1}`,
          });
          state.updated[appId] = { at: now, bundleHash: row.bundleHash!, from };
        } catch (e) {
          // Refused for now (a sync window, a project): tried again next tick.
          state.message = `${row.name}: ${(e as Error).message}`;
        }
      }
    }
    await this.repo.save(id, state);
    this.gauge(name, state);
  }

  /** A failed step: pause, or (onFailure: rollback) return what this rollout updated. */
  private async halt(
    name: string,
    state: RolloutState,
    loaded: Loaded,
    failed: string[],
    strategy: RollingSyncStrategy,
  ): Promise<void> {
    const names = loaded.rows.filter((r) => failed.includes(r.id)).map((r) => r.name);
    state.status = 'Halted';
    state.message = `step ${state.step + 1} failed: ${names.join(', ')} not Healthy at the new bundle`;
    state.haltedBundles = Object.fromEntries(loaded.rows.map((r) => [r.id, r.bundleHash]));
    this.metrics.rolloutHalts.inc({ appset: name, on_failure: strategy.onFailure });
    if (strategy.onFailure === 'rollback') {
      const returned: string[] = [];
      const left: string[] = [];
      for (const [appId, u] of Object.entries(state.updated)) {
        const row = loaded.rows.find((r) => r.id === appId);
        if (!row) continue;
        const app = await this.syncs.entity(row.name);
        const back = Object.entries(u.from).filter(([, f]) => f !== null);
        if (back.length === 0) left.push(row.name);
        for (const group of groupBy(back, ([, f]) => f!.bundleHash).values()) {
          const f = group[0][1]!;
          await this.syncs.deployStored(
            app,
            group.map(([c]) => c),
            {
              revision: f.revision,
              bundleHash: f.bundleHash,
              prune: strategy.defaultPrune,
              reason: `rollout of ${name} rolled back (step ${state.step + 1} failed)`,
            },
          );
        }
        if (back.length) returned.push(row.name);
      }
      state.status = 'RolledBack';
      state.message += `; returned to their previous bundle: ${returned.join(', ') || 'none'}${
        left.length ? `; nothing to return to (new): ${left.join(', ')}` : ''
      }`;
    }
    await this.audit.record(
      `rollout.${state.status === 'RolledBack' ? 'rollback' : 'halt'}`,
      'ApplicationSet',
      name,
      undefined,
      {
        failed: names,
        message: state.message,
      },
    );
    this.log.warn(`${name}: ${state.message}`);
  }

  private async load(appSetId: string, strategy: RollingSyncStrategy): Promise<Loaded> {
    const [rows, targets] = await Promise.all([
      this.repo.apps(appSetId),
      this.repo.targets(appSetId),
    ]);
    const registered = new Map(
      (
        await this.clusters.byNames([...new Set(rows.flatMap((r) => destinationClusters(r.spec)))])
      ).map((c) => [c.name, c.id]),
    );
    const byApp = groupBy(targets, (t) => t.appId);
    const apps: RolloutApp[] = rows.map((r) => ({
      id: r.id,
      name: r.name,
      labels: r.labels,
      bundleHash: r.bundleHash,
      clusters: destinationClusters(r.spec).flatMap((c) => registered.get(c) ?? []),
      targets: byApp.get(r.id) ?? [],
    }));
    return { strategy, rows, apps, targets: byApp };
  }

  private strategy(set: {
    id: string;
    spec_version: number;
    document: unknown;
  }): RollingSyncStrategy | undefined {
    const hit = this.strategies.get(set.id);
    if (hit?.version === set.spec_version) return hit.strategy;
    const strategy = parseApplicationSet(set.document).appset?.spec.rollingSync;
    if (strategy) this.strategies.set(set.id, { version: set.spec_version, strategy });
    return strategy;
  }

  private async leader(): Promise<boolean> {
    try {
      if (!this.lock) {
        this.lock = this.ds.createQueryRunner();
        await this.lock.connect();
      }
      const rows = (await this.lock.query('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_KEY])) as {
        ok: boolean;
      }[];
      return rows[0].ok;
    } catch (e) {
      // The connection broke (a database restart): drop it, try again next tick.
      await this.lock?.release().catch(() => undefined);
      this.lock = undefined;
      throw e;
    }
  }

  private gauge(name: string, s: RolloutState): void {
    this.metrics.rolloutStep.set({ appset: name }, s.step + 1);
    for (const status of STATUSES)
      this.metrics.rolloutStatus.set({ appset: name, status }, status === s.status ? 1 : 0);
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

function fresh(): RolloutState {
  const now = new Date();
  return {
    status: 'Progressing',
    step: 0,
    message: '',
    updated: {},
    haltedBundles: null,
    startedAt: now,
    updatedAt: now,
  };
}

/** When this rollout synced an application to its current render (undefined: it did not). */
function syncedAt(state: RolloutState | undefined, loaded: Loaded) {
  const bundles = new Map(loaded.rows.map((r) => [r.id, r.bundleHash]));
  return (appId: string) => {
    const u = state?.updated[appId];
    return u && u.bundleHash === bundles.get(appId) ? u.at : undefined;
  };
}
