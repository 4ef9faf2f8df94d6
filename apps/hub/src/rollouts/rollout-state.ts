import { canonicalJson } from '../../../../libs/manifests/src/index.js';
import type { RolloutApp } from './rolling-sync.js';
import type { RolloutState, RolloutUpdate } from './rollouts.repository.js';

/** How long a unit must keep failing before the rollout halts. */
export const FAILURE_GRACE_MS = 3000;

/** What the state of a rollout reads of a unit: its id, its render and what it must match. */
export type UnitRender = Pick<RolloutApp, 'id' | 'bundleHash' | 'key'>;

export function fresh(): RolloutState {
  const now = new Date();
  return {
    status: 'Progressing',
    step: 0,
    message: '',
    updated: {},
    haltedBundles: null,
    gates: {},
    startedAt: now,
    updatedAt: now,
  };
}

/**
 * The state to go on with, given the units' renders now: a halted, rolled back or aborted
 * rollout stays (undefined) until a unit it knew gets a new render (a unit added since does not
 * count: it would get the bundle known to be bad); a new commit during a rollout starts it over,
 * since its gates (soak, promotions) are for the renders they were opened for.
 *
 * A unit not rendered at its current spec (null: an edit is being rendered) has no render to
 * compare yet: it neither releases a halt nor starts the rollout over. It reads as the render
 * last seen, and the edit counts once rendered, if its render differs.
 */
export function current(state: RolloutState, units: UnitRender[]): RolloutState | undefined {
  let s = state;
  if (s.haltedBundles) {
    const halted = s.haltedBundles;
    const renewed = units.some(
      (u) => u.bundleHash !== null && halted[u.id] != null && halted[u.id] !== u.bundleHash,
    );
    if (!renewed) return undefined;
    s = fresh();
  }
  const seen = s.gates.renders !== undefined ? rendersOf(s.gates.renders) : undefined;
  const renders = JSON.stringify(units.map((u) => [u.id, u.key ?? seen?.get(u.id) ?? null]));
  if (s.gates.renders !== undefined && s.gates.renders !== renders) {
    // Units seen Done at their render stay so when it did not change (their old progress
    // deadline no longer applies); what this rollout synced is kept for a rollback.
    s = { ...fresh(), updated: s.updated, gates: { reached: s.gates.reached } };
  }
  s.gates.renders = renders;
  return s;
}

function rendersOf(json: string): Map<string, string | null> {
  try {
    const pairs = JSON.parse(json) as unknown;
    return new Map<string, string | null>(
      Array.isArray(pairs) ? (pairs as [string, string | null][]) : [],
    );
  } catch {
    return new Map();
  }
}

/**
 * The rollout synced a unit: from now on its progress deadline counts again, even if it was
 * seen Done at this render before (a rollback returned it, and a resume syncs it again).
 */
export function recordSync(state: RolloutState, unitId: string, update: RolloutUpdate): void {
  state.updated[unitId] = update;
  if (state.gates.reached) delete state.gates.reached[unitId];
}

/** Bundle, namespace and policy as one comparable string (policy keys in canonical order). */
export function contentKey(bundleHash: string, namespace: string, policy: unknown): string {
  return `${bundleHash}|${namespace}|${canonicalJson(policy)}`;
}

/**
 * The units' renders at a halt or abort, by id: a unit being rendered again (null: a spec edit)
 * counts with the render last seen (from the keys the rollout recorded), so that only a new
 * render of it releases the rollout, not its coming back with the bundle that was halted.
 */
export function haltedBundles(
  state: RolloutState,
  units: UnitRender[],
): Record<string, string | null> {
  const seen = state.gates.renders !== undefined ? rendersOf(state.gates.renders) : undefined;
  return Object.fromEntries(
    units.map((u) => {
      const key = seen?.get(u.id);
      const bar = key?.indexOf('|') ?? -1;
      return [u.id, u.bundleHash ?? (key && bar >= 0 ? key.slice(0, bar) : (key ?? null))];
    }),
  );
}

/** When this rollout synced a unit to its current render (undefined: it did not). */
export function syncedAt(state: RolloutState | undefined, units: UnitRender[]) {
  const byId = new Map(units.map((u) => [u.id, u]));
  return (unitId: string) => {
    const u = state?.updated[unitId];
    const unit = byId.get(unitId);
    if (!u || !unit || u.bundleHash !== unit.bundleHash) return undefined;
    // Seen Done since: what happens to it now is not this rollout's doing.
    if (unit.key && state?.gates.reached?.[unitId] === unit.key) return undefined;
    return u.at;
  };
}

/**
 * The failing units whose failure has held for FAILURE_GRACE_MS (a report of one instant, say
 * while a Deployment's controller catches up, does not halt a rollout). Tracked in the gates.
 */
export function confirmedFailures(state: RolloutState, failing: string[], now: number): string[] {
  const since = (state.gates.failingSince ??= {});
  for (const id of Object.keys(since)) if (!failing.includes(id)) delete since[id];
  for (const id of failing) since[id] ??= now;
  return failing.filter((id) => now - since[id] >= FAILURE_GRACE_MS);
}

/** A rollout's state without its timestamps of writing, to tell whether a tick changed it. */
export function snapshot(s: RolloutState): string {
  return JSON.stringify([
    s.status,
    s.step,
    s.message,
    s.updated,
    s.haltedBundles,
    s.gates,
    s.startedAt.getTime(),
  ]);
}
