import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { decompressBundle, type ResourceKey } from '../../../libs/manifests/src/index.js';
import { KeyedQueue } from '../../../libs/workqueue/src/keyed-queue.js';
import {
  HealthStatus,
  SyncStatus,
  type AppStatus,
  type Deploy,
  type HubMessage,
  type Remove,
} from '../../../libs/proto/gen/axle/agent/v1/agent.js';
import { AGENT_CONFIG, type AgentConfig } from './agent-config.js';
import { HubConnection } from './hub-connection.js';
import { Applier, type ApplyResult } from './kube/applier.js';
import { AxleObjectApi, loadKubeConfig } from './kube/object-api.js';
import { StateStore, type AppState } from './state-store.js';

/**
 * The agent: accepts desired state from the hub (persisted before it is acknowledged), applies
 * each app on its own queue (latest generation wins, never two applies of one app at once),
 * re-assesses on an interval, and reports status — kept while the hub is away, sent on reconnect.
 */
@Injectable()
export class Agent implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Agent');
  private readonly store: StateStore;
  private readonly applier: Applier;
  private readonly connection: HubConnection;
  private readonly queue: KeyedQueue<string>;
  /** Latest status per app, resent after every reconnect. */
  private readonly lastStatus = new Map<string, AppStatus>();
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(@Inject(AGENT_CONFIG) private readonly config: AgentConfig) {
    this.store = new StateStore(config.stateDir);
    this.applier = new Applier(
      AxleObjectApi.create(loadKubeConfig(config.kubeconfig)),
      config.fieldManager,
    );
    this.queue = new KeyedQueue<string>(
      (id) => this.reconcile(id),
      4,
      (id, e) => this.log.error(`app ${id}: ${(e as Error).stack ?? String(e)}`),
    );
    this.connection = new HubConnection(
      config.hubAddress,
      config.token,
      config.cluster,
      {
        inventory: () =>
          this.store
            .apps()
            .map((a) => ({ appId: a.appId, generation: a.generation, bundleHash: a.bundleHash })),
        onMessage: (m) => this.onMessage(m),
        onWelcome: () => {
          for (const s of this.lastStatus.values())
            this.connection.send({ msg: { $case: 'status', value: s } });
        },
      },
      config.backoff,
    );
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  start(): void {
    // Autonomy: whatever was desired before a restart is reconciled without waiting for the hub.
    for (const a of this.store.apps()) this.queue.enqueue(a.appId);
    this.connection.start();
    this.resyncTimer = setInterval(
      () => this.store.apps().forEach((a) => this.queue.enqueue(a.appId)),
      this.config.resyncSeconds * 1000,
    );
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.connection.stop();
    await this.queue.stop();
  }

  /** Waits until no apply is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  private async onMessage(msg: HubMessage): Promise<void> {
    const m = msg.msg;
    if (!m) return;
    switch (m.$case) {
      case 'deploy':
        return this.onDeploy(m.value);
      case 'remove':
        return this.onRemove(m.value);
      case 'syncNow':
        this.queue.enqueue(m.value.appId);
        return;
      case 'ping':
        this.connection.send({ msg: { $case: 'heartbeat', value: { sentAtUnixMs: Date.now() } } });
        return;
      case 'welcome':
        return;
    }
  }

  private async onDeploy(d: Deploy): Promise<void> {
    const current = this.store.get(d.appId);
    if (current && current.generation >= d.generation) {
      // Duplicate or stale delivery: acknowledge, change nothing.
      this.ack(d.appId, current.generation);
      return;
    }
    if (d.bundleGzip.length > 0) {
      decompressBundle(d.bundleGzip, d.bundleHash); // verify before storing
      await this.store.putBundle(d.bundleHash, d.bundleGzip);
    } else if (!this.store.hasBundle(d.bundleHash)) {
      throw new Error(
        `deploy of ${d.appName} generation ${d.generation} names bundle ${d.bundleHash}, which this agent lacks`,
      );
    }
    await this.store.put({
      appId: d.appId,
      appName: d.appName,
      generation: d.generation,
      revision: d.revision,
      bundleHash: d.bundleHash,
      namespace: d.namespace,
      policy: d.syncPolicy ?? { automated: true, prune: false, selfHeal: false },
      applied: current?.applied ?? null,
    });
    this.ack(d.appId, d.generation);
    this.queue.enqueue(d.appId);
  }

  private async onRemove(r: Remove): Promise<void> {
    await this.queue.idle();
    const app = this.store.get(r.appId);
    if (!app) return;
    if (r.prune && app.applied) {
      const errors = await this.applier.deleteAll(app.applied.resources);
      if (errors.length) this.log.warn(`removing ${app.appName}: ${errors.join('; ')}`);
    }
    await this.store.remove(r.appId);
    this.lastStatus.delete(r.appId);
    this.log.log(`removed ${app.appName}${r.prune ? ' and its resources' : ''}`);
  }

  private ack(appId: string, generation: number): void {
    this.connection.send({ msg: { $case: 'ack', value: { appId, generation } } });
  }

  /** Applies the stored desired state when it is newer than what was applied; else re-assesses. */
  private async reconcile(appId: string): Promise<void> {
    const app = this.store.get(appId);
    if (!app) return;
    const bundle = decompressBundle(await this.store.readBundle(app.bundleHash), app.bundleHash);
    const req = {
      appId,
      objects: bundle.objects,
      namespace: app.namespace,
      prune: app.policy.prune,
      previous: app.applied?.resources ?? [],
    };
    const needsApply = !app.applied || app.applied.generation < app.generation;
    let result: ApplyResult;
    if (needsApply) {
      result = await this.applier.apply(req);
      await this.store.put({
        ...app,
        applied: { generation: app.generation, resources: result.applied },
      });
      this.log.log(
        `${app.appName}: applied generation ${app.generation} (${result.sync}, ${result.health})`,
      );
    } else {
      result = await this.applier.assess(req);
      if (result.sync === 'OutOfSync' && app.policy.selfHeal) {
        result = await this.applier.apply(req);
        this.log.log(`${app.appName}: self-healed (${result.sync})`);
      }
    }
    this.report(app, result);
  }

  private report(app: AppState, r: ApplyResult): void {
    const status: AppStatus = {
      appId: app.appId,
      generation: app.generation,
      revision: app.revision,
      bundleHash: app.bundleHash,
      sync: SYNC[r.sync],
      health: HEALTH[r.health],
      message: r.message.slice(0, 4000),
      resources: r.resources.map((x) => ({
        ...keyFields(x.key),
        sync: SYNC[x.sync],
        health: HEALTH[x.health],
        message: (x.message ?? '').slice(0, 1000),
      })),
      observedAtUnixMs: Date.now(),
    };
    const prev = this.lastStatus.get(app.appId);
    this.lastStatus.set(app.appId, status);
    if (prev && sameStatus(prev, status)) return;
    this.connection.send({ msg: { $case: 'status', value: status } });
  }
}

function keyFields(k: ResourceKey) {
  return { group: k.group, version: k.version, kind: k.kind, namespace: k.namespace, name: k.name };
}

function sameStatus(a: AppStatus, b: AppStatus): boolean {
  return (
    JSON.stringify({ ...a, observedAtUnixMs: 0 }) === JSON.stringify({ ...b, observedAtUnixMs: 0 })
  );
}

const SYNC = {
  Synced: SyncStatus.SYNC_STATUS_SYNCED,
  OutOfSync: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
  Unknown: SyncStatus.SYNC_STATUS_UNKNOWN,
} as const;

const HEALTH = {
  Healthy: HealthStatus.HEALTH_STATUS_HEALTHY,
  Progressing: HealthStatus.HEALTH_STATUS_PROGRESSING,
  Degraded: HealthStatus.HEALTH_STATUS_DEGRADED,
  Suspended: HealthStatus.HEALTH_STATUS_SUSPENDED,
  Missing: HealthStatus.HEALTH_STATUS_MISSING,
  Unknown: HealthStatus.HEALTH_STATUS_UNKNOWN,
} as const;
