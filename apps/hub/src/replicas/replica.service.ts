import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { WorkRepository } from '../work/work.repository.js';
import { ReplicasRepository } from './replicas.repository.js';

/** How often a replica says it is alive, and after how long a silent one counts as gone. */
export const HEARTBEAT_MS = 3000;
export const STALE_SECONDS = 12;

/**
 * This hub replica's identity and liveness (table `hub_replicas`). Every replica heartbeats; each
 * one sweeps the replicas that went silent: their work leases are dropped at once (another replica
 * takes the work) and their agents count as disconnected until they reconnect elsewhere.
 * PostgreSQL is the only coordinator: no consensus of our own.
 */
@Injectable()
export class ReplicaService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Replica');
  /** Unique per process start: the owner of this replica's leases and agent streams. */
  readonly id = `${hostname().slice(0, 32)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly repo: ReplicasRepository,
    private readonly work: WorkRepository,
    private readonly clusters: ClustersRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.repo.heartbeat(this.id, { pid: process.pid, host: hostname() });
    this.timer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, HEARTBEAT_MS);
    this.timer.unref();
    this.log.log(`replica ${this.id}`);
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
      await this.repo.heartbeat(this.id, { pid: process.pid, host: hostname() });
      const gone = await this.repo.removeStale(this.id, STALE_SECONDS);
      if (gone.length) {
        const released = await this.work.releaseOwners(gone);
        await this.clusters.disconnectReplicas(gone);
        this.log.warn(
          `replica(s) ${gone.join(', ')} went silent: released ${released} work item(s), their agents are disconnected until they reconnect`,
        );
      }
    } catch (e) {
      this.log.warn(`heartbeat failed: ${(e as Error).message}`);
    }
  }
}
