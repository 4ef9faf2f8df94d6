import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  decompressBundle,
  type Bundle,
  resourceId,
  type KubeObject,
  type ResourceKey,
} from '../../../libs/manifests/src/index.js';
import { KeyedQueue } from '../../../libs/workqueue/src/keyed-queue.js';
import {
  HealthStatus,
  SyncStatus,
  type AgentEvent,
  type AppStatus,
  type Deploy,
  type HubMessage,
  type Remove,
  type ResourceStatus,
  type SyncOperation,
  type SyncPolicy,
} from '../../../libs/proto/gen/axle/agent/v1/agent.js';
import { AGENT_CONFIG, type AgentConfig } from './agent-config.js';
import { ALLOW_ALL, checkAllowList } from './allow-list.js';
import { EventLog } from './events.js';
import { HubConnection, type Disconnect } from './hub-connection.js';
import { AgentIdentity } from './identity.js';
import { KubeClient, kubeError } from './kube/kube-client.js';
import { WatchCache, type WatchChange } from './kube/watch-cache.js';
import { assessApp, type Assessment } from './sync/assess.js';
import { SyncEngine, type AppInput, type EventType } from './sync/engine.js';
import { appSyncOptions, retryPolicy, type SyncPolicyState } from './sync/options.js';
import { buildPlan } from './sync/plan.js';
import { healDueAt, recordHeal } from './sync/self-heal.js';
import { agentSelector, APP_LABEL, keyRef } from './sync/resources.js';
import { AppRuntime, type AppReport, type OperationSummary } from './sync/runtime.js';
import { StateStore, type AppState } from './state-store.js';

/** Diff bytes per status report, beyond which diffs are left out (drifted stays set). */
const DIFF_BUDGET_CHARS = 256 * 1024;
/** An operation waiting for health or hooks is re-checked at least this often. */
const WAIT_RECHECK_MS = 5_000;

/**
 * The agent: accepts desired state from the hub (persisted before it is acknowledged), syncs each
 * app on its own queue (waves, hooks, prune, retries), watches what it manages, reports drift
 * field by field and heals it with backoff — and keeps doing all that while the hub is away.
 */
@Injectable()
export class Agent implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Agent');
  private readonly store: StateStore;
  private readonly client: KubeClient;
  private readonly watches: WatchCache;
  private readonly engine: SyncEngine;
  private readonly connection: HubConnection;
  private readonly queue: KeyedQueue<string>;
  private readonly runtimes = new Map<string, AppRuntime>();
  /** Latest status per app, resent after every reconnect. */
  private readonly lastStatus = new Map<string, AppStatus>();
  private readonly removals = new Map<string, { prune: boolean; done: () => void }>();
  private readonly bundles = new Map<string, KubeObject[]>();
  /** Past this many bundles in memory, those no stored app uses are forgotten (amortised). */
  private bundlesPruneAt = 64;
  private outgoingEvents: AgentEvent[] = [];
  private readonly eventLog: EventLog;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** What the connected hub understands beyond the 0.1 protocol (Welcome.features). */
  private hubFeatures = new Set<string>();
  private readonly selfHeal: { delayMs: number; maxDelayMs: number };

  constructor(@Inject(AGENT_CONFIG) private readonly config: AgentConfig) {
    this.store = new StateStore(config.stateDir);
    this.client = KubeClient.fromKubeconfig(config.kubeconfig);
    this.eventLog = new EventLog(config.eventBuffer ?? 500);
    this.selfHeal = config.selfHeal ?? { delayMs: 1000, maxDelayMs: 300_000 };
    this.watches = new WatchCache(this.client, {
      labelSelector: agentSelector(config.cluster),
      onChange: (c) => this.onWatch(c),
    });
    this.engine = new SyncEngine(
      this.client,
      this.watches,
      {
        saveInventory: (appId, keys) => this.saveApplied(appId, undefined, keys),
        markApplied: (appId, generation) => this.saveApplied(appId, generation, undefined),
        event: (appId, type, reason, message, generation) =>
          this.event(appId, type, reason, message, generation),
      },
      {
        fieldManager: config.fieldManager,
        applyConcurrency: config.applyConcurrency ?? 16,
        agentName: config.cluster,
      },
    );
    this.queue = new KeyedQueue<string>(
      (id) => this.reconcile(id),
      4,
      (id, e) => this.log.error(`app ${id}: ${(e as Error).stack ?? String(e)}`),
    );
    if (!config.token && !config.mtls) throw new Error('the agent needs a token or mTLS settings');
    this.connection = new HubConnection(
      config.hubAddress,
      config.token
        ? { token: config.token }
        : {
            identity: new AgentIdentity({
              stateDir: config.stateDir,
              cluster: config.cluster,
              caPem: config.mtls!.caPem,
              enrollAddress: config.mtls!.enrollAddress,
              hubAddress: config.hubAddress.split(',')[0],
              bootstrapToken: config.mtls!.bootstrapToken,
            }),
            renewCheckMs: (config.mtls!.renewCheckSeconds ?? 60) * 1000,
          },
      config.cluster,
      {
        // An app whose bundle is gone (damaged store) is reported as held at no generation:
        // the hub sends it again, with its bytes.
        inventory: () =>
          this.store
            .apps()
            .map((a) =>
              this.holds(a.bundleHash)
                ? { appId: a.appId, generation: a.generation, bundleHash: a.bundleHash }
                : { appId: a.appId, generation: 0, bundleHash: '' },
            ),
        onMessage: (m) => this.onMessage(m),
        onWelcome: (w) => this.onWelcome(w.features),
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
    for (const a of this.store.apps()) {
      // Objects applied by an older agent lack the agent label: apply them once more.
      if (this.store.upgraded) this.runtime(a.appId).syncRequested = true;
      this.queue.enqueue(a.appId);
    }
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
    for (const rt of this.runtimes.values()) rt.dispose();
    await this.queue.stop();
    this.watches.stop();
    this.client.close();
    await this.store.close();
  }

  /** Waits until no sync is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  /** How the last hub stream ended (e.g. refused: UNAUTHENTICATED), for operators and tests. */
  get lastDisconnect(): Disconnect | undefined {
    return this.connection.lastDisconnect;
  }

  /** The latest status of an app, as last reported (or held for the hub). */
  status(appId: string): AppStatus | undefined {
    return this.lastStatus.get(appId);
  }

  /** What the agent holds per app (desired generation, policy, inventory), for tools and tests. */
  apps(): AppState[] {
    return this.store.apps().map((a) => structuredClone(a));
  }

  /** Recent events (bounded), optionally of one app. */
  events(appId?: string): AgentEvent[] {
    return this.eventLog.recent(appId);
  }

  /** Handles a hub message as if it came over the stream (tests, tools). */
  deliver(msg: HubMessage): Promise<void> {
    return this.onMessage(msg);
  }

  private onWelcome(features: string[]): void {
    this.hubFeatures = new Set(features);
    for (const s of this.lastStatus.values()) {
      this.connection.send({ msg: { $case: 'status', value: s } });
    }
    const { events, dropped } = this.eventLog.takeUnsent();
    if (events.length || dropped) {
      const ok = this.connection.send({ msg: { $case: 'events', value: { events, dropped } } });
      if (!ok) this.eventLog.giveBack(events, dropped);
    }
  }

  private event(
    appId: string,
    type: EventType,
    reason: string,
    message: string,
    generation: number,
  ): void {
    const offline = !this.connection.connected;
    const ev = this.eventLog.record({ appId, type, reason, message, offline, generation });
    const name = this.store.get(appId)?.appName ?? appId;
    this.log[type === 'Warning' ? 'warn' : 'log'](`${name}: ${reason}: ${message}`);
    if (offline) return;
    // Events of the same moment (a sync's start and end, many apps at once) travel together.
    this.outgoingEvents.push(ev);
    if (this.outgoingEvents.length === 1) setImmediate(() => this.sendEvents());
  }

  private sendEvents(): void {
    const events = this.outgoingEvents;
    this.outgoingEvents = [];
    if (events.length === 0) return;
    const sent =
      this.connection.connected &&
      this.connection.send({ msg: { $case: 'events', value: { events, dropped: 0 } } });
    if (!sent)
      this.eventLog.giveBack(
        events.map((e) => ({ ...e, offline: true })),
        0,
      );
  }

  private onWatch(c: WatchChange): void {
    const appId = c.object.metadata.labels?.[APP_LABEL];
    if (appId && this.store.get(appId)) this.queue.enqueue(appId);
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
        this.runtime(m.value.appId).syncRequested = true;
        this.queue.enqueue(m.value.appId);
        return;
      case 'ping':
        this.connection.send({ msg: { $case: 'heartbeat', value: { sentAtUnixMs: Date.now() } } });
        return;
      case 'welcome':
        return;
    }
  }

  private onDeploy(d: Deploy): void {
    const current = this.store.get(d.appId);
    if (
      current &&
      (current.generation > d.generation ||
        (current.generation === d.generation && this.holds(current.bundleHash)))
    ) {
      // Duplicate or stale delivery: acknowledge, change nothing.
      this.ack(d.appId, current.generation);
      return;
    }
    const bundle =
      d.bundleGzip.length > 0
        ? decompressBundle(d.bundleGzip, d.bundleHash) // verify before storing
        : this.storedBundle(d.bundleHash);
    if (!bundle) {
      if (!this.hubFeatures.has('need-bundle')) {
        throw new Error(
          `deploy of ${d.appName} generation ${d.generation} names bundle ${d.bundleHash}, which this agent lacks`,
        );
      }
      // Sent by hash alone, and this agent lacks it: ask for the bytes (the hub resends).
      this.log.warn(
        `${d.appName}: bundle ${d.bundleHash.slice(0, 19)} missing here; asking the hub`,
      );
      this.connection.send({
        msg: {
          $case: 'needBundle',
          value: { appId: d.appId, generation: d.generation, bundleHash: d.bundleHash },
        },
      });
      return;
    }
    // Keep the bundle whatever happens next: the hub may later send the same bundle without its
    // content (a namespace change, say) and expects this agent to have it.
    if (d.bundleGzip.length > 0) this.store.putBundle(d.bundleHash, d.bundleGzip);
    // The sync that follows needs the objects: keep them rather than read them back.
    this.rememberBundle(d.bundleHash, bundle.objects);
    // The cluster's own allow-list: refused deploys are acknowledged (so they are not resent)
    // but not applied; what runs stays as it is.
    const refused = checkAllowList(this.config.allowList ?? ALLOW_ALL, bundle.objects, d.namespace);
    if (refused.length) {
      const message = `refused by this cluster's allow-list: ${refused.join('; ')}`;
      this.event(d.appId, 'Warning', 'SyncRefused', message, d.generation);
      this.ack(d.appId, d.generation);
      this.connection.send({
        msg: {
          $case: 'status',
          value: {
            ...(this.lastStatus.get(d.appId) ?? emptyStatus(d.appId)),
            sync: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
            message: message.slice(0, 4000),
            observedAtUnixMs: Date.now(),
          },
        },
      });
      return;
    }
    // Accepted: from here on the app is synced towards this generation. It is acknowledged once
    // stored on disk; a burst of deploys shares its writes (the next message is handled while
    // this one is written). The bundle file was written first, so the state never names a
    // bundle that is not stored.
    const stored = this.store.put({
      appId: d.appId,
      appName: d.appName,
      generation: d.generation,
      revision: d.revision,
      bundleHash: d.bundleHash,
      namespace: d.namespace,
      policy: policyState(d.syncPolicy),
      applied: this.store.get(d.appId)?.applied ?? null,
    });
    this.queue.enqueue(d.appId);
    stored.then(
      () => this.ack(d.appId, d.generation),
      (e: unknown) => this.log.error(`storing ${d.appName}: ${(e as Error).message}`),
    );
  }

  /** Removal runs on the app's queue (never concurrently with its sync); waits until done. */
  private onRemove(r: Remove): Promise<void> {
    if (!this.store.get(r.appId)) return Promise.resolve();
    return new Promise((done) => {
      this.removals.set(r.appId, { prune: r.prune, done });
      this.queue.enqueue(r.appId);
    });
  }

  private ack(appId: string, generation: number): void {
    this.connection.send({ msg: { $case: 'ack', value: { appId, generation } } });
  }

  private runtime(appId: string): AppRuntime {
    let rt = this.runtimes.get(appId);
    if (!rt) {
      rt = new AppRuntime(appId);
      this.runtimes.set(appId, rt);
    }
    return rt;
  }

  /**
   * A bundle this agent holds: in memory, or read from disk and verified against its hash. A file
   * that does not match (torn by a crash while it was written) is dropped: undefined, as if absent.
   */
  private storedBundle(hash: string): Pick<Bundle, 'objects'> | undefined {
    const objects = this.bundles.get(hash);
    if (objects) return { objects };
    if (!this.store.hasBundle(hash)) return undefined;
    try {
      return decompressBundle(this.store.readBundle(hash), hash);
    } catch (e) {
      this.log.warn(
        `stored bundle ${hash.slice(0, 19)} unreadable, dropped: ${(e as Error).message}`,
      );
      this.store.dropBundle(hash);
      return undefined;
    }
  }

  private holds(hash: string): boolean {
    return this.bundles.has(hash) || this.store.hasBundle(hash);
  }

  /** The objects of the bundle an app holds (throws when it is gone or damaged). */
  private bundleObjects(app: AppState): KubeObject[] {
    const hash = app.bundleHash;
    const held = this.storedBundle(hash);
    if (!held) {
      // Ask the hub for it now (or it learns at the next Hello; see inventory).
      const ask = this.connection.connected && this.hubFeatures.has('need-bundle');
      if (ask) {
        this.connection.send({
          msg: {
            $case: 'needBundle',
            value: { appId: app.appId, generation: app.generation, bundleHash: hash },
          },
        });
      }
      throw new Error(
        `bundle ${hash} is not held here; ${ask ? 'asked the hub for it' : 'the hub resends it at the next connection'}`,
      );
    }
    this.rememberBundle(hash, held.objects);
    return held.objects;
  }

  /** Keeps a bundle's objects in memory, with those of the bundles stored apps use. */
  private rememberBundle(hash: string, objects: KubeObject[]): void {
    this.bundles.set(hash, objects);
    if (this.bundles.size <= this.bundlesPruneAt) return;
    // Looking at every app on every deploy would be quadratic: only when the map has doubled.
    const used = new Set(this.store.apps().map((a) => a.bundleHash));
    for (const h of this.bundles.keys()) if (h !== hash && !used.has(h)) this.bundles.delete(h);
    this.bundlesPruneAt = Math.max(64, 2 * this.bundles.size);
  }

  /** Updates only the `applied` part of an app's stored state (never a stale copy of the rest). */
  private async saveApplied(
    appId: string,
    generation: number | undefined,
    resources: ResourceKey[] | undefined,
  ): Promise<void> {
    const app = this.store.get(appId);
    if (!app) return;
    await this.store.put({
      ...app,
      applied: {
        generation: generation ?? app.applied?.generation ?? 0,
        resources: resources ?? app.applied?.resources ?? [],
      },
    });
  }

  private input(app: AppState): AppInput {
    return {
      appId: app.appId,
      appName: app.appName,
      generation: app.generation,
      namespace: app.namespace,
      policy: app.policy,
      options: appSyncOptions(app.policy, this.config.observeOnly),
      inventory: app.applied?.resources ?? [],
    };
  }

  /** One pass over an app: remove it, or sync it when needed, then assess, heal and report. */
  private async reconcile(appId: string): Promise<void> {
    const removal = this.removals.get(appId);
    if (removal) return this.remove(appId, removal);
    const app = this.store.get(appId);
    if (!app) return;
    const rt = this.runtime(appId);
    const objects = this.bundleObjects(app);
    const planKey = `${app.bundleHash}|${app.namespace}|${JSON.stringify(app.policy)}`;
    if (rt.planKey !== planKey) rt.resetPlan(planKey, buildPlan(objects));
    const input = this.input(app);
    this.watchKinds(rt, input);
    const enqueue = () => this.queue.enqueue(appId);

    if (!input.options.observeOnly) await this.maybeSync(rt, app, input, enqueue);
    let a = await assessApp(this.engine, rt, input);
    await this.forget(appId, input, a.gone);
    this.noteDrift(rt, input, a);
    if (await this.maybeHeal(rt, app, input, a, enqueue)) {
      a = await assessApp(this.engine, rt, input);
    }
    if (rt.op) rt.wakeAt(Date.now() + WAIT_RECHECK_MS, enqueue);
    this.report(app, a.report);
  }

  private async maybeSync(
    rt: AppRuntime,
    app: AppState,
    input: AppInput,
    enqueue: () => void,
  ): Promise<void> {
    const behind = (app.applied?.generation ?? 0) < app.generation;
    if (!rt.op && !behind && !rt.syncRequested) return;
    if (!rt.op && Date.now() < rt.retryAt) {
      rt.wakeAt(rt.retryAt, enqueue);
      return;
    }
    if (!rt.op || rt.op.generation !== app.generation) {
      this.engine.startOperation(rt, input, !behind);
    }
    rt.syncRequested = false;
    const outcome = await this.engine.runOperation(rt, input);
    if (outcome === 'failed' && rt.retryAt) rt.wakeAt(rt.retryAt, enqueue);
  }

  /** Drops inventory entries whose objects are gone (pruned, or deleted by someone). */
  private async forget(appId: string, input: AppInput, gone: ResourceKey[]): Promise<void> {
    if (gone.length === 0) return;
    const ids = new Set(gone.map(resourceId));
    input.inventory = input.inventory.filter((k) => !ids.has(resourceId(k)));
    await this.saveApplied(appId, undefined, input.inventory);
  }

  private watchKinds(rt: AppRuntime, input: AppInput): void {
    const kinds = new Map<string, { apiVersion: string; kind: string }>();
    for (const item of [...rt.plan.resources, ...rt.plan.hooks]) {
      kinds.set(`${item.raw.apiVersion}/${item.raw.kind}`, item.raw);
    }
    for (const k of input.inventory) {
      const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
      kinds.set(`${apiVersion}/${k.kind}`, { apiVersion, kind: k.kind });
    }
    this.watches.use(input.appId, [...kinds.values()]);
  }

  /** Records a DriftDetected event when the set of drifted resources changes. */
  private noteDrift(rt: AppRuntime, input: AppInput, a: Assessment): void {
    const drifted = a.report.resources.filter((r) => r.drifted);
    const key = drifted.map((r) => `${resourceId(r.key)}:${r.message}`).join('|');
    if (key === rt.lastDrift) return;
    rt.lastDrift = key;
    if (drifted.length === 0) return;
    const what = drifted
      .slice(0, 5)
      .map((r) => `${keyRef(r.key)}: ${r.message}`)
      .join('; ');
    this.event(input.appId, 'Warning', 'DriftDetected', what, input.generation);
  }

  /** Self-heal with backoff (see healDueAt). Returns whether it healed. */
  private async maybeHeal(
    rt: AppRuntime,
    app: AppState,
    input: AppInput,
    a: Assessment,
    enqueue: () => void,
  ): Promise<boolean> {
    const h = rt.heal;
    if (
      input.options.observeOnly ||
      !app.policy.selfHeal ||
      rt.op ||
      (app.applied?.generation ?? 0) < app.generation ||
      a.healIds.size === 0
    ) {
      if (a.healIds.size === 0) h.driftSince = 0;
      return false;
    }
    const due = healDueAt(h, Date.now(), this.selfHeal);
    if (Date.now() < due) {
      rt.wakeAt(due, enqueue);
      return false;
    }
    const drifted = a.report.resources.filter((r) => a.healIds.has(resourceId(r.key)));
    const failures = await this.engine.heal(rt, input, a.healIds);
    recordHeal(h, Date.now());
    const what = drifted
      .slice(0, 5)
      .map((r) => `${keyRef(r.key)} (${r.message})`)
      .join('; ');
    if (failures.length) {
      this.event(
        input.appId,
        'Warning',
        'SelfHealFailed',
        `${failures.map((f) => `${f.ref}: ${f.message}`).join('; ')}`,
        input.generation,
      );
    } else {
      this.event(input.appId, 'Normal', 'SelfHealed', `re-applied ${what}`, input.generation);
    }
    return true;
  }

  private async remove(appId: string, r: { prune: boolean; done: () => void }): Promise<void> {
    this.removals.delete(appId);
    try {
      const app = this.store.get(appId);
      if (!app) return;
      const rt = this.runtime(appId);
      const input = this.input(app);
      // Observe-only deletes nothing, not even when the app goes away.
      const prune = r.prune && !input.options.observeOnly;
      if (prune) {
        const error = await this.engine.removeApp(rt, input);
        if (error) this.log.warn(`removing ${app.appName}: ${error}`);
      }
      rt.dispose();
      this.runtimes.delete(appId);
      this.watches.release(appId);
      await this.store.remove(appId);
      this.lastStatus.delete(appId);
      this.event(
        appId,
        'Normal',
        'Removed',
        `${app.appName} removed${prune ? ' with its resources' : '; its resources were kept'}`,
        app.generation,
      );
    } catch (e) {
      this.log.error(`removing ${appId}: ${kubeError(e).message}`);
    } finally {
      r.done();
    }
  }

  private report(app: AppState, r: AppReport): void {
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
        sync: SYNC[x.sync],
        health: HEALTH[x.health],
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
      sync: SYNC[r.sync],
      health: HEALTH[r.health],
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
    this.connection.send({ msg: { $case: 'status', value: status } });
  }
}

/** The wire policy as the agent stores it (absent fields mean their defaults). */
export function policyState(p: SyncPolicy | undefined): SyncPolicyState {
  if (!p) return { automated: true, prune: false, selfHeal: false };
  const s: SyncPolicyState = { automated: p.automated, prune: p.prune, selfHeal: p.selfHeal };
  if (p.syncOptions?.items.length) s.syncOptions = [...p.syncOptions.items];
  if (p.retry) s.retry = retryPolicy(p.retry);
  if (p.observeOnly) s.observeOnly = true;
  if (p.ignoreDifferences?.items.length) {
    s.ignoreDifferences = p.ignoreDifferences.items.map((i) => ({
      group: i.group,
      kind: i.kind,
      name: i.name,
      namespace: i.namespace,
      jsonPointers: [...i.jsonPointers],
      managedFieldsManagers: [...i.managedFieldsManagers],
    }));
  }
  return s;
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
