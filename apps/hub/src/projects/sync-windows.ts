import { Cron } from 'croner';
import { z } from 'zod';
import { globMatch } from '../../../../libs/glob/src/index.js';

/** Go duration (`1h`, `30m`, `1h30m`), as Argo CD's `time.ParseDuration` reads a window's. */
const GO_DURATION = /^(\d+(\.\d+)?(h|m|s|ms))+$/;

/**
 * One of Argo CD's AppProject `spec.syncWindows`, as Argo writes it. An application matches when
 * one of `applications`, `namespaces` or `clusters` has a glob matching its name, destination
 * namespace or destination cluster (Axle names clusters; a window may list names).
 */
export const syncWindowSchema = z
  .object({
    kind: z.enum(['allow', 'deny']),
    /** Five-field cron expression: when the window opens. */
    schedule: z
      .string()
      .max(256)
      .superRefine((s, ctx) => {
        const reason =
          s.trim().split(/\s+/).length !== 5
            ? 'must be a five-field cron expression (minute hour day-of-month month day-of-week)'
            : cronError(s) && `is not a valid cron expression: ${cronError(s)}`;
        if (reason) ctx.addIssue({ code: 'custom', message: reason });
      }),
    /** How long the window stays open (Go duration, e.g. 1h or 30m). */
    duration: z
      .string()
      .max(64)
      .superRefine((d, ctx) => {
        const reason = !GO_DURATION.test(d)
          ? 'must be a duration like 1h or 30m'
          : goDurationMs(d) <= 0 || goDurationMs(d) > MAX_DURATION_MS
            ? 'must be more than 0 and at most 8760h (a year)'
            : undefined;
        if (reason) ctx.addIssue({ code: 'custom', message: reason });
      }),
    applications: z.array(z.string().min(1).max(253)).max(200).optional(),
    namespaces: z.array(z.string().min(1).max(253)).max(200).optional(),
    clusters: z.array(z.string().min(1).max(253)).max(200).optional(),
    /** Whether a manual sync may run when this window would block it. */
    manualSync: z.boolean().optional(),
    /** IANA time zone the schedule is read in (default UTC). */
    timeZone: z
      .string()
      .max(64)
      .refine((tz) => validTimeZone(tz), { message: 'is not a known IANA time zone' })
      .optional(),
    description: z.string().max(1024).optional(),
  })
  .strict();

export type SyncWindow = z.output<typeof syncWindowSchema>;

/** What a window is asked about: one application on one cluster. */
export interface WindowSubject {
  app: string;
  namespace: string;
  cluster: string;
}

/** Why a sync may not run now, and when it may (null: not within a year). */
export interface WindowBlock {
  until: Date | null;
  /** The windows that decide it, as `deny 0 22 * * * 1h` (for status messages). */
  windows: string[];
}

/** Window edges looked at to find when a blocked sync may run (then: "no window opens soon"). */
const MAX_STEPS = 100;
const HORIZON_MS = 366 * 24 * 3600_000;
const MAX_DURATION_MS = 8760 * 3600_000;

/**
 * Argo CD's sync window rules over a project's windows, compiled once: which windows match an
 * application on a cluster, whether one is active at a time, and whether a sync may run.
 */
export class SyncWindows {
  private readonly compiled: { w: SyncWindow; cron: Cron; ms: number }[];
  /** Answers of `block` at one instant, by (matching windows, manual): a batch asks many times. */
  private memo: { at: number; answers: Map<string, WindowBlock | undefined> } = {
    at: 0,
    answers: new Map(),
  };

  constructor(windows: readonly SyncWindow[]) {
    this.compiled = windows.map((w) => ({
      w,
      cron: new Cron(w.schedule, { timezone: w.timeZone ?? 'UTC', paused: true }),
      ms: goDurationMs(w.duration),
    }));
  }

  get empty(): boolean {
    return this.compiled.length === 0;
  }

  /**
   * Whether a sync of `s` may run at `now` (Argo CD's `CanSync`): an active deny window blocks
   * (a manual sync passes when every active deny allows manualSync); else an active allow window
   * lets it through; else allow windows that exist but are closed block (a manual sync passes
   * when one of them allows manualSync); with no matching window it may run.
   */
  canSync(s: WindowSubject, now: Date, manual: boolean): boolean {
    const matching = this.compiled.filter((c) => matches(c.w, s));
    if (matching.length === 0) return true;
    const active = matching.filter((c) => this.isActive(c, now));
    const denies = active.filter((c) => c.w.kind === 'deny');
    if (denies.length) return manual && denies.every((c) => c.w.manualSync === true);
    if (active.some((c) => c.w.kind === 'allow')) return true;
    const closedAllows = matching.filter((c) => c.w.kind === 'allow');
    if (closedAllows.length) return manual && closedAllows.some((c) => c.w.manualSync === true);
    return true;
  }

  /** Undefined when a sync may run now; else the windows that block it and when it may run. */
  block(s: WindowSubject, now: Date, manual: boolean): WindowBlock | undefined {
    if (this.empty) return undefined;
    const matching = this.compiled.filter((c) => matches(c.w, s));
    if (matching.length === 0) return undefined;
    if (this.memo.at !== now.getTime()) this.memo = { at: now.getTime(), answers: new Map() };
    const key = `${manual}:${matching.map((c) => this.compiled.indexOf(c)).join(',')}`;
    if (this.memo.answers.has(key)) return this.memo.answers.get(key);
    const answer = this.blockOf(matching, s, now, manual);
    this.memo.answers.set(key, answer);
    return answer;
  }

  private blockOf(
    matching: { w: SyncWindow; cron: Cron; ms: number }[],
    s: WindowSubject,
    now: Date,
    manual: boolean,
  ): WindowBlock | undefined {
    if (this.canSync(s, now, manual)) return undefined;
    const windows = matching.map((c) => `${c.w.kind} ${c.w.schedule} ${c.w.duration}`);
    // Step from one window edge (an opening or a closing) to the next until a sync may run.
    let t = now;
    for (let i = 0; i < MAX_STEPS && t.getTime() - now.getTime() < HORIZON_MS; i++) {
      const next = this.nextEdge(matching, t);
      if (!next) break;
      t = next;
      if (this.canSync(s, t, manual)) return { until: t, windows };
    }
    return { until: null, windows };
  }

  private isActive(c: { cron: Cron; ms: number }, at: Date): boolean {
    // Active when the schedule fired within the last `duration` (Argo: Next(now - d) < now).
    const start = c.cron.nextRun(new Date(at.getTime() - c.ms));
    return start !== null && start.getTime() <= at.getTime();
  }

  /** The earliest time after `t` at which a window opens or closes. */
  private nextEdge(windows: { cron: Cron; ms: number }[], t: Date): Date | undefined {
    let best: number | undefined;
    for (const c of windows) {
      const open = c.cron.nextRun(t);
      if (open) best = Math.min(best ?? Infinity, open.getTime());
      // A window open now closes at its last opening + duration.
      const since = c.cron.nextRun(new Date(t.getTime() - c.ms));
      if (since && since.getTime() <= t.getTime()) {
        const close = since.getTime() + c.ms;
        if (close > t.getTime()) best = Math.min(best ?? Infinity, close);
      }
    }
    return best === undefined ? undefined : new Date(best);
  }
}

function matches(w: SyncWindow, s: WindowSubject): boolean {
  return (
    (w.applications ?? []).some((p) => globMatch(p, s.app)) ||
    (w.namespaces ?? []).some((p) => globMatch(p, s.namespace)) ||
    (w.clusters ?? []).some((p) => globMatch(p, s.cluster))
  );
}

/** Milliseconds of a Go duration string (h, m, s, ms units). */
export function goDurationMs(d: string): number {
  let ms = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    const n = Number(m[1]);
    ms += m[2] === 'h' ? n * 3600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
  }
  return ms;
}

function cronError(s: string): string | undefined {
  try {
    new Cron(s, { paused: true });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** `sync blocked by window (deny 0 22 * * * 1h) until 2026-12-05T23:00:00.000Z on east; …` */
export function blockedMessage(
  clusters: { id: string; name: string }[],
  blocked: Map<string, WindowBlock>,
): string {
  const parts = new Map<string, string[]>();
  for (const c of clusters) {
    const b = blocked.get(c.id);
    if (!b) continue;
    const why = `window (${b.windows.join('; ')}) until ${b.until?.toISOString() ?? 'no window opens within a year'}`;
    parts.set(why, [...(parts.get(why) ?? []), c.name]);
  }
  return [...parts].map(([why, cs]) => `sync blocked by ${why} on ${cs.join(', ')}`).join('; ');
}
