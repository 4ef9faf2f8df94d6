import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { basename, dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import { serveGitOverHttp } from '../support/git-http.js';
import {
  api,
  createTestDatabase,
  startTestAgent,
  startTestHub,
  tempDir,
  waitFor,
  TOKEN_AUTH,
} from '../support/hub-harness.js';
import type { TestCluster } from '../support/kube-cluster.js';

const NS = 'skeleton';

const configMap = (greeting: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: greeting
data:
  greeting: ${greeting}
`;

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: nginx:1.27
`;

function core(c: TestCluster): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromString(c.kubeconfig);
  return kc.makeApiClient(CoreV1Api);
}

describe('walking skeleton: git → hub → gRPC → agents → two real API servers', () => {
  const clusters = inject('clusters');
  let repo: TestRepo;
  let http: Awaited<ReturnType<typeof serveGitOverHttp>>;
  let hub: RunningHub;
  let dbUrl: string;
  let hubDir: Awaited<ReturnType<typeof tempDir>>;
  const agentDirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  const agents: Agent[] = [];
  const tokens: string[] = [];
  let repoURL: string;
  const commits: string[] = [];

  const status = async () => (await api(hub).get('/api/v1/applications/guestbook')).body;
  const allSyncedAt = (sha: string) =>
    waitFor(`both clusters Synced at ${sha.slice(0, 8)}`, async () => {
      const s = await status();
      const ok =
        s?.status?.clusters?.length === 2 &&
        s.status.clusters.every(
          (c: any) =>
            c.sync === 'Synced' &&
            c.revision === sha &&
            c.appliedGeneration === c.desiredGeneration,
        );
      return ok ? s : false;
    });
  const deploysSent = async () => {
    const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const count = (cluster: string) =>
      [
        ...text.matchAll(
          new RegExp(`^axle_deploys_sent_total\\{cluster="${cluster}",[^}]*\\} (\\d+)$`, 'gm'),
        ),
      ].reduce((n, m) => n + Number(m[1]), 0);
    return { east: count('east'), west: count('west') };
  };
  const readGreeting = async (c: TestCluster) =>
    (await core(c).readNamespacedConfigMap({ name: 'greeting', namespace: NS })).data?.greeting;

  beforeAll(async () => {
    repo = await TestRepo.create();
    commits.push(
      await repo.commit({
        'guestbook/cm.yaml': configMap('hello'),
        'guestbook/deploy.yaml': deployment,
      }),
    );
    http = await serveGitOverHttp(dirname(repo.dir));
    repoURL = `${http.url}/${basename(repo.dir)}/.git`;
    dbUrl = await createTestDatabase();
    hubDir = await tempDir('axle-hub-');
    hub = await startTestHub({ databaseUrl: dbUrl, dataDir: hubDir.path, env: TOKEN_AUTH });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    await http?.close();
    await repo?.remove();
    await hubDir?.remove();
    await Promise.all(agentDirs.map((d) => d.remove()));
  });

  it('registers two clusters and connects their agents', async () => {
    for (const c of clusters) {
      const res = await api(hub).post('/api/v1/clusters', {
        name: c.name,
        labels: { env: 'test' },
      });
      expect(res.status).toBe(201);
      expect(res.body.agentToken).toMatch(/^axle_agent_/);
      tokens.push(res.body.agentToken);
      const dir = await tempDir(`axle-agent-${c.name}-`);
      agentDirs.push(dir);
      agents.push(
        startTestAgent({ hub, token: res.body.agentToken, cluster: c, stateDir: dir.path }),
      );
    }
    await waitFor('agents connected', () => Promise.resolve(agents.every((a) => a.connected)));
    const list = await api(hub).get('/api/v1/clusters');
    expect(list.body.map((c: any) => [c.name, c.agent.connected])).toEqual([
      ['east', true],
      ['west', true],
    ]);
  });

  it('applies the first commit to both clusters and shows Synced with that commit', async () => {
    const res = await api(hub).post('/api/v1/applications', {
      name: 'guestbook',
      source: { repoURL, targetRevision: 'main', path: 'guestbook' },
      destination: { clusters: ['east', 'west'], namespace: NS },
      syncPolicy: { automated: { prune: true, selfHeal: true } },
    });
    expect(res.status).toBe(201);
    const s = await allSyncedAt(commits[0]);
    expect(s.status.sync).toBe('Synced');
    for (const c of clusters) expect(await readGreeting(c)).toBe('hello');
    // The Deployment is there too, applied by field manager "axle"; no controllers run, so it
    // stays Progressing (no replicas become available).
    const east = s.status.clusters[0];
    expect(east.resources.map((r: any) => `${r.kind}/${r.name}`).sort()).toEqual([
      'ConfigMap/greeting',
      'Deployment/web',
    ]);
    expect(s.status.health).toBe('Progressing');
    const cm = await core(clusters[0]).readNamespacedConfigMap({
      name: 'greeting',
      namespace: NS,
    });
    expect(
      cm.metadata?.managedFields?.some((m) => m.manager === 'axle' && m.operation === 'Apply'),
    ).toBe(true);
  });

  it('propagates a second commit that changes the ConfigMap (webhook)', async () => {
    commits.push(await repo.commit({ 'guestbook/cm.yaml': configMap('bonjour') }));
    const hook = await api(hub).post('/api/v1/webhooks/git', { repoURL });
    expect(hook.status).toBe(202);
    expect(hook.body.refreshed).toEqual([repoURL]);
    await allSyncedAt(commits[1]);
    for (const c of clusters) expect(await readGreeting(c)).toBe('bonjour');
  });

  it('survives a hub restart: nothing lost, every cluster at the latest generation', async () => {
    const grpcPort = Number(hub.grpcAddress.split(':').pop());
    await hub.close();
    commits.push(await repo.commit({ 'guestbook/cm.yaml': configMap('hallo') }));
    hub = await startTestHub({
      databaseUrl: dbUrl,
      dataDir: hubDir.path,
      grpcPort,
      env: TOKEN_AUTH,
    });
    // The restarted hub reconciles every app at start; no webhook needed.
    await allSyncedAt(commits[2]);
    for (const c of clusters) expect(await readGreeting(c)).toBe('hallo');
  });

  it('survives an agent restart: the stopped cluster catches up from its stored inventory', async () => {
    await agents[0].stop();
    commits.push(await repo.commit({ 'guestbook/cm.yaml': configMap('hola') }));
    await api(hub).post('/api/v1/webhooks/git', { repoURL });
    await waitFor('west at the new commit, east behind', async () => {
      const s = await status();
      const [east, west] = s.status.clusters;
      return west.revision === commits[3] && west.sync === 'Synced' && east.sync === 'OutOfSync';
    });
    expect(await readGreeting(clusters[0])).toBe('hallo');
    const before = (await status()).status.clusters[0];
    const sentBefore = await deploysSent();
    agents[0] = startTestAgent({
      hub,
      token: tokens[0],
      cluster: clusters[0],
      stateDir: agentDirs[0].path,
    });
    const s = await allSyncedAt(commits[3]);
    for (const c of clusters) expect(await readGreeting(c)).toBe('hola');
    // One more generation for east, acked and applied exactly once, in order.
    expect(s.status.clusters[0].desiredGeneration).toBe(before.desiredGeneration);
    expect(s.status.clusters[0].ackedGeneration).toBe(before.desiredGeneration);
    // On reconnect the hub sent east only what its inventory lacked: one Deploy, and west nothing.
    const sentAfter = await deploysSent();
    expect(sentAfter.east - sentBefore.east).toBe(1);
    expect(sentAfter.west - sentBefore.west).toBe(0);
  });

  it('keeps the deployed state when a commit has broken YAML, naming the file and line', async () => {
    const before = (await status()).status.clusters.map((c: any) => c.desiredGeneration);
    commits.push(
      await repo.commit({
        'guestbook/cm.yaml': configMap('broken'),
        'guestbook/bad.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [\n',
      }),
    );
    await api(hub).post('/api/v1/webhooks/git', { repoURL });
    const s = await waitFor('RenderError condition', async () => {
      const v = await status();
      return v.status.conditions.some((c: any) => c.type === 'RenderError') ? v : false;
    });
    expect(s.status.conditions[0].message).toMatch(/^guestbook\/bad\.yaml:\d+: invalid YAML/);
    // Not called Synced at a commit it cannot render (Argo CD: Unknown, with the error).
    expect(s.status.sync).toBe('Unknown');
    expect(s.status.clusters.map((c: any) => c.desiredGeneration)).toEqual(before);
    for (const c of clusters) expect(await readGreeting(c)).toBe('hola');
    // Fixing the commit clears the condition and deploys.
    commits.push(await repo.commit({ 'guestbook/bad.yaml': null }));
    await api(hub).post('/api/v1/webhooks/git', { repoURL });
    await allSyncedAt(commits[5]);
    expect((await status()).status.conditions).toEqual([]);
    for (const c of clusters) expect(await readGreeting(c)).toBe('broken');
  });

  it('refuses bad input with a 4xx naming the field, and stores nothing', async () => {
    const bad = await api(hub).post('/api/v1/clusters', { name: 'Not_A_Name', colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual([
      expect.objectContaining({ field: 'name' }),
      { field: 'colour', reason: 'unknown field' },
    ]);
    const dup = await api(hub).post('/api/v1/clusters', { name: 'east' });
    expect(dup.status).toBe(409);
    const badApp = await api(hub).post('/api/v1/applications', {
      name: 'x',
      source: { repoURL, path: '../../etc' },
      destination: { cluster: 'east', namespace: NS },
    });
    expect(badApp.status).toBe(400);
    expect(badApp.body.fields).toEqual([
      { field: 'source.path', reason: 'must not contain ".." segments' },
    ]);
    const notJson = await api(hub).postRaw('/api/v1/applications', '{"name": ');
    expect(notJson.status).toBe(400);
    expect((await api(hub).get('/api/v1/applications/nope')).status).toBe(404);
    expect((await api(hub).get('/api/v1/applications')).body.map((a: any) => a.name)).toEqual([
      'guestbook',
    ]);
    expect((await api(hub).get('/api/v1/clusters')).body).toHaveLength(2);
  });

  it('refuses an agent with a wrong token', async () => {
    const dir = await tempDir('axle-agent-bad-');
    agentDirs.push(dir);
    const intruder = startTestAgent({
      hub,
      token: 'axle_agent_not-a-real-token',
      cluster: clusters[1],
      stateDir: dir.path,
    });
    agents.push(intruder);
    // Refused by the hub (not merely slow): twice, so no attempt got in between.
    const refused = await waitFor('the intruder refused twice', () =>
      Promise.resolve((intruder.lastDisconnect?.count ?? 0) >= 2 && intruder.lastDisconnect),
    );
    expect(refused.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(intruder.connected).toBe(false);
  });

  it('serves OpenAPI and health endpoints', async () => {
    const doc = await api(hub).get('/api/docs/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/clusters',
        '/api/v1/applications',
        '/api/v1/applications/{name}/status',
      ]),
    );
    expect((await api(hub).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await api(hub).get('/readyz')).body.checks).toEqual({ database: 'ok', grpc: 'ok' });
  });
});
