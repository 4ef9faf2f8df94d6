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
import { configMapValue, markDeploymentAvailable, readObject } from './agent-support.js';

const db = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: db
spec:
  replicas: 1
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [{ name: db, image: postgres:17 }] }
`;
const apiCm = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api\ndata:\n  v: "1"\n`;

describe('dependsOn across clusters: the api in one cluster waits for the database in another', () => {
  const [east, west] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  const agents: Agent[] = [];
  const enrolled = new Map<string, { registration: Registration; stateDir: string }>();
  const cleanup: (() => Promise<void>)[] = [];

  const apiConfigMap = () => configMapValue(east, 'deps-api', 'api');
  const app = async (name: string) => (await api(hub).get(`/api/v1/applications/${name}`)).body;

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ 'db/deploy.yaml': db, 'api/cm.yaml': apiCm });
    const dir = await tempDir('axle-hub-deps-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    for (const [name, on] of [
      ['dep-east', east],
      ['dep-west', west],
    ] as const) {
      const registration: Registration = (
        await api(hub).post('/api/v1/clusters', { name, labels: { tier: name } })
      ).body;
      const state = await tempDir(`axle-agent-${name}-`);
      cleanup.push(state.remove);
      enrolled.set(name, { registration, stateDir: state.path });
      agents.push(startTestAgent({ hub, registration, cluster: on, name, stateDir: state.path }));
    }
    await waitFor('agents connected', () => Promise.resolve(agents.every((a) => a.connected)));
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    for (const c of cleanup) await c();
  });

  const spec = (name: string, cluster: string, extra: Record<string, unknown> = {}) => ({
    name,
    source: { repoURL: repo.fileUrl, targetRevision: 'main', path: name },
    destination: { cluster, namespace: `deps-${name}` },
    syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
    ...extra,
  });

  it('refuses a dependency cycle at admission, naming it', async () => {
    expect(
      (
        await api(hub).post(
          '/api/v1/applications',
          spec('a', 'dep-east', { dependsOn: [{ application: 'b' }] }),
        )
      ).status,
    ).toBe(201);
    const b = await api(hub).post(
      '/api/v1/applications',
      spec('b', 'dep-east', { dependsOn: [{ application: 'a' }] }),
    );
    expect(b.status).toBe(400);
    expect(b.body.fields).toEqual([{ field: 'dependsOn', reason: 'dependency cycle: b → a → b' }]);
    const self = await api(hub).put(
      '/api/v1/applications/a',
      spec('a', 'dep-east', { dependsOn: [{ application: 'a' }] }),
    );
    expect(self.body.fields).toEqual([{ field: 'dependsOn', reason: 'dependency cycle: a → a' }]);
    expect((await api(hub).delete('/api/v1/applications/a')).status).toBe(204);
    // Among generated applications too: each one of the cycle fails, by name.
    const dry = await api(hub).post('/api/v1/applicationsets/dry-run', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'loop' },
      spec: {
        goTemplate: true,
        generators: [
          {
            list: {
              elements: [
                { me: 'x', other: 'y' },
                { me: 'y', other: 'x' },
              ],
            },
          },
        ],
        template: {
          metadata: { name: 'loop-{{.me}}' },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'api' },
            destination: { name: 'dep-east', namespace: 'loop-{{.me}}' },
            dependsOn: [{ application: 'loop-{{.other}}' }],
          },
        },
      },
    });
    expect(dry.status).toBe(200);
    expect(dry.body.errors).toEqual([
      { name: 'loop-x', message: 'spec.dependsOn: dependency cycle: loop-x → loop-y → loop-x' },
      { name: 'loop-y', message: 'spec.dependsOn: dependency cycle: loop-y → loop-x → loop-y' },
    ]);
  });

  it('syncs the api only once the database is Synced and Healthy at its new bundle', async () => {
    expect((await api(hub).post('/api/v1/applications', spec('db', 'dep-west'))).status).toBe(201);
    expect(
      (
        await api(hub).post(
          '/api/v1/applications',
          spec('api', 'dep-east', { dependsOn: [{ application: 'db', cluster: 'dep-west' }] }),
        )
      ).status,
    ).toBe(201);
    // The database is applied but not Healthy (no controller runs here): the api waits.
    await waitFor('db applied, Progressing', async () => {
      const c = (await app('db')).status.clusters[0];
      return c?.appliedGeneration > 0 && c.health === 'Progressing';
    });
    const waiting = await waitFor('api waiting', async () => {
      const c = (await app('api')).status.clusters[0];
      return c?.message.includes('waiting for db on dep-west') ? c : false;
    });
    expect(waiting).toMatchObject({ sync: 'OutOfSync', desiredGeneration: 0 });
    expect(await apiConfigMap()).toBeUndefined();
    // The rollout loop (every second) counts it.
    await waitFor('waiting counted', async () =>
      /^axle_dependency_waiting\{app="api",cluster="dep-east"\} 1$/m.test(
        await (await fetch(`${hub.httpUrl}/metrics`)).text(),
      ),
    );
    // A person's sync waits too.
    const sync = await api(hub).post('/api/v1/applications/api/sync', {});
    expect(sync.status).toBe(409);
    expect(sync.body.message).toContain('waiting for db on dep-west');

    // The database becomes available, as its controller would report it.
    await markDeploymentAvailable(west, 'deps-db', 'db');
    await waitFor('db Healthy', async () => (await app('db')).status.health === 'Healthy');
    await waitFor('api deployed', async () => (await apiConfigMap()) === '1', {
      timeoutMs: 20_000,
    });
    await waitFor('api Synced', async () => (await app('api')).status.sync === 'Synced');
  });

  it('deletes applications that go away together in reverse order: the api before its database', async () => {
    const appset = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'rev' },
      spec: {
        goTemplate: true,
        generators: [
          {
            list: {
              elements: [
                { name: 'db', cluster: 'dep-west', dep: '' },
                { name: 'api', cluster: 'dep-east', dep: 'db' },
              ],
            },
          },
        ],
        template: {
          metadata: { name: 'rev-{{.name}}' },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: '{{.name}}' },
            destination: { name: '{{.cluster}}', namespace: 'rev-{{.name}}' },
            syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
          },
        },
        templatePatch: `{{- if .dep }}
spec:
  dependsOn:
    - application: rev-{{ .dep }}
{{- end }}`,
      },
    };
    expect((await api(hub).post('/api/v1/applicationsets', appset)).status).toBe(201);
    await waitFor('rev-db applied', async () => {
      const c = (await app('rev-db')).status.clusters[0];
      return c?.appliedGeneration > 0;
    });
    await markDeploymentAvailable(west, 'rev-db', 'db');
    const revApi = () => configMapValue(east, 'rev-api', 'api');
    await waitFor('rev-api deployed after rev-db', async () => (await revApi()) === '1', {
      timeoutMs: 20_000,
    });
    const dbDeployment = () =>
      readObject(west, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'db',
        namespace: 'rev-db',
      });

    // The api's cluster is unreachable: its removal cannot finish, so the database's waits.
    await agents[0].stop();
    expect((await api(hub).delete('/api/v1/applicationsets/rev')).status).toBe(204);
    // Bounded check that nothing happens: without the ordering, the west agent prunes the
    // database within a second of the deletion.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await dbDeployment()).toBeDefined();
    expect(await revApi()).toBe('1');

    // The api's agent comes back, removes the api and says so; then the database goes.
    const east0 = enrolled.get('dep-east')!;
    agents[0] = startTestAgent({
      hub,
      registration: east0.registration,
      cluster: east,
      name: 'dep-east',
      stateDir: east0.stateDir,
    });
    await waitFor('rev-api removed', async () => (await revApi()) === undefined, {
      timeoutMs: 20_000,
    });
    await waitFor('rev-db removed after it', async () => (await dbDeployment()) === undefined, {
      timeoutMs: 20_000,
    });
  });
});
