import { Logger } from '@nestjs/common';
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { DataSource } from 'typeorm';
import {
  HealthStatus,
  SyncStatus,
  type Ack,
  type AgentMessage,
  type AppStatus,
  type Events,
  type SyncPolicy,
  type Hello,
  type HubMessage,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { HealthState, ResourceState, SyncState } from '../applications/app-target.entity.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { ProjectPolicy } from '../projects/project-policy.js';
import type { BundleStore } from '../render/bundle.store.js';

interface DesiredRow {
  app_id: string;
  app_name: string;
  desired_generation: string;
  desired_bundle_hash: string;
  desired_revision: string;
  desired_namespace: string;
  desired_policy: SyncPolicy;
  project: string;
}

interface Held {
  generation: number;
  hash: string;
}

export interface SessionDeps {
  ds: DataSource;
  bundles: BundleStore;
  metrics: MetricsService;
  /** Every project's policy (checked again right before dispatch). */
  projects(): Promise<Map<string, ProjectPolicy>>;
  heartbeatSeconds: number;
  onSeen(clusterId: string, connected: boolean, agentVersion?: string): Promise<void>;
}

/**
 * The hub's side of one agent stream. It knows what the agent holds (its Hello inventory plus
 * acks since) and sends only what differs from the desired state in PostgreSQL. Desired state is
 * never queued in memory: every sync reads it fresh, so nothing is lost across restarts.
 */
export class AgentSession {
  private readonly log: Logger;
  private readonly held = new Map<string, Held>();
  private readonly sent = new Map<string, number>();
  private syncing: Promise<void> | undefined;
  private again = false;
  private ready = false;
  closed = false;

  constructor(
    readonly clusterId: string,
    readonly clusterName: string,
    private readonly call: ServerDuplexStream<AgentMessage, HubMessage>,
    private readonly deps: SessionDeps,
  ) {
    this.log = new Logger(`AgentSession ${clusterName}`);
  }

  async handle(msg: AgentMessage): Promise<void> {
    const m = msg.msg;
    if (!m) throw new ProtocolError('empty message');
    if (!this.ready && m.$case !== 'hello')
      throw new ProtocolError('the first message must be Hello');
    switch (m.$case) {
      case 'hello':
        return this.onHello(m.value);
      case 'ack':
        return this.onAck(m.value);
      case 'status':
        return this.onStatus(m.value);
      case 'heartbeat':
        return this.deps.onSeen(this.clusterId, true);
      case 'events':
        return this.onEvents(m.value);
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    if (hello.cluster && hello.cluster !== this.clusterName) {
      throw new ProtocolError(
        `this token belongs to cluster "${this.clusterName}", not "${hello.cluster}"`,
      );
    }
    if (hello.inventory.length > 100_000) throw new ProtocolError('inventory too large');
    hello.inventory.forEach((i) => assertAppId(i.appId));
    this.held.clear();
    this.sent.clear();
    for (const i of hello.inventory)
      this.held.set(i.appId, { generation: i.generation, hash: i.bundleHash });
    this.ready = true;
    // Removal notes the agent no longer needs: it holds none of those apps any more.
    await this.deps.ds.query(
      `DELETE FROM app_removals WHERE cluster_id = $1 AND NOT (app_id = ANY($2::uuid[]))`,
      [this.clusterId, hello.inventory.map((i) => i.appId)],
    );
    await this.write({
      msg: {
        $case: 'welcome',
        value: {
          session: randomId(),
          heartbeatIntervalSeconds: this.deps.heartbeatSeconds,
          cluster: this.clusterName,
        },
      },
    });
    await this.deps.onSeen(this.clusterId, true, hello.agentVersion.slice(0, 64));
    this.log.log(
      `connected (agent ${hello.agentVersion || 'unknown'}, holds ${hello.inventory.length} app(s))`,
    );
    await this.sync();
  }

  /** What the agent says happened: stored (bounded) for the application's history. */
  private async onEvents(ev: Events): Promise<void> {
    const events = ev.events.slice(0, 1000).filter((e) => UUID_RE.test(e.appId));
    if (ev.dropped > 0) this.log.warn(`agent dropped ${ev.dropped} event(s) while offline`);
    if (events.length === 0) return;
    await this.deps.ds.query(
      `INSERT INTO app_events (app_id, cluster_id, at, type, reason, message, generation, offline)
       SELECT e.app_id, $1, to_timestamp(e.at / 1000.0), e.type, e.reason, e.message, e.generation, e.offline
         FROM jsonb_to_recordset($2::jsonb)
           AS e(app_id uuid, at double precision, type text, reason text, message text, generation bigint, offline boolean)`,
      [
        this.clusterId,
        JSON.stringify(
          events.map((e) => ({
            app_id: e.appId,
            at: e.atUnixMs || Date.now(),
            type: e.type.slice(0, 16) || 'Normal',
            reason: e.reason.slice(0, 64),
            message: e.message.slice(0, 2000),
            generation: e.generation,
            offline: e.offline,
          })),
        ),
      ],
    );
  }

  private async onAck(ack: Ack): Promise<void> {
    assertAppId(ack.appId);
    const held = this.held.get(ack.appId);
    if (!held || held.generation < ack.generation) {
      // Only the bundle sent with exactly this generation is known to be held; otherwise
      // unknown, so the next deploy carries its bundle again.
      const sent = this.sentHash.get(ack.appId);
      this.held.set(ack.appId, {
        generation: ack.generation,
        hash: sent && sent.generation === ack.generation ? sent.hash : '',
      });
    }
    await this.deps.ds.query(
      `UPDATE app_targets SET acked_generation = GREATEST(acked_generation, $3), updated_at = now()
       WHERE app_id = $1 AND cluster_id = $2`,
      [ack.appId, this.clusterId, ack.generation],
    );
  }

  private async onStatus(s: AppStatus): Promise<void> {
    assertAppId(s.appId);
    const resources: ResourceState[] = s.resources.slice(0, 10_000).map((r) => ({
      group: r.group,
      version: r.version,
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
      sync: syncState(r.sync) ?? 'Unknown',
      health: healthState(r.health) ?? 'Unknown',
      ...(r.message ? { message: r.message.slice(0, 2000) } : {}),
      ...(r.drifted ? { drifted: true } : {}),
      ...(r.diffs.length
        ? {
            diffs: r.diffs.slice(0, 20).map((d) => ({
              path: d.path.slice(0, 512),
              desired: d.desired.slice(0, 512),
              live: d.live.slice(0, 512),
            })),
          }
        : {}),
      ...(r.requiresPruning ? { requiresPruning: true } : {}),
      ...(r.syncWave ? { syncWave: r.syncWave } : {}),
    }));
    // Latest wins: a report about an older generation, or an older report about the same one, is ignored.
    await this.deps.ds.query(
      `UPDATE app_targets SET applied_generation = $3, applied_revision = $4, sync = $5, health = $6,
         message = $7, resources = $8, last_report_at = to_timestamp($9 / 1000.0), updated_at = now(),
         drifted = $10, observe_only = $11, operation = $12
       WHERE app_id = $1 AND cluster_id = $2
         AND (applied_generation < $3
              OR (applied_generation = $3
                  AND (last_report_at IS NULL OR last_report_at <= to_timestamp($9 / 1000.0))))`,
      [
        s.appId,
        this.clusterId,
        s.generation,
        s.revision.slice(0, 64) || null,
        syncState(s.sync) ?? 'Unknown',
        healthState(s.health) ?? 'Unknown',
        s.message.slice(0, 4000),
        JSON.stringify(resources),
        s.observedAtUnixMs || Date.now(),
        s.drifted,
        s.observeOnly,
        s.operation ? JSON.stringify(s.operation).slice(0, 64 * 1024) : null,
      ],
    );
  }

  private readonly sentHash = new Map<string, { generation: number; hash: string }>();

  /** Sends what the agent lacks. Runs one at a time; calls during a run cause one more run. */
  sync(): Promise<void> {
    if (!this.ready || this.closed) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again && !this.closed);
    })()
      // A failed sync (e.g. a database blip) is retried by the next notification or reconnect;
      // it must never become an unhandled rejection.
      .catch((e: unknown) => this.log.error(`sync failed: ${(e as Error).message}`))
      .finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const rows = await this.deps.ds.query<DesiredRow[]>(
      `SELECT t.app_id, a.name AS app_name, t.desired_generation, t.desired_bundle_hash, t.desired_revision,
              t.desired_namespace, t.desired_policy, coalesce(a.spec->>'project', 'default') AS project
         FROM app_targets t JOIN applications a ON a.id = t.app_id
        WHERE t.cluster_id = $1`,
      [this.clusterId],
    );
    const desired = new Set<string>();
    let projects: Map<string, ProjectPolicy> | undefined;
    let labels: Record<string, string> | undefined;
    for (const row of rows) {
      if (this.closed) return;
      desired.add(row.app_id);
      let generation = Number(row.desired_generation);
      const held = this.held.get(row.app_id);
      if (held && held.generation === generation && held.hash === row.desired_bundle_hash) continue;
      if ((this.sent.get(row.app_id) ?? 0) >= generation) continue;
      if (held && held.generation >= generation) {
        // The agent holds a newer generation than the hub knows (e.g. a restored database):
        // move past it so the agent accepts the desired state.
        generation = held.generation + 1;
        await this.deps.ds.query(
          `UPDATE app_targets SET desired_generation = $3 WHERE app_id = $1 AND cluster_id = $2`,
          [row.app_id, this.clusterId, generation],
        );
      }
      // Last hub-side project check, right before the manifests leave for the cluster.
      projects ??= await this.deps.projects();
      labels ??=
        (
          await this.deps.ds.query<{ labels: Record<string, string> }[]>(
            'SELECT labels FROM clusters WHERE id = $1',
            [this.clusterId],
          )
        )[0]?.labels ?? {};
      const policy = projects.get(row.project);
      const cluster = { name: this.clusterName, labels };
      const violations = !policy
        ? [`project "${row.project}" does not exist`]
        : [
            ...policy.checkDestination(cluster, row.desired_namespace),
            ...policy.checkResources(
              await this.deps.bundles.resources(row.desired_bundle_hash),
              row.desired_namespace,
              cluster,
            ),
          ];
      if (violations.length) {
        this.log.warn(
          `not dispatching ${row.app_name} generation ${generation}: ${violations.join('; ')}`,
        );
        this.deps.metrics.dispatchRefused.inc({ cluster: this.clusterName });
        continue;
      }
      const sameBundle = held?.hash === row.desired_bundle_hash;
      const bundleGzip = sameBundle
        ? Buffer.alloc(0)
        : await this.deps.bundles.getCompressed(row.desired_bundle_hash);
      await this.write({
        msg: {
          $case: 'deploy',
          value: {
            appId: row.app_id,
            appName: row.app_name,
            generation,
            revision: row.desired_revision,
            bundleHash: row.desired_bundle_hash,
            bundleGzip,
            namespace: row.desired_namespace,
            syncPolicy: row.desired_policy,
          },
        },
      });
      this.deps.metrics.deploysSent.inc({
        cluster: this.clusterName,
        with_bundle: String(!sameBundle),
      });
      this.deps.metrics.bundleBytesSent.inc({ cluster: this.clusterName }, bundleGzip.length);
      this.sent.set(row.app_id, generation);
      this.sentHash.set(row.app_id, { generation, hash: row.desired_bundle_hash });
    }
    let gone = [...this.held.keys()].filter((id) => !desired.has(id));
    if (gone.length) {
      // A deleted cluster loses its targets with it: that is not a reason to remove its apps.
      const exists = await this.deps.ds.query<unknown[]>('SELECT 1 FROM clusters WHERE id = $1', [
        this.clusterId,
      ]);
      if (exists.length === 0) {
        this.close(GrpcStatus.PERMISSION_DENIED, 'cluster removed');
        gone = [];
      }
    }
    const notes = gone.length
      ? await this.deps.ds.query<{ app_id: string; prune: boolean }[]>(
          `SELECT app_id, prune FROM app_removals WHERE cluster_id = $1 AND app_id = ANY($2::uuid[])`,
          [this.clusterId, gone],
        )
      : [];
    for (const appId of gone) {
      // Without a note (e.g. the cluster was dropped from the app's destinations) resources go.
      const prune = notes.find((n) => n.app_id === appId)?.prune ?? true;
      await this.write({ msg: { $case: 'remove', value: { appId, prune } } });
      this.deps.metrics.removesSent.inc({ cluster: this.clusterName });
      this.held.delete(appId);
      this.sent.delete(appId);
    }
  }

  /** Writes one message, waiting for the stream to drain when its buffer is full. */
  private write(msg: HubMessage): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const ok = this.call.write(msg);
      if (ok) resolve();
      else this.call.once('drain', () => resolve());
    });
  }

  close(code: GrpcStatus = GrpcStatus.UNAVAILABLE, details = 'session closed by the hub'): void {
    if (this.closed) return;
    this.closed = true;
    this.call.emit('error', { code, details });
  }
}

export class ProtocolError extends Error {}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function assertAppId(id: string): void {
  if (!UUID_RE.test(id)) throw new ProtocolError(`malformed app id "${id.slice(0, 40)}"`);
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 12);
}

/** Maps the wire enum; an unknown value from a newer agent maps to undefined. */
function syncState(s: SyncStatus): SyncState | undefined {
  switch (s) {
    case SyncStatus.SYNC_STATUS_SYNCED:
      return 'Synced';
    case SyncStatus.SYNC_STATUS_OUT_OF_SYNC:
      return 'OutOfSync';
    case SyncStatus.SYNC_STATUS_UNKNOWN:
    case SyncStatus.SYNC_STATUS_UNSPECIFIED:
      return 'Unknown';
    default:
      return undefined;
  }
}

function healthState(h: HealthStatus): HealthState | undefined {
  switch (h) {
    case HealthStatus.HEALTH_STATUS_HEALTHY:
      return 'Healthy';
    case HealthStatus.HEALTH_STATUS_PROGRESSING:
      return 'Progressing';
    case HealthStatus.HEALTH_STATUS_DEGRADED:
      return 'Degraded';
    case HealthStatus.HEALTH_STATUS_SUSPENDED:
      return 'Suspended';
    case HealthStatus.HEALTH_STATUS_MISSING:
      return 'Missing';
    case HealthStatus.HEALTH_STATUS_UNKNOWN:
    case HealthStatus.HEALTH_STATUS_UNSPECIFIED:
      return 'Unknown';
    default:
      return undefined;
  }
}
