import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type {
  AgentEvent,
  AppStatus,
  HubMessage,
} from '../../../libs/proto/gen/axle/agent/v1/agent.js';
import { AGENT_CONFIG, type AgentConfig } from './agent-config.js';
import { ALLOW_ALL } from './allow-list.js';
import { BundleCache } from './bundle-cache.js';
import { HubConnection, type Disconnect } from './hub-connection.js';
import { AgentIdentity } from './identity.js';
import { HubInbound } from './inbound/hub-inbound.js';
import { KubeClient } from './kube/kube-client.js';
import { WatchCache } from './kube/watch-cache.js';
import { ClusterInfoReporter } from './outbound/cluster-info.js';
import { StatusReporter } from './outbound/status-reporter.js';
import { AppReconciler } from './reconcile/app-reconciler.js';
import { agentSelector } from './sync/resources.js';
import { SyncEngine } from './sync/engine.js';
import { StateStore, type AppState } from './state-store.js';

/** The agent's clients: the cluster's API, its state directory, its stream to the hub. */
export interface AgentClients {
  kube: KubeClient;
  store: StateStore;
  hub: HubConnection;
}

export const AGENT_CLIENTS = Symbol('AGENT_CLIENTS');

/** The real clients for a configuration (what AgentModule provides). */
export function createAgentClients(config: AgentConfig): AgentClients {
  if (!config.token && !config.mtls) throw new Error('the agent needs a token or mTLS settings');
  return {
    kube: KubeClient.fromKubeconfig(config.kubeconfig),
    store: new StateStore(config.stateDir),
    hub: new HubConnection(
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
      config.backoff,
    ),
  };
}

/**
 * The agent: accepts desired state from the hub (persisted before it is acknowledged), syncs each
 * app on its own queue (waves, hooks, prune, retries), watches what it manages, reports drift
 * field by field and heals it with backoff — and keeps doing all that while the hub is away.
 *
 * Split by direction, as argocd-agent is: HubInbound handles what the hub sends, AppReconciler
 * reconciles and heals, StatusReporter tells the hub. This class only wires them to the injected
 * clients and runs their lifecycle.
 */
@Injectable()
export class Agent implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly store: StateStore;
  private readonly kube: KubeClient;
  private readonly hub: HubConnection;
  private readonly watches: WatchCache;
  private readonly bundles: BundleCache;
  private readonly reporter: StatusReporter;
  private readonly reconciler: AppReconciler;
  private readonly inbound: HubInbound;
  private readonly clusterInfo: ClusterInfoReporter;

  constructor(
    @Inject(AGENT_CONFIG) config: AgentConfig,
    @Optional() @Inject(AGENT_CLIENTS) clients: AgentClients = createAgentClients(config),
  ) {
    ({ store: this.store, kube: this.kube, hub: this.hub } = clients);
    this.bundles = new BundleCache(this.store);
    this.reporter = new StatusReporter(
      this.hub,
      (appId) => this.store.get(appId)?.appName ?? appId,
      config.eventBuffer ?? 500,
    );
    this.clusterInfo = new ClusterInfoReporter(this.kube, (i) => this.reporter.clusterInfo(i), {
      intervalMs: (config.discoverySeconds ?? 300) * 1000,
    });
    this.watches = new WatchCache(this.kube, {
      labelSelector: agentSelector(config.cluster),
      onChange: (c) => {
        // A CRD or an aggregated API of ours changed: what the server serves may have too.
        if (servesApis(c.object)) this.clusterInfo.soon();
        this.reconciler.onWatch(c);
      },
    });
    const engine = new SyncEngine(
      this.kube,
      this.watches,
      {
        saveInventory: (appId, keys) => this.reconciler.saveApplied(appId, undefined, keys),
        markApplied: (appId, generation, outcome) =>
          this.reconciler.saveApplied(appId, generation, undefined, outcome),
        event: (appId, type, reason, message, generation) =>
          this.reporter.event(appId, type, reason, message, generation),
      },
      {
        fieldManager: config.fieldManager,
        applyConcurrency: config.applyConcurrency ?? 16,
        agentName: config.cluster,
        pruneHold: config.pruneHold,
        allowList: config.allowList ?? ALLOW_ALL,
      },
    );
    this.reconciler = new AppReconciler(
      this.store,
      this.bundles,
      this.watches,
      engine,
      this.reporter,
      (app) => this.askBundle(app),
      {
        concurrency: 4,
        observeOnly: config.observeOnly,
        selfHeal: config.selfHeal ?? { delayMs: 1000, maxDelayMs: 300_000 },
        resyncSeconds: config.resyncSeconds,
        allowList: config.allowList ?? ALLOW_ALL,
      },
    );
    this.inbound = new HubInbound(
      this.store,
      this.bundles,
      this.reconciler,
      this.reporter,
      config.allowList ?? ALLOW_ALL,
      (apiVersion, kind) => engine.applier.namespaced(apiVersion, kind),
    );
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  start(): void {
    this.reconciler.start();
    this.hub.start({
      // An app whose bundle is gone (damaged store) is reported as held at no generation: the
      // hub sends it again, with its bytes.
      inventory: () =>
        this.store
          .apps()
          .map((a) =>
            this.bundles.holds(a.bundleHash)
              ? { appId: a.appId, generation: a.generation, bundleHash: a.bundleHash }
              : { appId: a.appId, generation: 0, bundleHash: '' },
          ),
      onMessage: (m) => this.inbound.handle(m),
      onWelcome: (w) => {
        this.inbound.welcomed(w.features);
        this.clusterInfo.welcomed(w.features);
      },
    });
  }

  async stop(): Promise<void> {
    this.clusterInfo.stop();
    this.hub.stop();
    await this.reconciler.stop();
    this.watches.stop();
    this.kube.close();
    await this.store.close();
  }

  /** Waits until no sync is queued or running. */
  idle(): Promise<void> {
    return this.reconciler.idle();
  }

  get connected(): boolean {
    return this.hub.connected;
  }

  /** How the last hub stream ended (e.g. refused: UNAUTHENTICATED), for operators and tests. */
  get lastDisconnect(): Disconnect | undefined {
    return this.hub.lastDisconnect;
  }

  /** The latest status of an app, as last reported (or held for the hub). */
  status(appId: string): AppStatus | undefined {
    return this.reporter.status(appId);
  }

  /** What the agent holds per app (desired generation, policy, inventory), for tools and tests. */
  apps(): AppState[] {
    return this.store.apps().map((a) => structuredClone(a));
  }

  /** Recent events (bounded), optionally of one app. */
  events(appId?: string): AgentEvent[] {
    return this.reporter.events(appId);
  }

  /** Handles a hub message as if it came over the stream (tests, tools). */
  deliver(msg: HubMessage): Promise<void> {
    return this.inbound.handle(msg);
  }

  /** Asks the connected hub for a bundle an app needs; false when it cannot ask now. */
  private askBundle(app: AppState): boolean {
    if (!this.hub.connected || !this.inbound.resendsBundles) return false;
    this.reporter.needBundle(app.appId, app.generation, app.bundleHash);
    return true;
  }
}

/** Objects whose change may change what the API server serves. */
function servesApis(o: { apiVersion: string; kind: string }): boolean {
  return (
    (o.kind === 'CustomResourceDefinition' && o.apiVersion.startsWith('apiextensions.k8s.io/')) ||
    (o.kind === 'APIService' && o.apiVersion.startsWith('apiregistration.k8s.io/'))
  );
}
