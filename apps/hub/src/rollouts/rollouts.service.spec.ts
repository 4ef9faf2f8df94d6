import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DataSource } from 'typeorm';
import type { AppSyncService } from '../applications/app-sync.service.js';
import { ProjectGate } from '../projects/project-gate.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import type { TargetReadiness, TargetsRepository } from '../applications/targets.repository.js';
import type { AuditService } from '../audit/audit.service.js';
import type { ClustersRepository } from '../clusters/clusters.repository.js';
import type { DependenciesService } from '../dependencies/dependencies.service.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import { toSyncPolicy } from '../reconcile/sync-policy.js';
import type { RolloutState, RolloutsRepository } from './rollouts.repository.js';
import { RolloutsService } from './rollouts.service.js';

interface Cluster {
  id: string;
  name: string;
  labels: Record<string, string>;
}

/**
 * One application `api` with `rollout` across these clusters, every cluster at bundle `old`
 * and the render at `new`; the repositories are in memory, the clock is Vitest's.
 */
function world(clusters: Cluster[], rollout: unknown) {
  const spec = {
    project: 'default',
    source: { repoURL: 'https://git.example/api.git' },
    destination: { namespace: 'ns', clusters: clusters.map((c) => c.name) },
    syncPolicy: { automated: {} },
    rollout,
  } as unknown as ApplicationSpec;
  const targets: TargetReadiness[] = clusters.map((c) => ({
    appId: 'api',
    clusterId: c.id,
    cluster: c.name,
    labels: c.labels,
    bundleHash: 'old',
    revision: 'r0',
    namespace: 'ns',
    policy: toSyncPolicy(spec),
    applied: true,
    sync: 'Synced',
    health: 'Healthy',
    failed: false,
  }));
  let row: RolloutState | undefined;
  let clock = 1;
  const deployed: string[] = [];
  // A sync window denying syncs: deployments are refused while it is set.
  const window = { denied: false };
  const repo = {
    rollingAppSets: () => Promise.resolve([]),
    wavedApps: () => Promise.resolve([{ id: 'api', name: 'api', spec }]),
    forgetOrphans: () => Promise.resolve(),
    state: () => Promise.resolve(row ? structuredClone(row) : undefined),
    save: (_k: string, _id: string, s: RolloutState, expected?: Date | null) => {
      const stored = row ? row.updatedAt.getTime() : null;
      if (expected !== undefined && stored !== (expected?.getTime() ?? null)) {
        return Promise.resolve(undefined);
      }
      row = { ...structuredClone(s), updatedAt: new Date(++clock) };
      return Promise.resolve(row.updatedAt);
    },
    apps: () =>
      Promise.resolve([
        { id: 'api', name: 'api', labels: {}, spec, bundleHash: 'new', revision: 'r1' },
      ]),
  };
  const syncs = {
    entity: (name: string) => Promise.resolve({ name }),
    // The default project: cluster-scoped kinds unbounded.
    projectGate: () => Promise.resolve(new ProjectGate(new Map())),
    deployStored: (_app: unknown, ids: string[], o: { bundleHash: string }) => {
      if (window.denied)
        return Promise.reject(new Error('sync window "freeze" (* * * * *) denies syncs now'));
      deployed.push(`${ids.join(',')}@${o.bundleHash}`);
      for (const t of targets) {
        if (ids.includes(t.clusterId))
          Object.assign(t, { bundleHash: o.bundleHash, applied: false, health: 'Progressing' });
      }
      return Promise.resolve();
    },
    syncFor: () => Promise.reject(new Error('unexpected')),
  };
  const gauge = { set: () => undefined, inc: () => undefined };
  const lock = {
    connect: () => Promise.resolve(),
    startTransaction: () => Promise.resolve(),
    query: () => Promise.resolve([{ ok: true }]),
    isTransactionActive: false,
    release: () => Promise.resolve(),
  };
  const svc = new RolloutsService(
    { createQueryRunner: () => lock } as unknown as DataSource,
    repo as unknown as RolloutsRepository,
    syncs as unknown as AppSyncService,
    { destinations: () => Promise.resolve(clusters) } as unknown as ClustersRepository,
    { record: () => Promise.resolve() } as unknown as AuditService,
    {
      dependencyWaiting: gauge,
      rolloutStep: gauge,
      rolloutStatus: gauge,
      rolloutHalts: gauge,
    } as unknown as MetricsService,
    { blockersOf: () => Promise.resolve(new Map()) } as unknown as DependenciesService,
    {
      readiness: () => Promise.resolve(targets.map((t) => ({ ...t }))),
    } as unknown as TargetsRepository,
  );
  const target = (id: string) => targets.find((t) => t.clusterId === id)!;
  return {
    svc,
    deployed,
    window,
    target,
    /** The agents report every cluster at `new` applied and Healthy. */
    healthy: () => {
      for (const t of targets) {
        if (t.bundleHash === 'new') Object.assign(t, { applied: true, health: 'Healthy' });
      }
    },
    /** One rollout tick, `ms` after the last. */
    tick: async (ms = 1000) => {
      vi.advanceTimersByTime(ms);
      await svc.tick();
    },
    get state() {
      return row!;
    },
  };
}

const dev = { id: 'd1', name: 'dev-1', labels: { env: 'dev' } };
const prod1 = { id: 'p1', name: 'prod-1', labels: { env: 'prod' } };
const prod2 = { id: 'p2', name: 'prod-2', labels: { env: 'prod' } };
const wave = (env: string, more: object = {}) => ({
  clusterSelector: { matchLabels: { env } },
  ...more,
});

describe('application waves', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds a first wave with promote: manual until it is promoted', async () => {
    const w = world([prod1, prod2], { waves: [wave('prod', { promote: 'manual' })] });
    await w.tick();
    expect(w.deployed).toEqual([]);
    expect(w.state.message).toMatch(/wave 1 waits for promotion/);
    await w.svc.control('app', 'api', 'promote');
    await w.tick();
    expect(w.deployed).toEqual(['p1@new', 'p2@new']);
  });

  it('a wave that selects no cluster neither skips the soak before it nor its own promote gate', async () => {
    const w = world([dev, prod1], {
      waves: [
        wave('dev', { soakSeconds: 3600 }),
        wave('canary', { promote: 'manual' }), // no canary cluster (yet)
        wave('prod'),
      ],
    });
    await w.tick();
    expect(w.deployed).toEqual(['d1@new']);
    w.healthy();
    await w.tick();
    expect(w.deployed).toEqual(['d1@new']);
    expect(w.state.message).toMatch(/soaking after wave 1 until/);
    await w.tick(3_600_000);
    expect(w.deployed).toEqual(['d1@new']);
    expect(w.state.message).toMatch(/wave 2 waits for promotion/);
    await w.svc.control('app', 'api', 'promote');
    await w.tick();
    expect(w.deployed).toEqual(['d1@new', 'p1@new']);
  });

  describe('a wave under soak is watched', () => {
    const rollout = (onFailure: string) => ({
      waves: [wave('dev', { soakSeconds: 3600 }), wave('prod')],
      onFailure,
      progressDeadlineSeconds: 300,
    });

    it('a cluster Degraded during the soak fails the wave (onFailure: rollback)', async () => {
      const w = world([dev, prod1], rollout('rollback'));
      await w.tick();
      w.healthy();
      await w.tick();
      expect(w.state.message).toMatch(/soaking after wave 1/);
      await w.tick(600_000);
      w.target('d1').health = 'Degraded';
      await w.tick();
      expect(w.state.message).toMatch(/watching a failure: dev-1 \(Degraded\)/);
      for (let i = 0; i < 5; i++) await w.tick();
      expect(w.state.status).toBe('RolledBack');
      expect(w.state.message).toMatch(/^wave 1 failed: .*dev-1 \(Degraded\)/);
      expect(w.deployed).toEqual(['d1@new', 'd1@old']);
    });

    /** Wave 1 Degraded during its soak, and a sync window refusing its rollback. */
    const haltedWithRollbackRefused = async () => {
      const w = world([dev, prod1], rollout('rollback'));
      await w.tick();
      w.healthy();
      await w.tick();
      w.target('d1').health = 'Degraded';
      w.window.denied = true;
      for (let i = 0; i < 5; i++) await w.tick();
      expect(w.state.status).toBe('Halted');
      return w;
    };

    it('a rollback a sync window refuses stays Halted and is tried again until it goes through', async () => {
      const w = await haltedWithRollbackRefused();
      expect(w.state.message).toMatch(
        /^wave 1 failed: .*; returned to their previous bundle: none; not returned yet, tried again every few seconds: dev-1: sync window "freeze"/,
      );
      await w.tick();
      expect(w.state.status).toBe('Halted');
      expect(w.deployed).toEqual(['d1@new']);
      w.window.denied = false;
      await w.tick();
      expect(w.state.status).toBe('RolledBack');
      expect(w.state.message).toMatch(
        /^wave 1 failed: .*; returned to their previous bundle: dev-1$/,
      );
      expect(w.deployed).toEqual(['d1@new', 'd1@old']);
      // Done: nothing is returned twice.
      await w.tick();
      expect(w.deployed).toEqual(['d1@new', 'd1@old']);
    });

    it('a resume drops a rollback still refused', async () => {
      const w = await haltedWithRollbackRefused();
      await w.svc.control('app', 'api', 'resume');
      expect(w.state.gates.rollback).toBeUndefined();
      w.window.denied = false;
      w.target('d1').health = 'Healthy';
      await w.tick();
      expect(w.deployed).toEqual(['d1@new']);
    });

    it('a cluster Degraded during the soak halts the rollout (onFailure: pause)', async () => {
      const w = world([dev, prod1], rollout('pause'));
      await w.tick();
      w.healthy();
      await w.tick();
      w.target('d1').health = 'Degraded';
      for (let i = 0; i < 5; i++) await w.tick();
      expect(w.state.status).toBe('Halted');
      w.target('d1').health = 'Healthy';
      await w.tick(3_600_000);
      expect(w.deployed).toEqual(['d1@new']);
    });

    it('the soak starts over when the wave stops being Done', async () => {
      const w = world([dev, prod1], rollout('pause'));
      await w.tick();
      w.healthy();
      await w.tick();
      await w.tick(3_000_000);
      w.target('d1').health = 'Progressing';
      await w.tick();
      w.target('d1').health = 'Healthy';
      await w.tick(); // Done again: a full soak from now
      await w.tick(3_590_000);
      expect(w.deployed).toEqual(['d1@new']);
      expect(w.state.message).toMatch(/soaking after wave 1/);
      await w.tick(10_000);
      expect(w.deployed).toEqual(['d1@new', 'p1@new']);
      expect(w.state.status).toBe('Progressing');
    });
  });
});
