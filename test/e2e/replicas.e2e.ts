import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
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
} from '../support/hub-harness.js';

describe('two hub replicas on one database', () => {
  const [, west] = inject('clusters');
  const hubs: RunningHub[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  let agent: Agent | undefined;

  afterAll(async () => {
    await agent?.stop();
    for (const h of hubs) await h.close();
    for (const c of cleanup) await c();
  });

  it('migrate once when started together, and route work to the replica holding the stream', async () => {
    const db = await createTestDatabase();
    const dirs = await Promise.all([tempDir('axle-hub-a-'), tempDir('axle-hub-b-')]);
    cleanup.push(...dirs.map((d) => () => d.remove()));
    // Both run migrations at once; the advisory lock lets exactly one apply them.
    hubs.push(
      ...(await Promise.all(dirs.map((d) => startTestHub({ databaseUrl: db, dataDir: d.path })))),
    );
    const [a, b] = hubs;

    const repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    const sha = await repo.commit({
      'app/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: routed\ndata:\n  via: replica-a\n',
    });

    const reg = await api(a).post('/api/v1/clusters', { name: 'replica-west' });
    expect(reg.status).toBe(201);
    const stateDir = await tempDir('axle-agent-replica-');
    cleanup.push(() => stateDir.remove());
    // The agent's stream lives on replica B …
    agent = startTestAgent({
      hub: b,
      registration: reg.body,
      cluster: west,
      name: 'replica-west',
      stateDir: stateDir.path,
    });
    await waitFor('agent connected to B', () => Promise.resolve(agent!.connected));

    // … while the application is created through replica A, which reconciles it and notifies.
    const created = await api(a).post('/api/v1/applications', {
      name: 'routed',
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'app' },
      destination: { cluster: 'replica-west', namespace: 'replicas' },
      syncPolicy: { automated: {} },
    });
    expect(created.status).toBe(201);
    await waitFor('applied through replica B', async () => {
      const s = (await api(b).get('/api/v1/applications/routed')).body;
      return s.status.clusters[0]?.sync === 'Synced' && s.status.clusters[0].revision === sha;
    });
    const kc = new KubeConfig();
    kc.loadFromString(west.kubeconfig);
    const cm = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'routed', namespace: 'replicas' });
    expect(cm.data).toEqual({ via: 'replica-a' });
  });
});
