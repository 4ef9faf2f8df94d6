import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { NotifyBus } from '../database/notify-bus.js';
import { WORK_CHANNEL } from '../work/work-queue.js';
import { WorkRepository } from '../work/work.repository.js';
import { ReplicasRepository } from './replicas.repository.js';

/** How often a replica says it is alive, and after how long a silent one counts as gone. */
export const HEARTBEAT_MS = 3000;
export const STALE_SECONDS = 12;
/**
 * After its own listening connection came back (PostgreSQL restarted, say), a replica waits this
 * long before it believes that another replica whose backend is gone is dead: the others need
 * time to reconnect and record their new backends (they retry at least every 5 s).
 */
export const BACKEND_TRUST_MS = 10_000;
/** Every this many heartbeats, a replica also looks for what replicas no longer registered left. */
export const ORPHAN_SWEEP_BEATS = 10;

/**
 * This hub replica's identity and liveness (table `hub_replicas`). Every replica heartbeats; each
 * one sweeps the replicas that are gone: their work leases are dropped at once (another replica
 * takes the work) and their agents count as disconnected until they reconnect elsewhere.
 * PostgreSQL is the only coordinator: no consensus of our own.
 *
 * A replica is gone when it stopped heartbeating for STALE_SECONDS, or sooner when the server
 * process of its listening connection is gone at two sweeps in a row (a replica that dies loses
 * its connections at once; one that merely lost its connection records its new one within a few
 * seconds, before the second sweep).
 */
@Injectable()
export class ReplicaService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Replica');
  /** Unique per process start: the owner of this replica's leases and agent streams. */
  readonly id = `${hostname().slice(0, 32)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;
  /** Replicas whose backend was gone at the last sweep, with that backend. */
  private suspects = new Map<string, string>();
  private beats = 0;

  constructor(
    private readonly repo: ReplicasRepository,
    private readonly work: WorkRepository,
    private readonly clusters: ClustersRepository,
    private readonly bus: NotifyBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.repo.heartbeat(this.id, this.info(), this.bus.backend());
    this.timer = setInterval(() => this.beatSoon(), HEARTBEAT_MS);
    this.timer.unref();
    // A new listening connection is recorded at once, before the others look for the old one.
    this.bus.onReconnect(() => this.beatSoon());
    this.log.log(`replica ${this.id}`);
  }

  private beatSoon(): void {
    this.beating ??= this.beat().finally(() => (this.beating = undefined));
  }

  private info(): Record<string, unknown> {
    return { pid: process.pid, host: hostname() };
  }

  /** Stops heartbeating and gives up this replica's leases: the others take its work now. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
    await this.work.releaseOwners([this.id]).catch(() => undefined);
    await this.repo.remove(this.id).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.repo.heartbeat(this.id, this.info(), this.bus.backend());
      const gone = [
        ...(await this.repo.removeStale(this.id, STALE_SECONDS)),
        ...(await this.backendsLost()),
      ];
      let released = 0;
      if (gone.length) {
        released += await this.work.releaseOwners(gone);
        await this.clusters.disconnectReplicas(gone);
        this.log.warn(
          `replica(s) ${gone.join(', ')} gone: released ${released} work item(s), their agents are disconnected until they reconnect`,
        );
      }
      // A sweep that removed a replica and failed before the above (or a replica removed while
      // this one was down) leaves leases and connected clusters of a replica that is not there:
      // found by what no registered replica holds.
      if (++this.beats % ORPHAN_SWEEP_BEATS === 0) {
        const orphans = await this.work.releaseOrphans();
        const clusters = await this.clusters.disconnectOrphans();
        if (orphans + clusters > 0)
          this.log.warn(
            `released ${orphans} work item(s) and disconnected ${clusters} cluster(s) held by replicas no longer registered`,
          );
        released += orphans;
      }
      // The work they held is free now: every replica hears of it, not at its next poll.
      if (released > 0) {
        await this.bus.publish(WORK_CHANNEL, 'app');
        await this.bus.publish(WORK_CHANNEL, 'appset');
      }
    } catch (e) {
      this.log.warn(`heartbeat failed: ${(e as Error).message}`);
    }
  }

  /** Removes the replicas whose backend was gone at the last sweep and still is; their ids. */
  private async backendsLost(): Promise<string[]> {
    const own = this.bus.backend();
    if (!own || (own.reconnected && Date.now() - own.since < BACKEND_TRUST_MS)) {
      this.suspects.clear();
      return [];
    }
    const seen = await this.repo.backendsGone(this.id, own);
    const confirmed = seen.filter((g) => this.suspects.get(g.id) === g.backend);
    this.suspects = new Map(seen.map((g) => [g.id, g.backend]));
    return this.repo.removeGone(this.id, confirmed);
  }
}
