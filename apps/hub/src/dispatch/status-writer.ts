import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import {
  TargetsRepository,
  type AckRow,
  type EventRow,
  type StatusRow,
} from '../applications/targets.repository.js';
import { ClustersRepository, type SeenRow } from '../clusters/clusters.repository.js';
import { PartialWriteError, inKeyOrder, writeIsolating } from '../database/sql.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ReplicaService } from '../replicas/replica.service.js';

/** Longest a report waits in memory before it is written. */
export const FLUSH_DELAY_MS = 50;
/** Buffered reports that trigger a write at once. */
const FLUSH_AT = 5000;
/** Events kept while the database is unreachable; beyond, the oldest are dropped (and counted). */
const MAX_EVENTS = 100_000;
/** Wait after a failed write before the next attempt. */
const RETRY_MS = 1000;
/**
 * Statements run at once for one kind of report, each over its own part of the rows: PostgreSQL
 * runs a statement on one core, and at a burst of reports the hub mostly waits for it.
 */
const PARALLEL_PARTS = 2;
/** The smallest part: a kind of fewer than PARALLEL_PARTS × MIN_PART rows goes in one. */
const MIN_PART = 1000;

export const STATUS_WRITER_OPTIONS = Symbol('STATUS_WRITER_OPTIONS');
export interface StatusWriterOptions {
  flushDelayMs: number;
}

const key = (appId: string, clusterId: string) => `${appId}|${clusterId}`;

/** Whether status `a` is at least as new as `b` (generation first, then observation time). */
function newer(a: StatusRow, b: StatusRow): boolean {
  return (
    a.generation > b.generation || (a.generation === b.generation && a.observedAt >= b.observedAt)
  );
}

/**
 * Write-behind for what agents report: acknowledgements, status reports, events and liveness are
 * buffered for at most FLUSH_DELAY_MS and written in multi-row statements. Per app × cluster only
 * the newest report waits (generation first, then observation time), and the statement itself
 * refuses to overwrite a newer stored report, so ordering holds across replicas too. Nothing is
 * lost on a graceful stop (the buffer is written before the database closes); after a crash the
 * agents' next reports (sent again after every Welcome) restore the truth.
 */
@Injectable()
export class StatusWriter implements BeforeApplicationShutdown {
  private readonly log = new Logger('StatusWriter');
  private statuses = new Map<string, StatusRow>();
  private acks = new Map<string, AckRow>();
  private events: EventRow[] = [];
  private seen = new Map<string, SeenRow>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private immediate = false;
  private failures = 0;
  private readonly delayMs: number;

  constructor(
    private readonly targets: TargetsRepository,
    private readonly clusters: ClustersRepository,
    private readonly replica: ReplicaService,
    private readonly metrics: MetricsService,
    @Inject(STATUS_WRITER_OPTIONS) opts: StatusWriterOptions,
  ) {
    this.delayMs = opts.flushDelayMs;
  }

  status(row: StatusRow): void {
    const k = key(row.appId, row.clusterId);
    const prev = this.statuses.get(k);
    if (!prev || newer(row, prev)) this.statuses.set(k, row);
    this.schedule();
  }

  ack(row: AckRow): void {
    const k = key(row.appId, row.clusterId);
    const prev = this.acks.get(k);
    if (!prev || row.generation > prev.generation) this.acks.set(k, row);
    this.schedule();
  }

  event(rows: EventRow[]): void {
    for (const r of rows) this.events.push(r);
    this.boundEvents();
    this.schedule();
  }

  /** Keeps at most MAX_EVENTS: beyond, the oldest are dropped (and counted). */
  private boundEvents(): void {
    if (this.events.length <= MAX_EVENTS) return;
    const dropped = this.events.length - MAX_EVENTS;
    this.events.splice(0, dropped);
    this.metrics.eventsDropped.inc(dropped);
  }

  agentSeen(row: SeenRow): void {
    const prev = this.seen.get(row.clusterId);
    if (!prev || row.at >= prev.at) this.seen.set(row.clusterId, row);
    this.schedule();
  }

  get pending(): number {
    return this.statuses.size + this.acks.size + this.events.length + this.seen.size;
  }

  /** Writes everything buffered now (and waits for a write in progress). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    if (this.pending === 0) return;
    this.flushing = this.write().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  /** Stops taking time: writes what is buffered, retrying briefly, before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.pending > 0 && Date.now() < deadline) {
      await this.flush().catch(() => undefined);
      if (this.pending > 0) await new Promise((r) => setTimeout(r, 200));
    }
    clearTimeout(this.timer);
    if (this.pending > 0) this.log.error(`${this.pending} report(s) not written at shutdown`);
  }

  private schedule(): void {
    // After a failed write, the next waits RETRY_MS however much is buffered.
    if (this.pending >= FLUSH_AT && !this.flushing && this.failures === 0) {
      if (this.immediate) return; // one write at once is enough, however many reports come
      clearTimeout(this.timer);
      this.timer = undefined;
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        void this.flush().catch(() => undefined);
      });
      return;
    }
    if (this.timer) return;
    const delay = this.failures ? RETRY_MS : this.delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined);
    }, delay);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    const statuses = [...this.statuses.values()];
    const acks = [...this.acks.values()];
    let events = this.events;
    const seen = [...this.seen.values()];
    this.statuses = new Map();
    this.acks = new Map();
    this.events = [];
    this.seen = new Map();
    const end = this.metrics.reportFlushDuration.startTimer();
    // Rows PostgreSQL refuses for their data (a value out of range, a constraint) are found and
    // left out, each kind on its own: one bad report never holds back the others.
    // Counted once the write is done: a failed write gives back statuses, acks and liveness whole,
    // those refused included, and the next attempt finds them again.
    let refused = 0;
    let refusedEvents = 0;
    let done = false;
    const isolating = async <T>(rows: T[], write: (part: T[]) => Promise<void>, events = false) => {
      if (!rows.length) return;
      // Read after the write (parts run at once): `refused += await …` would read it before.
      const left = await writeIsolating(rows, write);
      if (events) refusedEvents += left.length;
      else refused += left.length;
    };
    // An acknowledgement whose application's status (of its generation or a later one) is in this
    // write goes with the status (see TargetsRepository.writeStatuses): one UPDATE of the target
    // instead of two. Agents send both as they apply, so after a commit most come so.
    const withStatus = new Map(statuses.map((s) => [key(s.appId, s.clusterId), s]));
    const folded = (a: AckRow) =>
      (withStatus.get(key(a.appId, a.clusterId))?.generation ?? -1) >= a.generation;
    const ackOf = new Map(acks.filter(folded).map((a) => [key(a.appId, a.clusterId), a]));
    const written = new Set<string>();
    try {
      await isolating(seen, (part) => this.clusters.recordSeen(this.replica.id, part));
      await inParallelParts(
        acks.filter((a) => !folded(a)),
        (part) => isolating(part, (p) => this.targets.writeAcks(p)),
      );
      await inParallelParts(
        statuses.map((s) => ({ ...s, ack: ackOf.get(key(s.appId, s.clusterId))?.generation })),
        (part) =>
          isolating(part, async (p) => {
            for (const t of await this.targets.writeStatuses(p))
              written.add(key(t.appId, t.clusterId));
          }),
      );
      // Those whose status was not stored (refused for its data, or older than the one stored)
      // go on their own.
      await isolating(
        [...ackOf.values()].filter((a) => !written.has(key(a.appId, a.clusterId))),
        (p) => this.targets.writeAcks(p),
      );
      try {
        await isolating(events, (part) => this.targets.insertEvents(part), true);
      } catch (e) {
        // Events are inserted, not upserted: only those not written yet are given back.
        if (e instanceof PartialWriteError) events = e.remaining as EventRow[];
        throw e;
      }
      this.metrics.reportsWritten.inc({ kind: 'status' }, statuses.length);
      this.metrics.reportsWritten.inc({ kind: 'ack' }, acks.length);
      this.metrics.reportsWritten.inc({ kind: 'event' }, events.length);
      this.failures = 0;
      done = true;
      end();
    } catch (e) {
      end();
      this.failures++;
      this.log.warn(
        `writing ${statuses.length + acks.length + events.length + seen.length} report(s) failed (will retry): ${(e as Error).message}`,
      );
      // Give them back, unless something newer arrived meanwhile (statuses, acks and liveness
      // are upserts guarded by their order: writing one again is harmless).
      for (const s of statuses) this.status(s);
      for (const a of acks) this.ack(a);
      for (const r of seen) this.agentSeen(r);
      this.events = events.concat(this.events);
      this.boundEvents();
      this.schedule();
      throw e;
    } finally {
      const left = refusedEvents + (done ? refused : 0);
      if (left > 0) {
        this.metrics.reportsRefused.inc(left);
        this.log.warn(`${left} report(s) refused by the database for their data, left out`);
      }
    }
  }
}

/**
 * Writes `rows` (of targets) in up to PARALLEL_PARTS parts at once, split in target order: the
 * parts lock disjoint ranges of rows, so they never wait on each other, and each statement still
 * locks its own in key order (another replica's writes may overlap; that order keeps them from a
 * cycle). Settles every part before it returns or throws (the first error): a failed write gives
 * back every report of the write, and writing a part again is harmless (upserts guarded by order).
 */
async function inParallelParts<T extends { appId: string; clusterId: string }>(
  rows: T[],
  write: (part: T[]) => Promise<void>,
): Promise<void> {
  const n = Math.min(PARALLEL_PARTS, Math.floor(rows.length / MIN_PART));
  if (n <= 1) return write(rows);
  const sorted = inKeyOrder(
    rows,
    (r) => r.appId,
    (r) => r.clusterId,
  );
  const size = Math.ceil(sorted.length / n);
  const results = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => write(sorted.slice(i * size, (i + 1) * size))),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
