import { Logger } from '@nestjs/common';
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type {
  Ack,
  AgentMessage,
  ClusterInfo,
  Deploy,
  Events,
  Hello,
  HubMessage,
  SyncPolicy,
  NeedBundle,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { DeliveryRow } from '../applications/targets.repository.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { ProjectGate } from '../projects/project-gate.js';
import type { ResourceRef } from '../projects/project-policy.js';
import type { StatusWriter } from './status-writer.js';
import { statusRow } from './wire.js';

/** Features this hub announces in Welcome (see proto/axle/agent/v1/agent.proto). */
export const HUB_FEATURES = ['need-bundle', 'cluster-info'];

interface Held {
  generation: number;
  hash: string;
}

/** What the dispatcher hands a session for one delivery round. */
export interface DeliveryContext {
  gate: ProjectGate;
  labels: Record<string, string>;
  resources: Map<string, ResourceRef[]>;
  bundle(hash: string): Promise<Buffer>;
}

/** What a session asks of the dispatcher (which owns the database side). */
export interface SessionHost {
  /** Deliver to this session: everything (after Hello) or what is pending. */
  request(session: AgentSession, full: boolean): void;
  /**
   * The agent holds a newer generation than stored: store `generation` as the desired one, if the
   * target is still as `row` read it (generation and bundle). False when it changed meanwhile.
   */
  raiseGeneration(session: AgentSession, row: DeliveryRow, generation: number): Promise<boolean>;
  /** The agent reports these applications removed (removals waiting for them may go). */
  removed(session: AgentSession, appIds: string[]): void;
  /** What the cluster's API server serves, as the agent read it (stored by the dispatcher). */
  clusterInfo(session: AgentSession, info: ClusterInfo): void;
}

export interface SessionDeps {
  writer: StatusWriter;
  metrics: MetricsService;
  host: SessionHost;
  heartbeatSeconds: number;
}

/**
 * The hub's side of one agent stream: the protocol, and a model of what the agent holds (its
 * Hello inventory plus what was sent and acknowledged since), so that only what differs is sent
 * and a bundle the agent already holds travels by hash alone. Desired state is never queued in
 * memory: the dispatcher reads it from PostgreSQL for every delivery, so nothing is lost across
 * restarts. Reports go to the write-behind StatusWriter.
 */
export class AgentSession {
  private readonly log: Logger;
  /** What the agent holds per application (from Hello and acknowledgements). */
  private readonly held = new Map<string, Held>();
  /** The last Deploy sent per application (its generation and bundle). */
  private readonly sent = new Map<string, Held>();
  /**
   * Applications whose desired state the project gate refused at dispatch, by generation: looked
   * at again by the dispatcher's recheck (a project put right changes no target, so nothing else
   * would send them while this stream lasts).
   */
  private readonly refused = new Map<string, number>();
  /** Bundles the agent holds: hash → applications that reference it there. */
  private readonly bundles = new Map<string, number>();
  /** Hash each application references on the agent, as far as the hub knows. */
  private readonly appBundle = new Map<string, string>();
  private ready = false;
  /**
   * The applications the agent said it holds in its last Hello, until the dispatcher has dropped
   * the removal notes of the others (it does so for all sessions of a round at once).
   */
  helloInventory: string[] | undefined;
  closed = false;
  /** Writes waiting for the stream to drain (released when it ends). */
  private readonly drainWaiters = new Set<() => void>();

  constructor(
    readonly clusterId: string,
    readonly clusterName: string,
    private readonly call: ServerDuplexStream<AgentMessage, HubMessage>,
    private readonly deps: SessionDeps,
    /** The client certificate the stream was opened with (mTLS), checked again while it lasts. */
    readonly credential?: { serial: string; notAfter: Date },
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
        assertAppId(m.value.appId);
        this.deps.writer.status(statusRow(this.clusterId, m.value));
        return;
      case 'heartbeat':
        this.seen();
        return;
      case 'events':
        return this.onEvents(m.value);
      case 'needBundle':
        return this.onNeedBundle(m.value);
      case 'clusterInfo':
        // Checked (bounded, each entry's form) where it is stored; a refused report is logged.
        if (m.value.apiVersions.length > 100_000) throw new ProtocolError('cluster info too large');
        this.deps.host.clusterInfo(this, m.value);
        return;
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
    this.bundles.clear();
    this.appBundle.clear();
    for (const i of hello.inventory) {
      this.held.set(i.appId, { generation: i.generation, hash: i.bundleHash });
      this.reference(i.appId, i.bundleHash);
    }
    this.ready = true;
    this.helloInventory = hello.inventory.map((i) => i.appId);
    await this.write({
      msg: {
        $case: 'welcome',
        value: {
          session: randomId(),
          heartbeatIntervalSeconds: this.deps.heartbeatSeconds,
          cluster: this.clusterName,
          features: HUB_FEATURES,
        },
      },
    });
    this.seen(hello.agentVersion.slice(0, 64));
    this.log.log(
      `connected (agent ${hello.agentVersion || 'unknown'}, holds ${hello.inventory.length} app(s))`,
    );
    this.deps.host.request(this, true);
  }

  private seen(agentVersion?: string): void {
    this.deps.writer.agentSeen({
      clusterId: this.clusterId,
      connected: !this.closed,
      agentVersion,
      at: Date.now(),
    });
  }

  /** What the agent says happened: stored (bounded) for the application's history. */
  private onEvents(ev: Events): void {
    const events = ev.events.slice(0, 1000).filter((e) => UUID_RE.test(e.appId));
    if (ev.dropped > 0) this.log.warn(`agent dropped ${ev.dropped} event(s) while offline`);
    if (events.length === 0) return;
    const removed = events.filter((e) => e.reason === 'Removed').map((e) => e.appId);
    this.deps.writer.event(
      events.map((e) => ({
        appId: e.appId,
        clusterId: this.clusterId,
        at: e.atUnixMs || Date.now(),
        type: e.type.slice(0, 16) || 'Normal',
        reason: e.reason.slice(0, 64),
        message: e.message.slice(0, 2000),
        generation: e.generation,
        offline: e.offline,
      })),
    );
    // The removal's note goes once its events are written: events are kept only for what the hub
    // gave this cluster, and once the target is gone the note is what says so.
    if (removed.length)
      this.deps.writer.flush().then(
        () => this.deps.host.removed(this, removed),
        // Not written: the note stays (the agent's next Hello, no longer listing the apps, ends it).
        (e: unknown) => this.log.warn(`events of a removal not written: ${(e as Error).message}`),
      );
  }

  private onAck(ack: Ack): void {
    assertAppId(ack.appId);
    const held = this.held.get(ack.appId);
    if (!held || held.generation < ack.generation) {
      // Only the bundle sent with exactly this generation is known to be held; otherwise
      // unknown, so the next deploy carries its bundle again.
      const sent = this.sent.get(ack.appId);
      this.held.set(ack.appId, {
        generation: ack.generation,
        hash: sent && sent.generation === ack.generation ? sent.hash : '',
      });
    }
    this.deps.writer.ack({
      appId: ack.appId,
      clusterId: this.clusterId,
      generation: ack.generation,
    });
  }

  /** The agent lacks a bundle it was sent by hash: forget that it holds it, send it again. */
  private onNeedBundle(n: NeedBundle): void {
    assertAppId(n.appId);
    this.bundles.delete(n.bundleHash);
    for (const [app, hash] of this.appBundle) if (hash === n.bundleHash) this.appBundle.delete(app);
    const last = this.sent.get(n.appId);
    const held = this.held.get(n.appId);
    this.log.warn(
      `agent lacks bundle ${n.bundleHash.slice(0, 19)} for ${n.appId}; sending it again`,
    );
    const sentIt = last && last.generation === n.generation && last.hash === n.bundleHash;
    // It holds that generation (acknowledged, or listed in its Hello) but lost its bundle (a
    // damaged pack): it holds nothing usable, and takes the same generation again.
    const heldIt = held && held.generation === n.generation;
    if (sentIt || heldIt) {
      this.sent.delete(n.appId);
      if (heldIt) this.held.delete(n.appId);
      this.deps.host.request(this, true);
    }
  }

  /**
   * Sends what the agent lacks among `rows` (every target of the cluster when `full`, else the
   * pending ones) and, when `full`, removes what it holds that is no longer desired.
   */
  async deliver(
    rows: DeliveryRow[],
    notes: Map<string, { prune: boolean; held: boolean }>,
    full: boolean,
    ctx: DeliveryContext,
  ): Promise<void> {
    if (!this.ready || this.closed) return;
    const cluster = { name: this.clusterName, labels: ctx.labels };
    const desired = new Set<string>();
    for (const row of rows) {
      if (this.closed) return;
      desired.add(row.appId);
      let generation = row.generation;
      const held = this.held.get(row.appId);
      if (held && held.generation === generation && held.hash === row.bundleHash) continue;
      const sent = this.sent.get(row.appId);
      if (sent && sent.generation === generation && sent.hash === row.bundleHash) continue;
      // Stored generations only grow, but for a target removed and added again before this
      // session saw the removal (it starts again at 1) or a restored database: then the agent
      // holds, or was sent, a newer generation than the hub knows. Move past it so that the agent
      // accepts the desired state (skipped, the agent kept the old bundle and reported it applied).
      const ahead = Math.max(held?.generation ?? 0, sent?.generation ?? 0);
      if (ahead >= generation) {
        generation = ahead + 1;
        // Only if the row is still what this round read: a batch that wrote new content since
        // would otherwise have it labelled as delivered. Changed meanwhile (by a batch, or by the
        // session another replica still holds for this cluster, which sends no notice): read it
        // again in a round of its own.
        if (!(await this.deps.host.raiseGeneration(this, row, generation))) {
          this.deps.host.request(this, false);
          continue;
        }
      }
      if (this.refusedByProject(row, generation, cluster, ctx)) continue;
      const byHash = (this.bundles.get(row.bundleHash) ?? 0) > 0;
      const bundleGzip = byHash ? Buffer.alloc(0) : await ctx.bundle(row.bundleHash);
      const deploy: Deploy = {
        appId: row.appId,
        appName: row.appName,
        generation,
        revision: row.revision,
        bundleHash: row.bundleHash,
        bundleGzip,
        namespace: row.namespace,
        syncPolicy: boundedPolicy(row.policy, ctx.gate.clusterKinds(row.project)),
      };
      await this.write({ msg: { $case: 'deploy', value: deploy } });
      // Deploys are handled in order: from here on the agent holds this bundle.
      this.reference(row.appId, row.bundleHash);
      this.sent.set(row.appId, { generation, hash: row.bundleHash });
      this.deps.metrics.deploysSent.inc({
        cluster: this.clusterName,
        with_bundle: String(!byHash),
      });
      this.deps.metrics.bundleBytesSent.inc({ cluster: this.clusterName }, bundleGzip.length);
    }
    this.forgetRefusals(full, desired);
    // Removals: every held application no longer desired (full), or those with a removal note,
    // except those waiting for the removal of applications that depended on them.
    const gone = [...new Set([...this.held.keys(), ...this.sent.keys()])].filter(
      (id) => (full ? !desired.has(id) : notes.has(id)) && !notes.get(id)?.held,
    );
    for (const appId of gone) {
      if (this.closed) return;
      // Without a note (e.g. the cluster was dropped from the app's destinations) resources go.
      const prune = notes.get(appId)?.prune ?? true;
      await this.write({ msg: { $case: 'remove', value: { appId, prune } } });
      this.deps.metrics.removesSent.inc({ cluster: this.clusterName });
      this.held.delete(appId);
      this.sent.delete(appId);
      this.reference(appId, undefined);
    }
  }

  /**
   * The last hub-side project check, right before the manifests leave for the cluster. A refusal
   * is said once per generation, and looked at again by the dispatcher's recheck until the
   * project lets it through or the target changes.
   */
  private refusedByProject(
    row: DeliveryRow,
    generation: number,
    cluster: { name: string; labels: Record<string, string> },
    ctx: DeliveryContext,
  ): boolean {
    const violations = ctx.gate.check({
      project: row.project,
      // Its source too: a repository the project no longer allows stops what waits to go out.
      repoURL: row.repoURL,
      cluster,
      namespace: row.namespace,
      bundle: { hash: row.bundleHash, resources: ctx.resources.get(row.bundleHash) ?? [] },
    });
    if (violations.length === 0) {
      this.refused.delete(row.appId);
      return false;
    }
    if (this.refused.get(row.appId) !== generation) {
      this.log.warn(
        `not dispatching ${row.appName} generation ${generation}: ${violations.join('; ')}`,
      );
      this.deps.metrics.dispatchRefused.inc({ cluster: this.clusterName });
    }
    this.refused.set(row.appId, generation);
    return true;
  }

  /** After a full delivery: refusals of applications no longer desired here are forgotten. */
  private forgetRefusals(full: boolean, desired: Set<string>): void {
    if (!full) return;
    for (const appId of this.refused.keys()) if (!desired.has(appId)) this.refused.delete(appId);
  }

  /** Whether the project gate refused something this session was to send (see `refused`). */
  get hasRefused(): boolean {
    return this.refused.size > 0;
  }

  /** Records that application `appId` references `hash` on the agent (or nothing). */
  private reference(appId: string, hash: string | undefined): void {
    const prev = this.appBundle.get(appId);
    if (prev === hash) return;
    if (prev !== undefined) {
      const n = (this.bundles.get(prev) ?? 1) - 1;
      if (n > 0) this.bundles.set(prev, n);
      else this.bundles.delete(prev);
    }
    if (hash) {
      this.appBundle.set(appId, hash);
      this.bundles.set(hash, (this.bundles.get(hash) ?? 0) + 1);
    } else {
      this.appBundle.delete(appId);
    }
  }

  /**
   * Writes one message, waiting for the stream to drain when its buffer is full, or for the
   * stream to end: an agent that stopped reading never drains, and its delivery must end with
   * its stream rather than wait forever.
   */
  private write(msg: HubMessage): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.call.write(msg)) return resolve();
      const done = () => {
        this.call.off('drain', done);
        this.drainWaiters.delete(done);
        resolve();
      };
      this.call.once('drain', done);
      this.drainWaiters.add(done);
    });
  }

  /** The stream ended (the agent went, or the hub closed it): nothing more is written. */
  ended(): void {
    this.closed = true;
    for (const done of [...this.drainWaiters]) done();
  }

  close(code: GrpcStatus = GrpcStatus.UNAVAILABLE, details = 'session closed by the hub'): void {
    if (this.closed) return;
    this.ended();
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

/**
 * The policy a Deploy carries: the stored one, which carries the project's bound on
 * cluster-scoped kinds (toSyncPolicy) once its target was written since; one written before
 * (an application without automated sync, a suspended or rolled-out one) gets the project's
 * bound as it is now, so that no Deploy goes out unbounded.
 */
function boundedPolicy(
  policy: SyncPolicy,
  kinds: { group: string; kind: string }[] | undefined,
): SyncPolicy {
  if (policy.clusterKinds || !kinds) return policy;
  return { ...policy, clusterKinds: { items: kinds.map(({ group, kind }) => ({ group, kind })) } };
}
