import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { TargetsRepository, type DeliveryRow } from '../applications/targets.repository.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { ClustersService } from '../clusters/clusters.service.js';
import type { ClusterInfo } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import { BundleStore } from '../render/bundle.store.js';
import type { AgentSession, SessionHost } from './agent-session.js';
import { DispatchNotifier } from './dispatch.notifier.js';
import { groupBy } from '../common/group-by.js';

/** Notifications arriving within this window are delivered together. */
const COALESCE_MS = 5;
/**
 * How often sessions deliver again what may go now without any target changing: a removal held
 * for applications that depended on it (it goes once they are gone, or once it has waited long
 * enough), and desired state the project gate refused (a project put right changes no target).
 */
const RECHECK_MS = 30_000;
/** At least this long between two changes of a cluster's capabilities (see clusterInfo). */
const CLUSTER_INFO_SPACING_MS = 5_000;

/**
 * Delivers desired state to the agent streams this replica holds. Notifications (cluster ids,
 * from any replica) and new sessions are coalesced, then one round reads the pending targets of
 * every notified cluster in one query (all targets for sessions that just said Hello), checks
 * projects through one gate, and hands each session its rows. Rounds run one at a time; what
 * arrives during a round is delivered by the next.
 *
 * A round does not wait for the streams to take what it handed them: an agent that reads slowly
 * (or not at all, until its keepalive fails) holds back its own cluster and nobody else's. A
 * session still writing an earlier delivery is left out of rounds until it is done; its cluster
 * stays pending and is read again then.
 */
@Injectable()
export class Dispatcher implements SessionHost, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Dispatcher');
  private readonly sessions = new Map<string, AgentSession>();
  /** Cluster id → whether the next round delivers everything (true) or what is pending. */
  private readonly pending = new Map<string, boolean>();
  private round: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Deliveries in a row that failed, per session. */
  private readonly failedDeliveries = new Map<AgentSession, number>();
  /** Rounds in a row that could not read what to deliver. */
  private failedRounds = 0;
  /** Sessions still writing a delivery, and those deliveries. */
  private readonly busy = new Map<AgentSession, Promise<void>>();
  /** Cluster id → the latest ClusterInfo not yet stored, while one is being stored. */
  private readonly clusterInfos = new Map<string, ClusterInfo>();

  constructor(
    private readonly targets: TargetsRepository,
    private readonly clusters: ClustersRepository,
    private readonly clusterInventory: ClustersService,
    private readonly projects: ProjectsService,
    private readonly bundles: BundleStore,
    private readonly metrics: MetricsService,
    private readonly notifier: DispatchNotifier,
  ) {}

  private recheck: NodeJS.Timeout | undefined;

  onApplicationBootstrap(): void {
    this.recheck = setInterval(() => {
      if (this.sessions.size === 0) return;
      for (const session of this.sessions.values())
        if (session.hasRefused) this.request(session, false);
      void this.targets
        .clustersWithRemovals()
        .then((ids) => this.notified(ids))
        .catch((e: unknown) => this.log.warn(`removal recheck: ${(e as Error).message}`));
    }, RECHECK_MS);
    this.recheck.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.recheck);
  }

  get size(): number {
    return this.sessions.size;
  }

  session(clusterId: string): AgentSession | undefined {
    return this.sessions.get(clusterId);
  }

  all(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** Registers a new stream for a cluster, closing the one it replaces. */
  add(session: AgentSession): void {
    this.sessions
      .get(session.clusterId)
      ?.close(GrpcStatus.ALREADY_EXISTS, 'replaced by a newer connection');
    this.sessions.set(session.clusterId, session);
    this.metrics.agentSessions.set(this.sessions.size);
  }

  /** Forgets a stream that ended; false when a newer one already replaced it. */
  remove(session: AgentSession): boolean {
    this.failedDeliveries.delete(session);
    if (this.sessions.get(session.clusterId) !== session) return false;
    this.sessions.delete(session.clusterId);
    this.metrics.agentSessions.set(this.sessions.size);
    return true;
  }

  /** Clusters some replica wrote desired state for (a DISPATCH notification). */
  notified(clusterIds: string[]): void {
    for (const id of clusterIds) {
      if (!this.sessions.has(id)) continue;
      if (!this.pending.has(id)) this.pending.set(id, false);
    }
    this.schedule();
  }

  /** Every session delivers everything again (the notification listener reconnected). */
  resyncAll(): void {
    for (const id of this.sessions.keys()) this.pending.set(id, true);
    this.schedule();
  }

  request(session: AgentSession, full: boolean): void {
    this.pending.set(session.clusterId, full || (this.pending.get(session.clusterId) ?? false));
    this.schedule();
  }

  raiseGeneration(session: AgentSession, row: DeliveryRow, generation: number): Promise<boolean> {
    return this.targets.raiseGeneration(session.clusterId, row, generation);
  }

  clusterInfo(session: AgentSession, info: ClusterInfo): void {
    // One write per cluster at a time; of the reports meanwhile, the latest is written next, and
    // not sooner than CLUSTER_INFO_SPACING_MS after a change (an agent whose discovery flaps
    // does not keep its cluster's charts rendering).
    const inFlight = this.clusterInfos.has(session.clusterId);
    this.clusterInfos.set(session.clusterId, info);
    if (!inFlight) void this.storeClusterInfo(session);
  }

  private async storeClusterInfo(session: AgentSession): Promise<void> {
    const { clusterId, clusterName } = session;
    for (;;) {
      const latest = this.clusterInfos.get(clusterId);
      if (!latest) return;
      // The agent's stream left this replica: what it sends where it is now wins.
      if (!this.sessions.has(clusterId)) {
        this.clusterInfos.delete(clusterId);
        return;
      }
      try {
        const r = await this.clusterInventory.recordCapabilities(
          { id: clusterId, name: clusterName },
          latest,
        );
        if (r.changed) {
          this.log.log(
            `${clusterName}: serves Kubernetes ${latest.kubeVersion}, ${latest.apiVersions.length} API version(s)`,
          );
          if (r.dropped.length)
            this.log.warn(
              `${clusterName}: ${r.dropped.length} reported API version(s) left out (not group/version/Kind), e.g. "${r.dropped[0].slice(0, 100)}"`,
            );
          // Reports meanwhile wait behind this one (its entry stays): the next change is stored
          // CLUSTER_INFO_SPACING_MS later at the soonest.
          await new Promise((r) => setTimeout(r, CLUSTER_INFO_SPACING_MS).unref());
        }
      } catch (e) {
        this.log.warn(`${clusterName}: cluster info not stored: ${(e as Error).message}`);
      }
      if (this.clusterInfos.get(clusterId) === latest) {
        this.clusterInfos.delete(clusterId);
        return;
      }
    }
  }

  removed(session: AgentSession, appIds: string[]): void {
    void this.targets
      .finishRemovals(session.clusterId, appIds)
      .then((clusters) => this.notifier.notify(clusters))
      .catch((e: unknown) =>
        // The note stays: the agent's next Hello, which no longer lists the app, clears it.
        this.log.warn(`${session.clusterName}: recording removals: ${(e as Error).message}`),
      );
  }

  /** Resolves when no round is due or running and every delivery was written (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.round || this.pending.size > 0 || this.busy.size > 0) {
      if (this.round) await this.round;
      else if (this.busy.size > 0) await Promise.all(this.busy.values());
      else await new Promise((r) => setTimeout(r, COALESCE_MS * 2));
    }
  }

  /** Whether some pending cluster has a session free to take a delivery. */
  private deliverable(): boolean {
    for (const id of this.pending.keys()) {
      const s = this.sessions.get(id);
      if (!s) this.pending.delete(id);
      else if (!this.busy.has(s)) return true;
    }
    return false;
  }

  private schedule(): void {
    if (this.timer || this.round || !this.deliverable()) return;
    // After failed rounds (the database is away), 0.25 s doubling to 5 s.
    const wait = this.failedRounds
      ? Math.min(5_000, 250 * 2 ** Math.min(this.failedRounds - 1, 5))
      : COALESCE_MS;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.round = this.deliver()
        .catch((e: unknown) =>
          this.log.error(`delivery failed: ${(e as Error).stack ?? String(e)}`),
        )
        .finally(() => {
          this.round = undefined;
          this.schedule();
        });
    }, wait);
  }

  /**
   * A session's delivery failed (the database went away while it read a bundle, say): its cluster
   * is delivered again after a backoff (0.5 s doubling to 30 s), not only at its next notification.
   */
  private retryLater(session: AgentSession, full: boolean, e: unknown): void {
    // A stream that ended meanwhile (remove() ran): nothing to retry, nor to remember it by.
    if (this.sessions.get(session.clusterId) !== session) return;
    const n = (this.failedDeliveries.get(session) ?? 0) + 1;
    this.failedDeliveries.set(session, n);
    const delay = Math.min(30_000, 500 * 2 ** Math.min(n - 1, 6));
    this.log.error(
      `${session.clusterName}: delivery failed (again in ${delay / 1000} s): ${(e as Error).message}`,
    );
    setTimeout(() => {
      if (this.sessions.get(session.clusterId) === session) this.request(session, full);
    }, delay).unref();
  }

  /** What a round delivers: the clusters' rows, removal notes and labels, projects, resources. */
  private async read(full: string[], incremental: string[], ids: string[]) {
    // Removal notes the agents that just said Hello no longer need: they hold none of those apps.
    const hellos = full.flatMap((id) => {
      const s = this.sessions.get(id);
      return s?.helloInventory ? [s] : [];
    });
    if (hellos.length) {
      await this.targets.forgetRemovalNotes(
        hellos.map((s) => ({ clusterId: s.clusterId, heldAppIds: s.helloInventory! })),
      );
      for (const s of hellos) s.helloInventory = undefined;
    }
    const [{ rows, notes }, labels, gate] = await Promise.all([
      // Targets and removal notes of one moment (see readSnapshot).
      this.targets.readSnapshot(async (db) => ({
        rows: [
          ...(await this.targets.allFor(full, db)),
          ...(await this.targets.pendingFor(incremental, db)),
        ] as DeliveryRow[],
        notes: await this.targets.removalNotes(ids, db),
      })),
      this.clusters.byIds(ids).then((cs) => new Map(cs.map((c) => [c.id, c.labels]))),
      this.projects.gate(),
    ]);
    const resources = await this.bundles.resourcesOf([...new Set(rows.map((r) => r.bundleHash))]);
    return { rows, notes, labels, gate, resources };
  }

  private async deliver(): Promise<void> {
    const batch: [string, boolean][] = [];
    for (const [id, f] of this.pending) {
      const s = this.sessions.get(id);
      if (s && this.busy.has(s)) continue; // read again once its delivery is written
      this.pending.delete(id);
      if (s) batch.push([id, f]);
    }
    if (batch.length === 0) return;
    const end = this.metrics.dispatchRoundDuration.startTimer();
    const full = batch.filter(([, f]) => f).map(([id]) => id);
    const incremental = batch.filter(([, f]) => !f).map(([id]) => id);
    const ids = batch.map(([id]) => id);
    let read: Awaited<ReturnType<Dispatcher['read']>>;
    try {
      read = await this.read(full, incremental, ids);
      this.failedRounds = 0;
    } catch (e) {
      // Try again (a database blip), backing off: nothing is lost, the desired state is in
      // PostgreSQL and these clusters stay pending.
      for (const [id, f] of batch) this.pending.set(id, f || (this.pending.get(id) ?? false));
      this.failedRounds++;
      end();
      throw e;
    }
    const { rows, notes, labels, gate, resources } = read;
    const rowsBy = groupBy(rows, (r) => r.clusterId);
    type Notes = Map<string, { prune: boolean; held: boolean }>;
    const notesBy = new Map<string, Notes>();
    for (const n of notes) {
      let m = notesBy.get(n.clusterId);
      if (!m) notesBy.set(n.clusterId, (m = new Map() as Notes));
      m.set(n.appId, { prune: n.prune, held: n.held });
    }
    const fullSet = new Set(full);
    const deliveries: Promise<void>[] = [];
    for (const id of ids) {
      const session = this.sessions.get(id);
      if (!session) continue;
      const clusterLabels = labels.get(id);
      if (!clusterLabels) {
        // A deleted cluster loses its targets with it: that is not a reason to remove its apps.
        session.close(GrpcStatus.PERMISSION_DENIED, 'cluster removed');
        continue;
      }
      const delivery = session
        .deliver(rowsBy.get(id) ?? [], notesBy.get(id) ?? (new Map() as Notes), fullSet.has(id), {
          gate,
          labels: clusterLabels,
          resources,
          bundle: (h) => this.bundles.getCompressed(h),
        })
        .then(
          () => void this.failedDeliveries.delete(session),
          (e: unknown) => this.retryLater(session, fullSet.has(id), e),
        )
        .finally(() => {
          this.busy.delete(session);
          this.schedule();
        });
      this.busy.set(session, delivery);
      deliveries.push(delivery);
    }
    this.metrics.dispatchRoundClusters.observe(ids.length);
    // The round's duration runs until its streams took everything (the round itself is over).
    void Promise.all(deliveries).then(() => end());
  }
}
