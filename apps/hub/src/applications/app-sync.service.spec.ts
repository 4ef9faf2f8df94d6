import { describe, expect, it } from 'vitest';
import type { ClusterRef } from '../clusters/clusters.repository.js';
import { Conflict } from '../common/validation.js';
import { ProjectGate } from '../projects/project-gate.js';
import { ProjectPolicy } from '../projects/project-policy.js';
import type { ApplicationEntity } from './application.entity.js';
import { AppSyncService } from './app-sync.service.js';
import type { DesiredTarget } from './targets.repository.js';

/** A freeze all day every day that lets manual syncs through (`manualSync: true`). */
const frozen = new ProjectPolicy('default', {
  sourceRepos: ['*'],
  destinations: [{ namespace: '*' }],
  syncWindows: [
    { kind: 'deny', schedule: '0 0 * * *', duration: '24h', clusters: ['*'], manualSync: true },
  ],
});
const east: ClusterRef = { id: 'c-east', name: 'east', labels: {} };
const app = {
  id: 'a-1',
  name: 'api',
  spec: {
    project: 'default',
    source: { repoURL: 'https://git.example/api.git', path: 'api', targetRevision: 'main' },
    destination: { cluster: 'east', namespace: 'api' },
    syncPolicy: { automated: { prune: true, selfHeal: false }, syncOptions: [] },
  },
} as unknown as ApplicationEntity;

/** Only what a sync reaches before the windows: projects, clusters, the bundle's resources. */
function service(apps: object = {}): AppSyncService {
  const none = {} as never;
  return new AppSyncService(
    none,
    none,
    apps as never,
    none,
    { destinations: () => Promise.resolve([east]) } as never,
    none,
    none,
    { resources: () => Promise.resolve([]) } as never,
    { gate: () => Promise.resolve(new ProjectGate(new Map([['default', frozen]]))) } as never,
    none,
    none,
    none,
    none,
    none,
  );
}

describe('AppSyncService and sync windows', () => {
  const bundle = { revision: 'abc', bundleHash: 'h1' };

  it("holds a rollout step (an automated sync) in a window whose manualSync lets people's syncs through", async () => {
    // The rollout loop deployed through the windows as if a person asked.
    const step = service().syncFor(app, { prune: true, reason: 'rollout wave 2', bundle });
    await expect(step).rejects.toThrow(Conflict);
    await expect(step).rejects.toThrow(/sync blocked by window \(deny 0 0 \* \* \* 24h\)/);
  });

  it("lets a rollout's rollback through, as a person's rollback", async () => {
    const rollback = service().deployStored(app, ['c-east'], {
      ...bundle,
      prune: true,
      reason: 'rollout rollback',
    });
    // Past the windows: it goes on to read the targets (not given here).
    await expect(rollback).rejects.not.toThrow(/sync blocked by window/);
  });
});

describe('AppSyncService and RollingSync', () => {
  const generated = {
    ...app,
    appSetId: 's-1',
    spec: { ...app.spec, syncPolicy: { syncOptions: [] } },
  };
  const apps = (rolling: string | undefined) => ({
    findByName: () => Promise.resolve(generated),
    rollingAppSetName: () => Promise.resolve(rolling),
  });

  it("refuses a rollback or a sync to another revision its ApplicationSet's rollout would undo", async () => {
    // Before, the rollout put the current render back one tick later.
    await expect(service(apps('fleet')).rollback('api', { id: 3 })).rejects.toThrow(
      /deployed by the RollingSync rollout of ApplicationSet "fleet", which would undo a rollback of it alone: .*axle rollout pause fleet/,
    );
    await expect(service(apps('fleet')).sync('api', { revision: 'v1' })).rejects.toThrow(
      /would undo a sync to v1/,
    );
  });

  it('lets it through when the rollout is paused (or the set does not roll out)', async () => {
    // Past the check: it goes on to read the history (not given here).
    const paused = service({ ...apps(undefined) }).rollback('api', { id: 3 });
    await expect(paused).rejects.not.toThrow(/RollingSync/);
  });
});

describe('AppSyncService and the agent prune guard', () => {
  const open = new ProjectPolicy('default', {
    sourceRepos: ['*'],
    destinations: [{ namespace: '*' }],
  });
  const current = { revision: 'abc', bundleHash: 'h1', specVersion: 1 };
  const manual = {
    ...app,
    specVersion: 1,
    spec: { ...app.spec, syncPolicy: { syncOptions: [] } }, // no automated sync, no prune
  } as unknown as ApplicationEntity;
  const automatedApp: ApplicationEntity = { ...app, specVersion: 1 }; // with prune

  /** A sync that goes all the way: `written` is the desired state it stores for each cluster. */
  function writing(entity: ApplicationEntity) {
    const written: DesiredTarget[] = [];
    const tx = {};
    const svc = new AppSyncService(
      { id: 'replica-a' } as never,
      { transaction: (fn: (t: object) => Promise<unknown>) => fn(tx) } as never,
      {
        findByName: () => Promise.resolve(entity),
        renders: () => Promise.resolve(new Map([[entity.id, current]])),
        lockForBatch: () => Promise.resolve(new Set([entity.id])),
        setAutoSyncSuspended: () => Promise.resolve(true),
        rollingAppSetName: () => Promise.resolve(undefined),
        parentsAmong: () => Promise.resolve(new Set()),
      } as never,
      {
        desiredOf: () => Promise.resolve([]),
        historyOf: () => Promise.resolve([{ id: 7, revision: 'old', bundleHash: 'h0' }]),
        upsertDesired: (_tx: unknown, rows: DesiredTarget[]) => {
          written.push(...rows);
          return Promise.resolve(rows.map((r) => ({ ...r, generation: 2 })));
        },
        clearRemovalNotes: () => Promise.resolve(),
        removeTargets: () => Promise.resolve([]),
        insertHistory: () => Promise.resolve([1]),
      } as never,
      { destinations: () => Promise.resolve([east]), byIds: () => Promise.resolve([]) } as never,
      {} as never,
      {} as never,
      { resources: () => Promise.resolve([]) } as never,
      { gate: () => Promise.resolve(new ProjectGate(new Map([['default', open]]))) } as never,
      { record: () => Promise.resolve() } as never,
      {} as never,
      { notify: () => Promise.resolve() } as never,
      { blockers: () => Promise.resolve(new Map()) } as never,
      {} as never,
    );
    return { svc, written };
  }

  it("confirms the prune of a person's sync with prune, on that generation", async () => {
    const { svc, written } = writing(manual);
    await svc.sync('api', { prune: true });
    expect(written).toHaveLength(1);
    expect(written[0].policy).toMatchObject({ prune: true, pruneConfirmed: true });
  });

  it('confirms nothing for a sync without prune, a rollback, or a sync on behalf of the hub', async () => {
    const plain = writing(manual);
    await plain.svc.sync('api', {});
    const automated = writing(automatedApp);
    // A rollback prunes as the application does (automated with prune), unconfirmed.
    await automated.svc.rollback('api', { id: 7 });
    await automated.svc.syncFor(automatedApp, { prune: true, reason: 'rollout wave 1' });
    await automated.svc.deployStored(automatedApp, ['c-east'], {
      ...current,
      prune: true,
      reason: 'rollout rollback',
    });
    for (const row of [...plain.written, ...automated.written]) {
      expect(row.policy.pruneConfirmed).toBeUndefined();
    }
    expect(automated.written.map((r) => r.policy.prune)).toEqual([true, true, true]);
  });
});
