import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
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
  type Registration,
} from '../support/hub-harness.js';

const cm = (v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team-a-config\ndata:\n  v: "${v}"\n`;
const clusterRole = `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: team-a-escalation\nrules:\n  - apiGroups: ['*']\n    resources: ['*']\n    verbs: ['*']\n`;

describe('projects bound what applications may do, at admission, render and dispatch', () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let agent: Agent | undefined;
  let registration: Registration;
  let firstStateDir: string;
  const cleanup: (() => Promise<void>)[] = [];
  const kc = new KubeConfig();

  const readValue = async () => {
    const r = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'team-a-config', namespace: 'team-a-web' });
    return r.data?.v;
  };
  const app = async () => (await api(hub).get('/api/v1/applications/team-a-web')).body;
  const webhook = () => api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });

  beforeAll(async () => {
    kc.loadFromString(east.kubeconfig);
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ 'app/cm.yaml': cm('1') });
    const dir = await tempDir('axle-hub-projects-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    registration = (
      await api(hub).post('/api/v1/clusters', { name: 'east', labels: { env: 'dev' } })
    ).body;
    await api(hub).post('/api/v1/clusters', { name: 'prod-1', labels: { env: 'prod' } });
    const created = await api(hub).post('/api/v1/projects', {
      name: 'team-a',
      spec: {
        sourceRepos: [repo.fileUrl],
        destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: 'team-a-*' }],
        deniedKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }],
      },
    });
    expect(created.status).toBe(201);
    const stateDir = await tempDir('axle-agent-projects-');
    cleanup.push(stateDir.remove);
    firstStateDir = stateDir.path;
    agent = startTestAgent({ hub, registration, cluster: east, stateDir: stateDir.path });
    cleanup.push(() => stateDir.remove());
  });
  afterAll(async () => {
    await agent?.stop();
    await hub?.close();
    for (const c of cleanup) await c();
  });

  const base = () => ({
    name: 'team-a-web',
    project: 'team-a',
    source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'app' },
    destination: { cluster: 'east', namespace: 'team-a-web' },
    syncPolicy: { automated: { prune: true } },
  });

  it('refuses applications outside the project when they are created', async () => {
    const wrongCluster = await api(hub).post('/api/v1/applications', {
      ...base(),
      destination: { cluster: 'prod-1', namespace: 'team-a-web' },
    });
    expect(wrongCluster.status).toBe(400);
    expect(wrongCluster.body.fields).toEqual([
      {
        field: 'destination',
        reason: 'project "team-a" does not allow namespace "team-a-web" on cluster "prod-1"',
      },
    ]);
    const wrongNs = await api(hub).post('/api/v1/applications', {
      ...base(),
      destination: { cluster: 'east', namespace: 'kube-system' },
    });
    expect(wrongNs.status).toBe(400);
    const wrongRepo = await api(hub).post('/api/v1/applications', {
      ...base(),
      source: { ...base().source, repoURL: 'https://elsewhere.example/x.git' },
    });
    expect(wrongRepo.body.fields[0].field).toBe('source.repoURL');
    const noProject = await api(hub).post('/api/v1/applications', { ...base(), project: 'ghost' });
    expect(noProject.body.fields).toEqual([
      { field: 'project', reason: 'project "ghost" does not exist' },
    ]);
    expect((await api(hub).get('/api/v1/applications')).body).toEqual([]);
  });

  it('deploys what the project allows', async () => {
    expect((await api(hub).post('/api/v1/applications', base())).status).toBe(201);
    await waitFor('synced', async () => (await app()).status.sync === 'Synced');
    expect(await readValue()).toBe('1');
  });

  it('refuses, after rendering, a commit that adds a denied kind, and keeps what runs', async () => {
    await repo.commit({ 'app/cm.yaml': cm('2'), 'app/role.yaml': clusterRole });
    await webhook();
    const s = await waitFor('ProjectViolation', async () => {
      const a = await app();
      return a.status.conditions.find((c: any) => c.type === 'ProjectViolation') ?? false;
    });
    expect(s.message).toContain(
      'project "team-a" does not allow kind rbac.authorization.k8s.io/ClusterRole (ClusterRole/team-a-escalation)',
    );
    expect(await readValue()).toBe('1');
    await expect(
      kc.makeApiClient(RbacAuthorizationV1Api).readClusterRole({ name: 'team-a-escalation' }),
    ).rejects.toThrow();
    await repo.commit({ 'app/role.yaml': null });
    await webhook();
    await waitFor('value 2 applied', async () => (await readValue()) === '2');
  });

  it('checks again right before dispatch, when the project changed after rendering', async () => {
    await agent!.stop();
    await repo.commit({ 'app/cm.yaml': cm('3') });
    await webhook();
    await waitFor(
      'new generation desired',
      async () =>
        (await app()).status.clusters[0].desiredRevision !==
        (await app()).status.clusters[0].revision,
    );
    const narrowed = await api(hub).put('/api/v1/projects/team-a', {
      sourceRepos: [repo.fileUrl],
      destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: 'team-a-*' }],
      deniedKinds: [{ group: '', kind: 'ConfigMap' }],
    });
    expect(narrowed.status).toBe(200);
    const stateDir = await tempDir('axle-agent-projects2-');
    cleanup.push(stateDir.remove);
    // A new agent (empty state) for the same cluster: it enrols with a new bootstrap token.
    const kit = (await api(hub).post('/api/v1/clusters/east/bootstrap-token')).body as Registration;
    agent = startTestAgent({ hub, registration: kit, cluster: east, stateDir: stateDir.path });
    await waitFor('withheld', async () => {
      const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
      return /axle_dispatch_refused_total\{cluster="east"\} [1-9]/.test(text);
    });
    expect(await readValue()).toBe('2');
  });

  it("is checked a third time by the agent's own allow-list", async () => {
    await agent!.stop();
    // The project allows ConfigMaps again; this cluster's agent does not.
    await api(hub).put('/api/v1/projects/team-a', {
      sourceRepos: [repo.fileUrl],
      destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: 'team-a-*' }],
    });
    // The cluster's agent, restarted (same state) with an allow-list set by the cluster's owner.
    agent = startTestAgent({
      hub,
      registration,
      cluster: east,
      stateDir: firstStateDir,
      allowList: { namespaces: ['team-a-*'], allowedKinds: ['*'], deniedKinds: ['core/ConfigMap'] },
    });
    await repo.commit({ 'app/cm.yaml': cm('4') });
    await webhook();
    const s = await waitFor('refused by the agent', async () => {
      const c = (await app()).status.clusters[0];
      return c.message.includes("refused by this cluster's allow-list") ? c : false;
    });
    expect(s.message).toContain(
      'kind core/ConfigMap is not allowed on this cluster (ConfigMap/team-a-config)',
    );
    expect(s.sync).toBe('OutOfSync');
    expect(await readValue()).toBe('2');
    const events = (await api(hub).get('/api/v1/applications/team-a-web/events')).body;
    expect(events.some((e: any) => e.reason === 'SyncRefused')).toBe(true);
  });

  it('keeps cluster-scoped kinds to the projects and agents that allow them, whatever namespace they name', async () => {
    // Its manifest names one of the project's namespaces, but a ClusterRoleBinding has none:
    // applied, it would reach every namespace.
    const binding = `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: team-a-everyone-admin\n  namespace: team-a-web\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n  - kind: Group\n    apiGroup: rbac.authorization.k8s.io\n    name: system:authenticated\n`;
    await repo.commit({ 'app/cm.yaml': binding });
    await webhook();
    // The hub: the project (limited to team-a-* namespaces) lists no cluster-scoped kind.
    const violation = await waitFor('ProjectViolation', async () => {
      const a = await app();
      return (
        a.status.conditions.find(
          (c: any) => c.type === 'ProjectViolation' && c.message.includes('cluster-scoped'),
        ) ?? false
      );
    });
    expect(violation.message).toContain(
      'project "team-a" does not allow kind rbac.authorization.k8s.io/ClusterRoleBinding cluster-scoped (ClusterRoleBinding/team-a-everyone-admin; spec.clusterKinds)',
    );
    // The project lets it through; this cluster's agent (allowed team-a-* only) does not.
    const widened = await api(hub).put('/api/v1/projects/team-a', {
      sourceRepos: [repo.fileUrl],
      destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: 'team-a-*' }],
      clusterKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRoleBinding' }],
    });
    expect(widened.status).toBe(200);
    await api(hub).post('/api/v1/applications/team-a-web/refresh', {});
    const s = await waitFor('refused by the agent', async () => {
      const c = (await app()).status.clusters[0];
      return c.message.includes('may not be applied cluster-scoped') ? c : false;
    });
    expect(s.message).toContain(
      'kind rbac.authorization.k8s.io/ClusterRoleBinding may not be applied cluster-scoped on this cluster (ClusterRoleBinding/team-a-everyone-admin; AXLE_AGENT_ALLOWED_CLUSTER_KINDS)',
    );
    expect(s.sync).toBe('OutOfSync');
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await expect(rbac.readClusterRoleBinding({ name: 'team-a-everyone-admin' })).rejects.toThrow();
  });

  it("bounds the kinds of CRDs installed otherwise through the agent, with the project's clusterKinds", async () => {
    // A cluster-scoped kind the hub cannot know of: its CRD is not in the bundle (the platform
    // team installed it). The agent allows everything here; the project lists one kind.
    await agent!.stop();
    agent = startTestAgent({ hub, registration, cluster: east, stateDir: firstStateDir });
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'tenants.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Cluster',
        names: { kind: 'Tenant', plural: 'tenants', singular: 'tenant', listKind: 'TenantList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        ],
      },
    };
    await kc
      .makeApiClient(ApiextensionsV1Api)
      .createCustomResourceDefinition({ body: crd })
      .catch((e: unknown) => {
        if (!/already exists|409/.test(String(e))) throw e;
      });
    const tenant = `apiVersion: example.com/v1\nkind: Tenant\nmetadata:\n  name: team-a-takes-all\n  namespace: team-a-web\n`;
    await repo.commit({ 'app/cm.yaml': tenant });
    await webhook();
    const s = await waitFor('refused by the agent for the project', async () => {
      const c = (await app()).status.clusters[0];
      return c.message.includes("refused by the application's project") ? c : false;
    });
    expect(s.message).toContain(
      "refused by the application's project: kind example.com/Tenant may not be applied cluster-scoped (Tenant/team-a-takes-all; the project's spec.clusterKinds)",
    );
    const objects = kc.makeApiClient(CustomObjectsApi);
    await expect(
      objects.getClusterCustomObject({
        group: 'example.com',
        version: 'v1',
        plural: 'tenants',
        name: 'team-a-takes-all',
      }),
    ).rejects.toThrow();
  });

  it('refuses generated applications outside the project, one by one', async () => {
    const res = await api(hub).post('/api/v1/applicationsets', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'team-a-set' },
      spec: {
        goTemplate: true,
        generators: [{ list: { elements: [{ ns: 'team-a-ok' }, { ns: 'forbidden' }] } }],
        template: {
          metadata: { name: 'gen-{{.ns}}' },
          spec: {
            project: 'team-a',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'app' },
            destination: { name: 'east', namespace: '{{.ns}}' },
          },
        },
      },
    });
    expect(res.status).toBe(201);
    const st = await waitFor('evaluated', async () => {
      const s = (await api(hub).get('/api/v1/applicationsets/team-a-set')).body;
      return s.status.conditions.length ? s : false;
    });
    expect(st.applications).toEqual(['gen-team-a-ok']);
    expect(st.status.applicationErrors).toEqual([
      {
        name: 'gen-forbidden',
        message: 'project "team-a" does not allow namespace "forbidden" on cluster "east"',
      },
    ]);
    // A project that does not exist is said once (the source's check and the destination's).
    const dry = await api(hub).post('/api/v1/applicationsets/dry-run', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'ghost-set' },
      spec: {
        generators: [{ list: { elements: [{ ns: 'x' }] } }],
        template: {
          metadata: { name: 'ghost-app' },
          spec: {
            project: 'ghost',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'app' },
            destination: { name: 'east', namespace: 'x' },
          },
        },
      },
    });
    expect(JSON.stringify(dry.body).match(/project \\"ghost\\" does not exist/g)).toHaveLength(1);
  });
});
