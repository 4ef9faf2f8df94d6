/** Self-heal bookkeeping of one app. */
export interface HealState {
  /** Heals in the current run of fights (reset after a calm period). */
  attempts: number;
  lastHealAt: number;
  /** When the current drift was first seen (0: no drift pending). */
  driftSince: number;
}

export interface HealBackoff {
  /** Wait after drift is first seen before the first heal (lets the report go out first). */
  delayMs: number;
  /** Longest wait between heals; also the calm period after which the backoff starts over. */
  maxDelayMs: number;
}

/**
 * When the next heal may run: `delayMs` after the drift was first seen, and while someone keeps
 * changing things back, each further heal waits three times longer than the one before (capped
 * at `maxDelayMs`), so the agent never fights another controller in a tight loop. Mutates the
 * state's bookkeeping (drift start, reset after calm).
 */
export function healDueAt(s: HealState, now: number, b: HealBackoff): number {
  if (s.driftSince === 0) s.driftSince = now;
  // Calm is the time until the drift came back, not until now: a heal that runs a little after
  // it was due (timer lateness) must not look like one after a calm period and reset the backoff.
  if (s.lastHealAt && s.driftSince - s.lastHealAt > b.maxDelayMs) s.attempts = 0;
  const backoff = s.attempts === 0 ? 0 : Math.min(b.maxDelayMs, b.delayMs * 3 ** s.attempts);
  return Math.max(s.driftSince + b.delayMs, s.lastHealAt + backoff);
}

export function recordHeal(s: HealState, now: number): void {
  s.attempts++;
  s.lastHealAt = now;
  s.driftSince = 0;
}
