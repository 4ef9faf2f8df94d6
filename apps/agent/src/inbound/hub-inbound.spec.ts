import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/support/temp-dir.js';
import { compressBundle, makeBundle } from '../../../../libs/manifests/src/index.js';
import {
  SyncStatus,
  type AgentMessage,
  type Deploy,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { ALLOW_ALL } from '../allow-list.js';
import { BundleCache } from '../bundle-cache.js';
import { StatusReporter, type HubLink } from '../outbound/status-reporter.js';
import type { AppReconciler } from '../reconcile/app-reconciler.js';
import { StateStore } from '../state-store.js';
import { HubInbound, policyState } from './hub-inbound.js';

const bundle = makeBundle([
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: '1' } },
]);
const gzip = compressBundle(bundle.json);

const deploy = (generation: number, withBytes = true): Deploy => ({
  appId: 'app-1',
  appName: 'shop',
  generation,
  revision: 'abc',
  bundleHash: bundle.hash,
  bundleGzip: withBytes ? gzip : Buffer.alloc(0),
  namespace: 'shop',
  syncPolicy: { automated: true, prune: true, selfHeal: false },
});

/**
 * The inbound direction on its own: a real state directory, the outbound reporter on a link that
 * records what would go to the hub, and the reconciler's entry points recorded.
 */
describe('HubInbound', () => {
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  const stores: StateStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) await d.remove();
  });

  const setup = async (
    opts: {
      features?: string[];
      allowList?: typeof ALLOW_ALL;
      served?: (apiVersion: string, kind: string) => Promise<boolean | undefined>;
    } = {},
  ) => {
    const dir = await tempDir('axle-inbound-');
    dirs.push(dir);
    const store = new StateStore(dir.path);
    stores.push(store);
    const sent: AgentMessage['msg'][] = [];
    const link: HubLink = { connected: true, send: (m) => (sent.push(m.msg), true) };
    const reporter = new StatusReporter(link, (id) => id, 100);
    const enqueued: string[] = [];
    const reconciler = {
      enqueue: (id: string) => void enqueued.push(id),
      remove: () => Promise.resolve(),
      cancelRemoval: () => undefined,
      requestSync: (id: string) => void enqueued.push(`sync:${id}`),
    } as unknown as AppReconciler;
    const inbound = new HubInbound(
      store,
      new BundleCache(store),
      reconciler,
      reporter,
      opts.allowList ?? ALLOW_ALL,
      opts.served,
    );
    inbound.welcomed(opts.features ?? ['need-bundle']);
    const settle = () => new Promise((r) => setTimeout(r, 50));
    return { store, sent, enqueued, inbound, settle };
  };

  it('stores a deploy before acknowledging it, and hands it to the reconciler', async () => {
    const { store, sent, enqueued, inbound, settle } = await setup();
    await inbound.handle({ msg: { $case: 'deploy', value: deploy(3) } });
    // Not acknowledged while the state is being written.
    expect(sent).toEqual([]);
    await settle();
    expect(store.get('app-1')).toMatchObject({ generation: 3, bundleHash: bundle.hash });
    expect(store.get('app-1')?.policy).toEqual({ automated: true, prune: true, selfHeal: false });
    expect(store.hasBundle(bundle.hash)).toBe(true);
    expect(enqueued).toEqual(['app-1']);
    expect(sent).toEqual([{ $case: 'ack', value: { appId: 'app-1', generation: 3 } }]);
  });

  it('acknowledges a duplicate or stale deploy with what it holds, and changes nothing', async () => {
    const { store, sent, enqueued, inbound, settle } = await setup();
    await inbound.handle({ msg: { $case: 'deploy', value: deploy(3) } });
    await settle();
    sent.length = 0;
    enqueued.length = 0;
    await inbound.handle({ msg: { $case: 'deploy', value: deploy(3, false) } });
    await inbound.handle({ msg: { $case: 'deploy', value: deploy(2) } });
    expect(sent).toEqual([
      { $case: 'ack', value: { appId: 'app-1', generation: 3 } },
      { $case: 'ack', value: { appId: 'app-1', generation: 3 } },
    ]);
    expect(enqueued).toEqual([]);
    expect(store.get('app-1')?.generation).toBe(3);
  });

  it('asks for the bytes of a bundle sent by hash that it lacks (and stores nothing)', async () => {
    const { store, sent, inbound } = await setup();
    await inbound.handle({ msg: { $case: 'deploy', value: deploy(1, false) } });
    expect(sent).toEqual([
      {
        $case: 'needBundle',
        value: { appId: 'app-1', generation: 1, bundleHash: bundle.hash },
      },
    ]);
    expect(store.get('app-1')).toBeUndefined();
    // A hub that cannot resend: the deploy is refused loudly.
    const old = await setup({ features: [] });
    await expect(
      old.inbound.handle({ msg: { $case: 'deploy', value: deploy(1, false) } }),
    ).rejects.toThrow(/which this agent lacks/);
  });

  it('refuses bytes that do not match their hash', async () => {
    const { store, inbound } = await setup();
    const tampered = { ...deploy(1), bundleGzip: compressBundle('[]') };
    await expect(inbound.handle({ msg: { $case: 'deploy', value: tampered } })).rejects.toThrow(
      /hash mismatch/,
    );
    expect(store.get('app-1')).toBeUndefined();
  });

  it("acknowledges a deploy the cluster's allow-list refuses, reports it out of sync, applies nothing", async () => {
    const { store, sent, enqueued, inbound } = await setup({
      allowList: { namespaces: ['other'], allowedKinds: ['*'], deniedKinds: [] },
    });
    await inbound.handle({ msg: { $case: 'deploy', value: deploy(1) } });
    expect(enqueued).toEqual([]);
    expect(store.get('app-1')).toBeUndefined();
    expect(sent[0]).toEqual({ $case: 'ack', value: { appId: 'app-1', generation: 1 } });
    const status = sent.find((m) => m?.$case === 'status');
    expect(status?.$case === 'status' && status.value.sync).toBe(
      SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
    );
    expect(JSON.stringify(status)).toMatch(/allow-list/);
  });

  it('refuses on arrival a cluster-scoped object to an agent limited to some namespaces', async () => {
    const binding = makeBundle([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'admin-for-all', namespace: 'shop' },
      },
    ]);
    const asked: string[] = [];
    const { store, sent, enqueued, inbound } = await setup({
      allowList: { namespaces: ['shop'], allowedKinds: ['*'], deniedKinds: [] },
      served: (apiVersion, kind) => {
        asked.push(`${apiVersion} ${kind}`);
        return Promise.resolve(kind !== 'ClusterRoleBinding');
      },
    });
    const d = {
      ...deploy(1),
      bundleHash: binding.hash,
      bundleGzip: compressBundle(binding.json),
    };
    await inbound.handle({ msg: { $case: 'deploy', value: d } });
    expect(asked).toEqual(['rbac.authorization.k8s.io/v1 ClusterRoleBinding']);
    expect(enqueued).toEqual([]);
    expect(store.get('app-1')).toBeUndefined();
    expect(JSON.stringify(sent)).toMatch(/may not be applied cluster-scoped/);
  });

  it("stores a generation its project's bound refuses: its pass refuses it, and heals nothing of the one before", async () => {
    const binding = makeBundle([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'admin-for-all' },
      },
    ]);
    const { store, enqueued, inbound } = await setup({
      served: (_v, kind) => Promise.resolve(kind !== 'ClusterRoleBinding'),
    });
    const d = {
      ...deploy(1),
      bundleHash: binding.hash,
      bundleGzip: compressBundle(binding.json),
      syncPolicy: { automated: true, prune: true, selfHeal: false, clusterKinds: { items: [] } },
    };
    await inbound.handle({ msg: { $case: 'deploy', value: d } });
    expect(store.get('app-1')?.policy.clusterKinds).toEqual([]);
    expect(enqueued).toEqual(['app-1']);
  });

  it('passes SyncNow to the reconciler and answers a ping', async () => {
    const { sent, enqueued, inbound } = await setup();
    await inbound.handle({ msg: { $case: 'syncNow', value: { appId: 'app-1' } } });
    await inbound.handle({ msg: { $case: 'ping', value: { sentAtUnixMs: 1 } } });
    expect(enqueued).toEqual(['sync:app-1']);
    expect(sent.map((m) => m?.$case)).toEqual(['heartbeat']);
  });

  it('keeps the policy with retry durations parsed (empty ones: 5 s and 3 min)', () => {
    const policy = (retry: { duration: string; maxDuration: string }) =>
      policyState({
        automated: true,
        prune: false,
        selfHeal: false,
        retry: { limit: 2, factor: 3, ...retry },
      }).retry;
    expect(policy({ duration: '1s', maxDuration: '10s' })).toEqual({
      limit: 2,
      durationMs: 1000,
      factor: 3,
      maxDurationMs: 10_000,
    });
    expect(policy({ duration: '', maxDuration: '' })).toMatchObject({
      durationMs: 5000,
      maxDurationMs: 180_000,
    });
  });
});
