import { Logger } from '@nestjs/common';
import { backoffDelay } from '../../../../libs/workqueue/src/backoff.js';
import type { WorkItem, WorkKind, WorkRepository } from './work.repository.js';

/** What a handler learns about its batch while it runs. */
export interface Lease {
  /**
   * The lease owner of this batch's items: the replica's id and the claim (`<replica>/<n>`), so
   * that a batch that outlived its lease cannot act on items the same replica claimed again since.
   */
  readonly owner: string;
  /**
   * True once the lease on some item of the batch could not be renewed (another replica claimed
   * it): results are written through the fence only (WorkRepository.fence), which drops them.
   */
  readonly lost: boolean;
}

export interface WorkLoopOptions {
  kind: WorkKind;
  /** This replica's id: leases are held as `<owner>/<claim>` (see {@link leaseOwner}). */
  owner: string;
  /** Items claimed together: one unit of work. */
  batchSize: number;
  /** Batches running at once on this replica. */
  concurrency: number;
  leaseSeconds: number;
  /** How often to look for work without a notification (expired leases, missed notifications). */
  pollMs: number;
  /**
   * Does the work; must finish every item it does not throw for (WorkRepository.complete, fenced,
   * in the transaction that writes the results). A throw gives the whole batch back, to run again
   * after a backoff.
   */
  handle(items: WorkItem[], lease: Lease): Promise<void>;
}

/**
 * The one reconcile loop of the hub, for applications and ApplicationSets alike: claim a batch of
 * dirty objects under a lease, keep the lease while the batch runs, and let the handler finish
 * them. Woken by NOTIFY; polls as a safety net.
 */
export class WorkLoop {
  private readonly log: Logger;
  private running = 0;
  private wanted = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly active = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private claims = 0;

  constructor(
    private readonly repo: WorkRepository,
    private readonly opts: WorkLoopOptions,
  ) {
    this.log = new Logger(`WorkLoop ${opts.kind}`);
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.opts.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Looks for work now (a notification arrived or something was marked locally). */
  wake(): void {
    if (this.stopped) return;
    this.wanted = true;
    this.pump();
  }

  /** Resolves when this replica runs no batch and found nothing to claim last time it looked. */
  idle(): Promise<void> {
    if (this.running === 0 && !this.wanted) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.active]);
  }

  private pump(): void {
    while (!this.stopped && this.wanted && this.running < this.opts.concurrency) {
      this.wanted = false;
      this.running++;
      const p = this.cycle().finally(() => {
        this.running--;
        this.active.delete(p);
        this.pump();
        if (this.running === 0 && !this.wanted) {
          const ws = this.idleWaiters;
          this.idleWaiters = [];
          ws.forEach((w) => w());
        }
      });
      this.active.add(p);
    }
  }

  /** Claims one batch and runs it; asks for another look when the batch was full. */
  private async cycle(): Promise<void> {
    let items: WorkItem[];
    const owner = leaseOwner(this.opts.owner, ++this.claims);
    try {
      items = await this.repo.claim(
        this.opts.kind,
        owner,
        this.opts.batchSize,
        this.opts.leaseSeconds,
      );
    } catch (e) {
      this.log.warn(`claiming work failed: ${(e as Error).message}`);
      return;
    }
    if (items.length === 0) return;
    // More may be waiting (a full batch, or work marked while this one runs).
    this.wanted = true;
    const lease = { owner, lost: false };
    const keys = items.map((i) => i.key);
    // A renewal still in flight when the handler finishes may find the items ended and claimed
    // again by another replica: that is no loss.
    let finished = false;
    const renew = setInterval(
      () =>
        void this.repo
          .renew(this.opts.kind, owner, keys, this.opts.leaseSeconds)
          .then((lost) => {
            if (finished) return;
            if (lost.size > 0 && !lease.lost) {
              lease.lost = true;
              this.log.warn(
                `lost the lease on ${lost.size} item(s) of a batch: claimed again since`,
              );
            }
          })
          .catch((e: unknown) => this.log.warn(`renewing a lease failed: ${(e as Error).message}`)),
      Math.max(1000, (this.opts.leaseSeconds * 1000) / 3),
    );
    renew.unref();
    try {
      await this.opts.handle(items, lease);
    } catch (e) {
      const attempts = Math.max(...items.map((i) => i.attempts));
      const delay = Math.round(backoffDelay(attempts, 1000, 60_000) / 1000);
      this.log.error(
        `a batch of ${items.length} failed (retrying in ${delay} s): ${(e as Error).stack ?? String(e)}`,
      );
      await this.repo
        .release(this.opts.kind, owner, keys, delay, (e as Error).message)
        .catch(() => undefined);
    } finally {
      finished = true;
      clearInterval(renew);
    }
  }
}

/**
 * The owner of one claim's leases: unique per claim, so every write fenced by owner (results,
 * completion, retries, releases) applies to that claim's items only. A replica's id never holds
 * '/'; WorkRepository.releaseOwners drops every claim of a replica by it.
 */
export function leaseOwner(replica: string, claim: number): string {
  return `${replica}/${claim}`;
}
