import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestAgent,
  startTestHub,
  tempDir,
  waitFor,
  waitForRollout,
  type Registration,
} from '../support/hub-harness.js';

/** A Deployment the cluster's controllers really roll out (kwok runs its pods). */
const web = (opts: {
  version: string;
  nodeSelector?: Record<string, string>;
}) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  # A revision that cannot progress is Degraded after 5 s; the good one has all the time it needs.
  progressDeadlineSeconds: ${opts.nodeSelector ? 5 : 600}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web, version: "${opts.version}" } }
    spec:
      ${opts.nodeSelector ? `nodeSelector: ${JSON.stringify(opts.nodeSelector)}` : 'nodeSelector: { type: kwok }'}
      containers: [{ name: web, image: "nginx:${opts.version}" }]
`;

describe('workloads that really progress: health gating on a cluster with controllers and kwok nodes', () => {
  const north = inject('workloadCluster');
  let hub: RunningHub;
  let repo: TestRepo;
  let agent: Agent;
  const cleanup: (() => Promise<void>)[] = [];

  const deployment = async () => {
    const kc = new KubeConfig();
    kc.loadFromString(north.kubeconfig);
    return kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'web', namespace: 'real' });
  };
  const rollout = async () => (await api(hub).get('/api/v1/applications/real/rollout')).body;

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ 'real/web.yaml': web({ version: '1.27' }) });
    const dir = await tempDir('axle-hub-workloads-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    const registration: Registration = (
      await api(hub).post('/api/v1/clusters', { name: 'north', labels: { tier: 'edge' } })
    ).body;
    const state = await tempDir('axle-agent-north-');
    cleanup.push(state.remove);
    agent = startTestAgent({ hub, registration, cluster: north, stateDir: state.path });
    await waitFor('agent connected', () => Promise.resolve(agent.connected));
  });
  afterAll(async () => {
    await agent?.stop();
    await hub?.close();
    for (const c of cleanup) await c();
  });

  it('waits for the Deployment to become Available before calling the rollout done', async () => {
    const created = await api(hub).post('/api/v1/applications', {
      name: 'real',
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'real' },
      destination: { cluster: 'north', namespace: 'real' },
      syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
      rollout: {
        waves: [{ clusterSelector: { matchLabels: { tier: 'edge' } } }],
        onFailure: 'rollback',
        progressDeadlineSeconds: 120,
      },
    });
    expect(created.status).toBe(201);
    let seen: unknown;
    await waitFor(
      'rollout completed',
      async () => {
        const r = await rollout();
        if (r.status === 'Completed') return true;
        // What is in the way, should it never complete.
        const a = (await api(hub).get('/api/v1/applications/real')).body;
        const d = await deployment().catch((e: Error) => e.message);
        if (r.status !== 'Progressing' && r.status !== 'Pending' && seen) return false; // keep the first
        seen = {
          rollout: r,
          cluster: a.status?.clusters?.[0],
          deployment: typeof d === 'string' ? d : d.status,
        };
        return false;
      },
      { timeoutMs: 60_000 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}; saw ${JSON.stringify(seen)}`);
    });
    // Done means Healthy, and Healthy here is the controllers' word: two pods Available.
    const d = await deployment();
    expect(d.status?.availableReplicas).toBe(2);
    expect((await api(hub).get('/api/v1/applications/real')).body.status.health).toBe('Healthy');
  });

  it('a revision whose pods cannot be placed goes Degraded for real and is rolled back', async () => {
    await repo.commit({
      'real/web.yaml': web({ version: '1.28', nodeSelector: { disk: 'none' } }),
    });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const back = await waitForRollout(
      hub,
      '/api/v1/applications/real/rollout',
      'RolledBack',
      60_000,
    );
    expect(back.message).toMatch(
      /^wave 1 failed: not Healthy at the new bundle: north \(Degraded\)/,
    );
    // The controllers roll the Deployment back to the previous template: Available again.
    await waitFor(
      'previous version available',
      async () => {
        const d = await deployment();
        return (
          d.spec?.template.metadata?.labels?.version === '1.27' &&
          d.status?.availableReplicas === 2 &&
          d.status.updatedReplicas === 2
        );
      },
      { timeoutMs: 60_000 },
    );
    await waitFor(
      'Healthy again',
      async () =>
        (await api(hub).get('/api/v1/applications/real')).body.status.health === 'Healthy',
      { timeoutMs: 30_000 },
    );
  });
});
