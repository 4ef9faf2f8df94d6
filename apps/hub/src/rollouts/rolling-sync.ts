import type { RollingSyncStrategy } from '../../../../libs/appset/src/index.js';
import type { HealthState } from '../applications/app-target.entity.js';

/** One generated application as a rollout sees it. */
export interface RolloutApp {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** The bundle to roll out (its current render); null: not rendered, left out of the rollout. */
  bundleHash: string | null;
  /**
   * What a target must match to run this render (default the bundle): the bundle with the
   * namespace and sync policy, so that a change of those alone rolls out too.
   */
  key?: string | null;
  /** Registered destination clusters. */
  clusters: string[];
  /** What each of those clusters is asked to run, and what the agent reported. */
  targets: {
    clusterId: string;
    bundleHash: string;
    /** As RolloutApp.key, for what the cluster is asked to run. */
    key?: string;
    applied: boolean;
    health: HealthState;
    /** The agent's sync operation of the desired generation failed. */
    failed: boolean;
  }[];
}

/**
 * Where an application is in the rollout of its current render:
 * - Done: every cluster runs exactly this bundle, applied and Healthy (never stale status);
 * - Waiting: not synced to this bundle yet;
 * - Updating: synced, not Healthy yet;
 * - Failed: Degraded (or its sync failed) at this bundle, or not Healthy by the deadline.
 */
export type AppPhase = 'Done' | 'Waiting' | 'Updating' | 'Failed';

export interface RolloutDecision {
  /** The step being rolled (steps.length: the applications no step selects, synced last). */
  step: number;
  /** Applications to sync now. */
  sync: string[];
  /** Applications that failed at the current step (the rollout halts). */
  failed: string[];
  /** Every application runs its current render, Healthy. */
  complete: boolean;
  /** Why nothing moves (a step with maxUpdate 0 waits for manual syncs). */
  waiting?: string;
  phases: Map<string, AppPhase>;
}

/**
 * The first step whose matchExpressions all select these labels, as Argo CD reads them (its
 * buildAppDependencyList): In needs the label present with one of the values; NotIn needs it
 * absent or with none of them.
 */
export function stepOf(
  labels: Record<string, string>,
  steps: RollingSyncStrategy['steps'],
): number {
  const i = steps.findIndex((s) =>
    s.matchExpressions.every((e) => {
      if (!Object.prototype.hasOwnProperty.call(labels, e.key)) return e.operator === 'NotIn';
      const listed = e.values.includes(labels[e.key]);
      switch (e.operator) {
        case 'In':
          return listed;
        case 'NotIn':
          return !listed;
      }
    }),
  );
  return i < 0 ? steps.length : i;
}

/**
 * How many applications of a step of `n` may be syncing at once: a count, or a percentage
 * rounded down but at least 1 when above 0% (Argo CD's rounding); 0 syncs none.
 */
export function maxUpdateCount(maxUpdate: number | string, n: number): number {
  if (typeof maxUpdate === 'number') return Math.min(maxUpdate, n);
  const pct = Number(maxUpdate.replace('%', ''));
  if (pct <= 0) return 0;
  return Math.min(n, Math.max(1, Math.floor((n * pct) / 100)));
}

export function appPhase(
  app: RolloutApp,
  syncedAt: number | undefined,
  now: number,
  deadlineMs: number,
  /**
   * The rollout watches it though seen Done (a wave under soak): Degraded is a failure, not
   * Healthy is waited for (the progress deadline was met).
   */
  watched = false,
): AppPhase {
  if (app.clusters.length === 0) return 'Done';
  if (app.bundleHash === null) return 'Waiting'; // not rendered (yet, or a render error)
  const want = app.key ?? app.bundleHash;
  const at = app.targets.filter((t) => (t.key ?? t.bundleHash) === want);
  if (at.length === 0) return 'Waiting';
  // A failed sync is never Done, though what ran before it may still be Healthy.
  if (
    at.length === app.clusters.length &&
    at.every((t) => t.applied && !t.failed && t.health === 'Healthy')
  )
    return 'Done';
  // Only what this rollout synced (and has not seen Done since) can fail it: a unit that went
  // Degraded on its own, or synced by hand, is waited for, as Argo CD does.
  if (syncedAt !== undefined || watched) {
    if (at.some((t) => t.applied && (t.failed || t.health === 'Degraded'))) return 'Failed';
    if (syncedAt !== undefined && now - syncedAt > deadlineMs) return 'Failed';
    return 'Updating';
  }
  return at.length < app.clusters.length ? 'Waiting' : 'Updating';
}

/**
 * The next move of a RollingSync: steps in order; a step starts only when every application of
 * the steps before it is Done at its exact bundle; within a step at most maxUpdate applications
 * are syncing at once. Applications no step selects come last, all at once. A Failed application
 * in the current step halts the rollout (the caller pauses or rolls back).
 */
export function planRollingSync(
  apps: RolloutApp[],
  strategy: RollingSyncStrategy,
  syncedAt: (appId: string) => number | undefined,
  now: number,
  /**
   * Why step `step` may not start yet (a soak time, a promote gate); undefined: it may. Asked of
   * the first step not Done, and of a step that selects nothing before a step not Done.
   */
  gate?: (step: number, started: boolean) => string | undefined,
  /** Why a unit may not be synced yet (it waits for dependencies); undefined: it may. */
  held?: (unitId: string) => string | undefined,
  /** Units watched though seen Done (see appPhase). */
  watched?: (unitId: string) => boolean,
): RolloutDecision {
  const deadlineMs = strategy.progressDeadlineSeconds * 1000;
  const phases = new Map(
    apps.map((a) => [a.id, appPhase(a, syncedAt(a.id), now, deadlineMs, watched?.(a.id))]),
  );
  const groups: RolloutApp[][] = Array.from({ length: strategy.steps.length + 1 }, () => []);
  for (const a of [...apps].sort((x, y) => x.name.localeCompare(y.name)))
    groups[stepOf(a.labels, strategy.steps)].push(a);
  for (let step = 0; step < groups.length; step++) {
    const members = groups[step];
    if (members.length === 0) {
      // A step that selects nothing has nothing to roll, but its gate (a promote gate) still
      // holds the steps after it, while any of them has something to do.
      const later = groups.slice(step + 1).some((g) => g.some((a) => phases.get(a.id) !== 'Done'));
      const gated = later ? gate?.(step, false) : undefined;
      if (gated) return { step, sync: [], failed: [], complete: false, phases, waiting: gated };
      continue;
    }
    const failed = members.filter((a) => phases.get(a.id) === 'Failed').map((a) => a.id);
    if (failed.length) return { step, sync: [], failed, complete: false, phases };
    const open = members.filter((a) => phases.get(a.id) !== 'Done');
    if (open.length === 0) continue;
    const limit =
      step < strategy.steps.length
        ? maxUpdateCount(strategy.steps[step].maxUpdate, members.length)
        : members.length;
    if (limit === 0) {
      return {
        step,
        sync: [],
        failed: [],
        complete: false,
        phases,
        waiting: `step ${step + 1} has maxUpdate 0: waiting for its applications to be synced by hand`,
      };
    }
    const updating = open.filter((a) => phases.get(a.id) === 'Updating').length;
    const started = members.some((a) => syncedAt(a.id) !== undefined);
    const gated = gate?.(step, started);
    if (gated) return { step, sync: [], failed: [], complete: false, phases, waiting: gated };
    const waiting = open.filter((a) => phases.get(a.id) === 'Waiting');
    const holds = waiting.flatMap((a) => {
      const why = held?.(a.id);
      return why ? [`${a.name}: ${why}`] : [];
    });
    const sync = waiting
      .filter((a) => a.bundleHash !== null && !held?.(a.id))
      .slice(0, Math.max(0, limit - updating))
      .map((a) => a.id);
    const unrendered = waiting.filter((a) => a.bundleHash === null).map((a) => a.name);
    const why = [
      ...(unrendered.length
        ? [`not rendered (see their conditions): ${unrendered.join(', ')}`]
        : []),
      ...holds,
    ];
    return {
      step,
      sync,
      failed: [],
      complete: false,
      phases,
      ...(why.length ? { waiting: why.join('; ') } : {}),
    };
  }
  return { step: groups.length - 1, sync: [], failed: [], complete: true, phases };
}
