/** Times the steps of a piece of work: `lap('step')` records the milliseconds since the last lap. */
export class Stopwatch {
  private last = performance.now();
  readonly laps: Record<string, number> = {};

  lap(step: string): void {
    const now = performance.now();
    this.laps[step] = (this.laps[step] ?? 0) + Math.round(now - this.last);
    this.last = now;
  }

  /** "step 12, other 3" */
  toString(): string {
    return Object.entries(this.laps)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  }
}
