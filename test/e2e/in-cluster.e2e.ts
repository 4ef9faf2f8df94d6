import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestHub,
  tempDir,
  waitFor,
  registerAndStartAgent,
} from '../support/hub-harness.js';
import { configMapValue } from './agent-support.js';

const cm = (v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\ndata:\n  v: "${v}"\n`;

describe("Argo CD's in-cluster destination: the registered cluster AXLE_IN_CLUSTER names", () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let agent: Agent;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ 'local/cm.yaml': cm('1') });
    const dir = await tempDir('axle-hub-incluster-');
    cleanup.push(dir.remove);
    hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: { AXLE_IN_CLUSTER: 'hub-home' },
    });
    agent = await registerAndStartAgent(hub, {
      cluster: east,
      name: 'hub-home',
      labels: { role: 'hub' },
      cleanup,
    });
    await waitFor('agent connected', () => Promise.resolve(agent.connected));
  });
  afterAll(async () => {
    await agent?.stop();
    await hub?.close();
    for (const c of cleanup) await c();
  });

  it('answers to server https://kubernetes.default.svc and name in-cluster, as in Argo CD', async () => {
    // An Argo CD Application as written for the local cluster.
    const app = await api(hub).post('/api/v1/applications', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'local-by-server', namespace: 'argocd' },
      spec: {
        project: 'default',
        source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'local' },
        destination: { server: 'https://kubernetes.default.svc', namespace: 'incluster-a' },
        syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
      },
    });
    expect(app.status, JSON.stringify(app.body)).toBe(201);
    // The clusters generator without a selector gives it as Argo CD does: in-cluster.
    const set = await api(hub).post('/api/v1/applicationsets', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'everywhere' },
      spec: {
        goTemplate: true,
        generators: [{ clusters: {} }],
        template: {
          metadata: { name: '{{.name}}-local' },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'local' },
            destination: { server: '{{.server}}', namespace: 'incluster-b' },
            syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
          },
        },
      },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(201);
    await waitFor(
      'both deployed on hub-home',
      async () =>
        (await configMapValue(east, 'incluster-a', 'local')) === '1' &&
        (await configMapValue(east, 'incluster-b', 'local')) === '1',
    );
    const generated = (await api(hub).get('/api/v1/applications/in-cluster-local')).body;
    expect(generated.spec.destination.cluster).toBe('hub-home');
    // Another server is not guessed.
    /** An Argo CD Application naming its cluster by server. */
    const byServerApp = (name: string, server: string) =>
      api(hub).post('/api/v1/applications', {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name },
        spec: {
          project: 'default',
          source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'local' },
          destination: { server, namespace: 'x' },
        },
      });
    const other = await byServerApp('elsewhere', 'https://10.0.0.1:6443');
    expect(other.status).toBe(400);
    expect(other.body.fields[0].field).toBe('spec.destination.server');
    // A server some registered cluster has is that cluster, in a standalone Application too.
    const far = await api(hub).post('/api/v1/clusters', {
      name: 'far',
      server: 'https://far.example:6443',
    });
    expect(far.status).toBe(201);
    const byServer = await byServerApp('far-by-server', 'https://far.example:6443/');
    expect(byServer.status).toBe(201);
    expect(byServer.body.spec.destination.cluster).toBe('far');
  });
});
