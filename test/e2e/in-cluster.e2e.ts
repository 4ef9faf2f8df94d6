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
import { configMapValue, readObject } from './agent-support.js';

const cm = (v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\ndata:\n  v: "${v}"\n`;
/** Names unique to this run: the test clusters' `default` namespace is shared by the suites. */
const run = Math.random().toString(36).slice(2, 8);
const unnamespaced = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: "1"\n`;

describe("Argo CD's in-cluster destination: the registered cluster AXLE_IN_CLUSTER names", () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let agent: Agent;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({
      'local/cm.yaml': cm('1'),
      // Cluster add-ons as Argo CD users write them: no destination namespace; one object names
      // its namespace, one names none, one is cluster-scoped.
      'addons/cm.yaml': unnamespaced(`nons-${run}`),
      'addons/explicit.yaml':
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: explicit\n  namespace: nons-${run}\n` +
        `data:\n  v: "1"\n`,
      'addons/role.yaml':
        `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: nons-${run}\n` +
        `rules: []\n`,
      'generated/cm.yaml': unnamespaced(`nons-gen-${run}`),
    });
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

  it('takes applications without a destination namespace: objects naming none land in default', async () => {
    const addons = await api(hub).post('/api/v1/applications', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'addons', namespace: 'argocd' },
      spec: {
        project: 'default',
        source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'addons' },
        destination: { name: 'in-cluster' },
        syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
      },
    });
    expect(addons.status, JSON.stringify(addons.body)).toBe(201);
    expect(addons.body.spec.destination).toEqual({ cluster: 'in-cluster' });
    // A template whose namespace comes out empty, as Argo CD takes it.
    const set = await api(hub).post('/api/v1/applicationsets', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'no-namespace' },
      spec: {
        goTemplate: true,
        generators: [{ list: { elements: [{ app: 'generated', ns: '' }] } }],
        template: {
          metadata: { name: '{{.app}}-nons' },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: '{{.app}}' },
            destination: { name: 'in-cluster', namespace: '{{.ns}}' },
            syncPolicy: { automated: {} },
          },
        },
      },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(201);
    await waitFor(
      'both applied',
      async () =>
        (await configMapValue(east, 'default', `nons-${run}`)) === '1' &&
        (await configMapValue(east, `nons-${run}`, 'explicit')) === '1' &&
        (await configMapValue(east, 'default', `nons-gen-${run}`)) === '1',
    );
    const role = await readObject(east, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      name: `nons-${run}`,
    });
    expect(role?.metadata.namespace).toBeUndefined();
    await waitFor('both Synced and Healthy', async () => {
      const views = await Promise.all(
        ['addons', 'generated-nons'].map(
          async (n) => (await api(hub).get(`/api/v1/applications/${n}`)).body,
        ),
      );
      return views.every((v) => v.status?.sync === 'Synced' && v.status?.health === 'Healthy');
    });
    const generated = (await api(hub).get('/api/v1/applications/generated-nons')).body;
    expect(generated.spec.destination).toEqual({ cluster: 'hub-home' });
    // Deleted (cascade, the default), the objects go from default too.
    expect((await api(hub).delete('/api/v1/applications/addons')).status).toBeLessThan(300);
    expect((await api(hub).delete('/api/v1/applicationsets/no-namespace')).status).toBeLessThan(
      300,
    );
    await waitFor(
      'pruned from default',
      async () =>
        (await configMapValue(east, 'default', `nons-${run}`)) === undefined &&
        (await configMapValue(east, 'default', `nons-gen-${run}`)) === undefined,
    );
  });
});
