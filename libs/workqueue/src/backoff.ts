/**
 * Capped exponential backoff with full jitter: a random delay in [0, min(cap, base·2^attempt)].
 * Spreads reconnecting agents out so a restarted hub is not hit by all of them at once.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
