import { isChildApplication } from '../../../../libs/health/src/index.js';
import { Logger } from '@nestjs/common';
import { decompressBundle } from '../../../../libs/manifests/src/index.js';
import type {
  Deploy,
  HubMessage,
  SyncPolicy,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { decodeSyncPolicy } from '../../../../libs/proto/src/codec.js';
import {
  allowListRefusal,
  restrictsClusterKinds,
  scopesOf,
  type AllowList,
} from '../allow-list.js';
import type { BundleCache } from '../bundle-cache.js';
import type { StatusReporter } from '../outbound/status-reporter.js';
import type { AppReconciler } from '../reconcile/app-reconciler.js';
import type { StateStore } from '../state-store.js';
import { retryPolicy, type SyncPolicyState } from '../sync/options.js';

/**
 * What the hub sends, handled in order: desired state (verified, checked against the cluster's
 * allow-list, stored on disk, then acknowledged and handed to the reconciler), removals, sync
 * requests and pings. A duplicate or stale deploy is acknowledged and changes nothing.
 */
export class HubInbound {
  private readonly log = new Logger('Agent');
  /** What the connected hub understands beyond the 0.1 protocol (Welcome.features). */
  private features = new Set<string>();

  constructor(
    private readonly store: StateStore,
    private readonly bundles: BundleCache,
    private readonly reconciler: AppReconciler,
    private readonly reporter: StatusReporter,
    private readonly allowList: AllowList,
    /** Discovery: whether a kind is namespaced (undefined: not known now). */
    private readonly served?: (apiVersion: string, kind: string) => Promise<boolean | undefined>,
  ) {}

  /** The hub welcomed this agent (after every reconnect). */
  welcomed(features: string[]): void {
    this.features = new Set(features);
    this.reporter.resend();
  }

  /** Whether the connected hub resends a bundle asked for by hash (NeedBundle). */
  get resendsBundles(): boolean {
    return this.features.has('need-bundle');
  }

  async handle(msg: HubMessage): Promise<void> {
    const m = msg.msg;
    if (!m) return;
    switch (m.$case) {
      case 'deploy':
        return this.deploy(m.value);
      case 'remove':
        return this.reconciler.remove(m.value.appId, m.value.prune);
      case 'syncNow':
        this.reconciler.requestSync(m.value.appId);
        return;
      case 'ping':
        this.reporter.heartbeat();
        return;
      case 'welcome':
        return;
    }
  }

  private async deploy(d: Deploy): Promise<void> {
    const current = this.store.get(d.appId);
    if (
      current &&
      (current.generation > d.generation ||
        (current.generation === d.generation && this.bundles.holds(current.bundleHash)))
    ) {
      // Duplicate or stale delivery: acknowledge, change nothing.
      this.reporter.ack(d.appId, current.generation);
      return;
    }
    const bundle =
      d.bundleGzip.length > 0
        ? decompressBundle(d.bundleGzip, d.bundleHash) // verify before storing
        : this.bundles.get(d.bundleHash);
    if (!bundle) {
      if (!this.resendsBundles) {
        throw new Error(
          `deploy of ${d.appName} generation ${d.generation} names bundle ${d.bundleHash}, which this agent lacks`,
        );
      }
      // Sent by hash alone, and this agent lacks it: ask for the bytes (the hub resends).
      this.log.warn(
        `${d.appName}: bundle ${d.bundleHash.slice(0, 19)} missing here; asking the hub`,
      );
      this.reporter.needBundle(d.appId, d.generation, d.bundleHash);
      return;
    }
    // Keep the bundle whatever happens next: the hub may later send the same bundle without its
    // content (a namespace change, say) and expects this agent to have it. The sync that follows
    // needs the objects: they are kept rather than read back.
    if (d.bundleGzip.length > 0) this.bundles.put(d.bundleHash, d.bundleGzip, bundle.objects);
    else this.bundles.remember(d.bundleHash, bundle.objects);
    // The cluster's own allow-list: refused deploys are acknowledged (so they are not resent)
    // but not applied; what runs stays as it is.
    // With each kind's scope when the list limits cluster-scoped kinds (as every pass checks).
    // The project's bound (in the policy) is not checked here: a generation it refuses is stored
    // and refused at its pass, so that the generation before it is no longer healed either.
    // Child applications (app of apps) are the hub's, never applied: the list does not see them.
    const applied = bundle.objects.filter((o) => !isChildApplication(o));
    const namespaced =
      this.served && restrictsClusterKinds(this.allowList)
        ? await scopesOf(applied, this.served)
        : undefined;
    const message = allowListRefusal(this.allowList, applied, d.namespace, namespaced);
    if (message) {
      this.reporter.event(d.appId, 'Warning', 'SyncRefused', message, d.generation);
      this.reporter.ack(d.appId, d.generation);
      this.reporter.refused(d.appId, message, current);
      return;
    }
    // Accepted (wanted again, if its removal had failed): from here on the app is synced towards
    // this generation. It is acknowledged once stored on disk; a burst of deploys shares its
    // writes (the next message is handled while this one is written). The bundle file was
    // written first, so the state never names a bundle that is not stored. The new state has no
    // `removing` mark: after a restart too, the app is synced, not removed.
    this.reconciler.cancelRemoval(d.appId);
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
    this.reconciler.enqueue(d.appId);
    stored.then(
      () => this.reporter.ack(d.appId, d.generation),
      (e: unknown) => this.log.error(`storing ${d.appName}: ${(e as Error).message}`),
    );
  }
}

/** The wire policy as the agent stores it (absent fields mean their defaults). */
export function policyState(p: SyncPolicy | undefined): SyncPolicyState {
  const m = decodeSyncPolicy(p);
  return m.retry ? { ...m, retry: retryPolicy(m.retry) } : (m as SyncPolicyState);
}
