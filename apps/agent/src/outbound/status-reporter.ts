import { Logger } from '@nestjs/common';
import {
  SyncStatus,
  HealthStatus,
  type AgentEvent,
  type AgentMessage,
  type AppStatus,
  type ClusterInfo,
  type ResourceStatus,
  type SyncOperation,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { encodeHealth, encodeSync } from '../../../../libs/proto/src/codec.js';
import { EventLog } from '../events.js';
import type { EventType } from '../sync/types.js';
import type { AppReport, OperationSummary } from '../sync/runtime.js';

/** Diff bytes per status report, beyond which diffs are left out (drifted stays set). */
const DIFF_BUDGET_CHARS = 256 * 1024;

/** The agent's way out to the hub: the stream while it is open (see HubConnection). */
export interface HubLink {
  readonly connected: boolean;
  /** Sends on the open stream; false when there is none (nothing is queued). */
  send(msg: AgentMessage): boolean;
}

/** What the app is called, for logs (its id when the agent no longer holds it). */
export type AppNames = (appId: string) => string;

/**
 * Everything the agent tells the hub: acks, status reports (each app's latest kept and resent on
 * every reconnect, an unchanged one not sent again), events (kept in a bounded log while the hub
 * is away, sent in batches), bundle requests and heartbeats. The wire mapping of reports lives
 * here; states go through the one codec in libs/proto.
 */
export class StatusReporter {
  private readonly log = new Logger('Agent');
  /** Latest status per app, resent after every reconnect. */
  private readonly lastStatus = new Map<string, AppStatus>();
  private readonly eventLog: EventLog;
  private outgoingEvents: AgentEvent[] = [];

  constructor(
    private readonly hub: HubLink,
    private readonly names: AppNames,
    eventBuffer: number,
  ) {
    this.eventLog = new EventLog(eventBuffer);
  }

  /** After the hub welcomed this agent: every app's latest status, and the events it missed. */
  resend(): void {
    for (const s of this.lastStatus.values()) this.send({ $case: 'status', value: s });
    const { events, dropped } = this.eventLog.takeUnsent();
    if (events.length || dropped) {
      if (!this.send({ $case: 'events', value: { events, dropped } }))
        this.eventLog.giveBack(events, dropped);
    }
  }

  ack(appId: string, generation: number): void {
    this.send({ $case: 'ack', value: { appId, generation } });
  }

  needBundle(appId: string, generation: number, bundleHash: string): void {
    this.send({ $case: 'needBundle', value: { appId, generation, bundleHash } });
  }

  /** What the cluster's API server serves; false when there is no stream to send it on. */
  clusterInfo(info: ClusterInfo): boolean {
    return this.send({ $case: 'clusterInfo', value: info });
  }

  heartbeat(): void {
    this.send({ $case: 'heartbeat', value: { sentAtUnixMs: Date.now() } });
  }

  /**
   * An app refused by this cluster's allow-list: out of sync, saying why, over its last status,
   * or before any, over what the agent holds (`held`; a report of generation 0 is older than
   * anything the hub stored, and was ignored). Kept as its last status: resent when the hub
   * welcomes the agent again.
   */
  refused(
    appId: string,
    message: string,
    held?: { generation: number; revision: string; bundleHash: string },
  ): void {
    const base = this.lastStatus.get(appId) ?? {
      ...emptyStatus(appId),
      ...(held
        ? { generation: held.generation, revision: held.revision, bundleHash: held.bundleHash }
        : {}),
    };
    const status: AppStatus = {
      ...base,
      sync: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
      message: message.slice(0, 4000),
      observedAtUnixMs: Date.now(),
    };
    this.lastStatus.set(appId, status);
    this.send({ $case: 'status', value: status });
  }

  event(appId: string, type: EventType, reason: string, message: string, generation: number): void {
    const offline = !this.hub.connected;
    const ev = this.eventLog.record({ appId, type, reason, message, offline, generation });
    this.log[type === 'Warning' ? 'warn' : 'log'](`${this.names(appId)}: ${reason}: ${message}`);
    if (offline) return;
    // Events of the same moment (a sync's start and end, many apps at once) travel together.
    this.outgoingEvents.push(ev);
    if (this.outgoingEvents.length === 1) setImmediate(() => this.sendEvents());
  }

  /** An app's status from its assessment; sent unless it equals the last one. */
  report(
    app: { appId: string; generation: number; revision: string; bundleHash: string },
    r: AppReport,
  ): void {
    let budget = DIFF_BUDGET_CHARS;
    const resources: ResourceStatus[] = r.resources.map((x) => {
      const size = x.diffs.reduce(
        (n, d) => n + d.path.length + d.desired.length + d.live.length,
        0,
      );
      const diffs = size <= budget ? x.diffs : [];
      budget -= size;
      return {
        group: x.key.group,
        version: x.key.version,
        kind: x.key.kind,
        namespace: x.key.namespace,
        name: x.key.name,
        sync: encodeSync(x.sync),
        health: encodeHealth(x.health),
        message: x.message.slice(0, 1000),
        drifted: x.drifted,
        diffs,
        requiresPruning: x.requiresPruning,
        syncWave: x.wave,
      };
    });
    const status: AppStatus = {
      appId: app.appId,
      generation: app.generation,
      revision: app.revision,
      bundleHash: app.bundleHash,
      sync: encodeSync(r.sync),
      health: encodeHealth(r.health),
      message: r.message.slice(0, 4000),
      resources,
      observedAtUnixMs: Date.now(),
      drifted: r.drifted,
      operation: r.operation ? operationStatus(r.operation) : undefined,
      observeOnly: r.observeOnly,
    };
    const prev = this.lastStatus.get(app.appId);
    this.lastStatus.set(app.appId, status);
    if (prev && sameStatus(prev, status)) return;
    this.send({ $case: 'status', value: status });
  }

  /** The app is gone: its status is no longer resent. */
  forget(appId: string): void {
    this.lastStatus.delete(appId);
  }

  status(appId: string): AppStatus | undefined {
    return this.lastStatus.get(appId);
  }

  events(appId?: string): AgentEvent[] {
    return this.eventLog.recent(appId);
  }

  private send(msg: NonNullable<AgentMessage['msg']>): boolean {
    return this.hub.send({ msg });
  }

  private sendEvents(): void {
    const events = this.outgoingEvents;
    this.outgoingEvents = [];
    if (events.length === 0) return;
    const sent =
      this.hub.connected && this.send({ $case: 'events', value: { events, dropped: 0 } });
    if (!sent)
      this.eventLog.giveBack(
        events.map((e) => ({ ...e, offline: true })),
        0,
      );
  }
}

function operationStatus(o: OperationSummary): SyncOperation {
  return {
    phase: o.phase,
    message: o.message.slice(0, 2000),
    generation: o.generation,
    startedAtUnixMs: o.startedAt,
    finishedAtUnixMs: o.finishedAt,
    retryCount: o.retryCount,
    nextRetryAtUnixMs: o.nextRetryAt,
    hooks: o.hooks.slice(0, 100).map((h) => ({
      kind: h.key?.kind ?? h.item.raw.kind,
      namespace: h.key?.namespace ?? '',
      name: h.key?.name ?? h.item.raw.metadata.name,
      hookType: h.type,
      phase: h.phase,
      message: h.message.slice(0, 500),
    })),
  };
}

function sameStatus(a: AppStatus, b: AppStatus): boolean {
  return (
    JSON.stringify({ ...a, observedAtUnixMs: 0 }) === JSON.stringify({ ...b, observedAtUnixMs: 0 })
  );
}

/** A status for an app the agent has not applied yet. */
function emptyStatus(appId: string): AppStatus {
  return {
    appId,
    generation: 0,
    revision: '',
    bundleHash: '',
    sync: SyncStatus.SYNC_STATUS_UNKNOWN,
    health: HealthStatus.HEALTH_STATUS_UNKNOWN,
    message: '',
    resources: [],
    observedAtUnixMs: Date.now(),
    drifted: false,
    operation: undefined,
    observeOnly: false,
  };
}
