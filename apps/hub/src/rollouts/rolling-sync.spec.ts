import { describe, expect, it } from 'vitest';
import type { RollingSyncStrategy } from '../../../../libs/appset/src/index.js';
import { maxUpdateCount, planRollingSync, stepOf, type RolloutApp } from './rolling-sync.js';

const strategy = (over: Partial<RollingSyncStrategy> = {}): RollingSyncStrategy => ({
  steps: [
    { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }], maxUpdate: '100%' },
    { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }], maxUpdate: '50%' },
  ],
  defaultPrune: false,
  onFailure: 'pause',
  progressDeadlineSeconds: 60,
  ...over,
});

/** An app at `old` on one cluster, to be rolled to `new`. */
function app(
  name: string,
  env: string | undefined,
  at: 'old' | 'new' | 'healthy' | 'degraded',
): RolloutApp {
  return {
    id: name,
    name,
    labels: env ? { env } : {},
    bundleHash: 'new',
    clusters: ['c'],
    targets: [
      {
        clusterId: 'c',
        bundleHash: at === 'old' ? 'old' : 'new',
        applied: at !== 'new',
        health: at === 'degraded' ? 'Degraded' : at === 'new' ? 'Progressing' : 'Healthy',
        failed: false,
      },
    ],
  };
}

const never = () => undefined;

describe('RollingSync planning', () => {
  it('selects steps with Kubernetes selector semantics; no step: last', () => {
    const steps = strategy().steps;
    expect(stepOf({ env: 'dev' }, steps)).toBe(0);
    expect(stepOf({ env: 'prod' }, steps)).toBe(1);
    expect(stepOf({ env: 'qa' }, steps)).toBe(2);
    const notProd = [
      {
        matchExpressions: [{ key: 'env', operator: 'NotIn' as const, values: ['prod'] }],
        maxUpdate: 1,
      },
    ];
    expect(stepOf({ env: 'dev' }, notProd)).toBe(0);
    // As Argo CD reads it: a missing label is not in any values (only In needs it present).
    expect(stepOf({}, notProd)).toBe(0);
    expect(stepOf({}, steps)).toBe(steps.length);
  });

  it('rounds maxUpdate as Argo CD does: down, at least 1 above 0%, 0 means none', () => {
    expect(maxUpdateCount('10%', 5)).toBe(1);
    expect(maxUpdateCount('50%', 5)).toBe(2);
    expect(maxUpdateCount('100%', 5)).toBe(5);
    expect(maxUpdateCount('0%', 5)).toBe(0);
    expect(maxUpdateCount(3, 2)).toBe(2);
    expect(maxUpdateCount(0, 2)).toBe(0);
  });

  it('rolls step by step: the next step waits until every app before it is Healthy at the new bundle', () => {
    const apps = [
      app('dev-a', 'dev', 'old'),
      app('dev-b', 'dev', 'old'),
      app('prod-a', 'prod', 'old'),
      app('prod-b', 'prod', 'old'),
      app('qa', 'qa', 'old'),
    ];
    let d = planRollingSync(apps, strategy(), never, 0);
    expect(d).toMatchObject({ step: 0, sync: ['dev-a', 'dev-b'], complete: false });
    // dev-a healthy, dev-b still progressing at the new bundle: prod waits.
    apps[0] = app('dev-a', 'dev', 'healthy');
    apps[1] = app('dev-b', 'dev', 'new');
    d = planRollingSync(apps, strategy(), () => 0, 1000);
    expect(d).toMatchObject({ step: 0, sync: [] });
    // A stale Healthy report of the old bundle does not count: dev-b is at the old one.
    apps[1] = {
      ...app('dev-b', 'dev', 'old'),
      targets: [{ ...app('dev-b', 'dev', 'old').targets[0], health: 'Healthy' }],
    };
    expect(planRollingSync(apps, strategy(), never, 0).sync).toEqual(['dev-b']);
    apps[1] = app('dev-b', 'dev', 'healthy');
    // prod: 50% of 2 = 1 at a time.
    d = planRollingSync(apps, strategy(), never, 0);
    expect(d).toMatchObject({ step: 1, sync: ['prod-a'] });
    apps[2] = app('prod-a', 'prod', 'new');
    expect(planRollingSync(apps, strategy(), () => 0, 10).sync).toEqual([]);
    apps[2] = app('prod-a', 'prod', 'healthy');
    expect(planRollingSync(apps, strategy(), never, 0).sync).toEqual(['prod-b']);
    apps[3] = app('prod-b', 'prod', 'healthy');
    // Apps no step selects: last.
    expect(planRollingSync(apps, strategy(), never, 0)).toMatchObject({ step: 2, sync: ['qa'] });
    apps[4] = app('qa', 'qa', 'healthy');
    expect(planRollingSync(apps, strategy(), never, 0).complete).toBe(true);
  });

  it('halts on a Degraded app, or one not Healthy by the deadline, and goes no further', () => {
    const apps = [app('dev-a', 'dev', 'degraded'), app('prod-a', 'prod', 'old')];
    expect(planRollingSync(apps, strategy(), () => 0, 1000)).toMatchObject({
      step: 0,
      failed: ['dev-a'],
      sync: [],
    });
    // Degraded but not synced by this rollout (by hand, or Done before and Degraded since): waited
    // for, not a failure of the rollout.
    expect(planRollingSync(apps, strategy(), never, 1000)).toMatchObject({
      step: 0,
      failed: [],
      sync: [],
    });
    apps[0] = app('dev-a', 'dev', 'new');
    expect(planRollingSync(apps, strategy(), () => 0, 59_000).failed).toEqual([]);
    expect(planRollingSync(apps, strategy(), () => 0, 61_000)).toMatchObject({
      failed: ['dev-a'],
      sync: [],
    });
  });

  it('halts on a failed sync though what ran before it is still Healthy, and goes no further', () => {
    const failedHealthy = app('dev-a', 'dev', 'healthy');
    failedHealthy.targets[0].failed = true; // e.g. an immutable field refused: old pods still up
    const apps = [failedHealthy, app('prod-a', 'prod', 'old')];
    expect(planRollingSync(apps, strategy(), () => 0, 1000)).toMatchObject({
      step: 0,
      failed: ['dev-a'],
      sync: [],
    });
    // Not synced by this rollout: waited for, never Done.
    expect(planRollingSync(apps, strategy(), never, 1000)).toMatchObject({
      complete: false,
      sync: [],
    });
  });

  it('rolls out a namespace or policy change alone (the key), not only a new bundle', () => {
    const a = { ...app('dev-a', 'dev', 'healthy'), key: 'new|ns2' };
    a.targets[0].key = 'new|ns1';
    expect(planRollingSync([a], strategy(), never, 0).sync).toEqual(['dev-a']);
    a.targets[0].key = 'new|ns2';
    expect(planRollingSync([a], strategy(), never, 0).complete).toBe(true);
  });

  it('waits for manual syncs at a step with maxUpdate 0', () => {
    const s = strategy();
    s.steps[0].maxUpdate = 0;
    const d = planRollingSync([app('dev-a', 'dev', 'old')], s, never, 0);
    expect(d.sync).toEqual([]);
    expect(d.waiting).toMatch(/maxUpdate 0/);
  });
});
