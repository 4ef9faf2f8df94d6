/**
 * The prune guard's rule. A bad render (wrong values, an emptied kustomize path) yields a bundle
 * with most of the app's objects gone, and an automated prune would delete everything the app
 * runs at once (Sveltos #1218). Such a prune is held instead: nothing is deleted until a person
 * confirms it (a sync with prune, whose generation carries `pruneConfirmed`).
 */
export interface PruneHoldLimits {
  /**
   * A prune of more than this share of the objects the app ran before the sync is held
   * (0 < share ≤ 1; 1 turns the rule off: no prune deletes more than all of them).
   */
  share: number;
  /** Prunes of fewer objects are never held by the share rule (small apps are not held). */
  min: number;
}

export const DEFAULT_PRUNE_HOLD: PruneHoldLimits = { share: 0.5, min: 5 };

/** What is held and why, as the app's status and its PruneHeld event say it. */
export interface PruneHeld {
  generation: number;
  /** Objects the prune would delete. */
  count: number;
  message: string;
}

/**
 * Why a prune of `count` objects is held, described ("80% of what it runs"); undefined when it
 * may go ahead. `owned`: the live objects the app ran before the sync; `desired`: the resources
 * of the new bundle (hooks aside: they are never desired resources). A bundle with none while
 * the app still runs something is always held, however small the app: an empty render is the
 * very failure the guard is for, and deleting an app is what Remove (not a sync) is for.
 */
export function pruneHoldReason(
  count: number,
  owned: number,
  desired: number,
  limits: PruneHoldLimits,
): string | undefined {
  if (count === 0) return undefined;
  if (desired === 0) return 'all it runs: the new bundle has no objects';
  if (count < limits.min) return undefined;
  // Never below `count`: objects found to prune were the app's before the sync too (so a share
  // of 1 holds nothing).
  const base = Math.max(owned, count);
  if (count <= limits.share * base) return undefined;
  return `${Math.round((count / base) * 100)}% of what it runs`;
}

/** The app's message while its prune is held: what, how much, and how to let it through. */
export function pruneHeldMessage(appName: string, count: number, reason: string): string {
  const objects = count === 1 ? '1 object' : `${count} objects`;
  return `prune of ${objects} (${reason}) held: confirm with "axle app sync ${appName} --prune"`;
}
