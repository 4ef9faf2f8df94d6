import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { axle } from '../support/cli.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  registerAndStartAgent,
  startTestHub,
  tempDir,
  waitFor,
} from '../support/hub-harness.js';
import { configMapValue } from './agent-support.js';

/** Names unique to this run: the test clusters are shared by the suites. */
const run = Math.random().toString(36).slice(2, 8);
const cm = (name: string, v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: "${v}"\n`;

/** An Argo CD Application manifest as an app-of-apps repository holds it. */
function child(
  name: string,
  repoURL: string,
  path: string,
  opts: { prune?: boolean; namespace?: string; project?: string } = {},
): string {
  return [
    'apiVersion: argoproj.io/v1alpha1',
    'kind: Application',
    'metadata:',
    `  name: ${name}`,
    '  namespace: argocd',
    '  labels: { tier: child }',
    '  finalizers: [resources-finalizer.argocd.argoproj.io]',
    'spec:',
    `  project: ${opts.project ?? 'default'}`,
    '  source:',
    `    repoURL: ${repoURL}`,
    '    targetRevision: main',
    `    path: ${path}`,
    '  destination:',
    '    server: https://kubernetes.default.svc',
    `    namespace: ${opts.namespace ?? name}`,
    '  syncPolicy:',
    `    automated: { prune: ${opts.prune ?? true} }`,
    '    syncOptions: [CreateNamespace=true]',
    '',
  ].join('\n');
}

describe('app of apps: Argo CD Applications in manifests are child applications of the hub', () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let agent: Agent;
  const cleanup: (() => Promise<void>)[] = [];
  const get = async (name: string) => api(hub).get(`/api/v1/applications/${name}`);

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    const url = repo.fileUrl;
    await repo.commit({
      'apps/web/cm.yaml': cm('web', '1'),
      'apps/api/cm.yaml': cm('api', '1'),
      'apps/manual/cm.yaml': cm('manual', '1'),
      // The root: two children, one broken, one naming an application that is not its own,
      // and a ConfigMap of its own (deployed as usual).
      'root/web.yaml': child(`web-${run}`, url, 'apps/web'),
      'root/api.yaml': child(`api-${run}`, url, 'apps/api'),
      'root/broken.yaml': child(`broken-${run}`, url, '../../etc'),
      'root/taken.yaml': child(`standalone-${run}`, url, 'apps/web'),
      'root/own.yaml': cm('root-own', '1'),
      // In another project than its parent's: a parent makes applications in its own only.
      'root/elsewhere.yaml': child(`elsewhere-${run}`, url, 'apps/web', { project: 'team' }),
      'last-root/only.yaml': child(`only-${run}`, url, 'apps/api', { namespace: `only-${run}` }),
      // Apps of apps of apps: a child that is itself a parent.
      'nest-root/mid.yaml': child(`mid-${run}`, url, 'nest-mid', { namespace: `mid-${run}` }),
      'nest-mid/leaf.yaml': child(`leaf-${run}`, url, 'apps/web', { namespace: `leaf-${run}` }),
      'manual-root/child.yaml': child(`manual-child-${run}`, url, 'apps/manual'),
    });
    const dir = await tempDir('axle-hub-aoa-');
    cleanup.push(dir.remove);
    hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: { AXLE_IN_CLUSTER: 'hub-home' },
    });
    agent = await registerAndStartAgent(hub, { cluster: east, name: 'hub-home', cleanup });
    await waitFor('agent connected', () => Promise.resolve(agent.connected));
  });
  afterAll(async () => {
    await agent?.stop();
    await hub?.close();
    for (const c of cleanup) await c();
  });

  it('creates, updates and prunes the children of an automated root as its manifests change', async () => {
    const standalone = await api(hub).post('/api/v1/applications', {
      name: `standalone-${run}`,
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'apps/api' },
      destination: { cluster: 'hub-home', namespace: `standalone-${run}` },
    });
    expect(standalone.status, JSON.stringify(standalone.body)).toBe(201);
    const root = await api(hub).post('/api/v1/applications', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: `root-${run}`, namespace: 'argocd' },
      spec: {
        project: 'default',
        source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'root' },
        destination: { server: 'https://kubernetes.default.svc', namespace: `root-${run}` },
        syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
      },
    });
    expect(root.status, JSON.stringify(root.body)).toBe(201);

    // The children are applications of the hub, deployed by their own specs.
    await waitFor(
      'children deployed',
      async () =>
        (await configMapValue(east, `web-${run}`, 'web')) === '1' &&
        (await configMapValue(east, `api-${run}`, 'api')) === '1',
    );
    const web = (await get(`web-${run}`)).body;
    expect(web.parent).toBe(`root-${run}`);
    expect(web.labels).toEqual({ tier: 'child' });
    expect(web.spec.destination).toEqual({ cluster: 'in-cluster', namespace: `web-${run}` });
    // The root deploys its own ConfigMap; its Application objects are never applied (the test
    // cluster has no Application CRD: applying one would fail the root's sync).
    await waitFor('root Synced and Healthy', async () => {
      const v = (await get(`root-${run}`)).body;
      return v.status.sync === 'Synced' && v.status.health === 'Healthy';
    });
    expect(await configMapValue(east, `root-${run}`, 'root-own')).toBe('1');
    const rootView = (await get(`root-${run}`)).body;
    expect(rootView.parent).toBeUndefined();
    const resources = rootView.status.clusters[0].resources.map((r: { kind: string }) => r.kind);
    expect(resources).toEqual(['ConfigMap']);
    // What it refused, it says: the broken child and the name owned by another application.
    const [condition] = rootView.status.conditions;
    expect(condition.type).toBe('ChildApplicationError');
    expect(condition.message).toContain(`child application "broken-${run}": spec.source.path`);
    expect(condition.message).toContain(
      `child application "standalone-${run}": an application of that name exists and is not a child of this one`,
    );
    expect(condition.message).toContain(
      `child application "elsewhere-${run}": spec.project: "team" is not its parent's project ("default")`,
    );
    expect((await get(`elsewhere-${run}`)).status).toBe(404);
    expect((await get(`broken-${run}`)).status).toBe(404);
    // Listed by parent (the console's tab, `axle app list --parent`).
    const listed = await axle(hub, ['-o', 'json', 'app', 'list', '--parent', `root-${run}`]);
    expect(listed.code, listed.err).toBe(0);
    expect((JSON.parse(listed.out) as { name: string }[]).map((a) => a.name)).toEqual([
      `api-${run}`,
      `web-${run}`,
    ]);
    expect((await get(`standalone-${run}`)).body.parent).toBeUndefined();

    // A child is changed in its parent's manifests, not by hand.
    const edit = await api(hub).put(`/api/v1/applications/web-${run}`, {
      ...web.spec,
      source: { ...web.spec.source, path: 'apps/api' },
    });
    expect(edit.status).toBe(409);
    expect(edit.body.message).toContain(`is a child of application "root-${run}"`);

    // A commit: web's child moves, api's is gone from the root (the root prunes).
    await repo.commit({
      'apps/web2/cm.yaml': cm('web', '2'),
      'root/web.yaml': child(`web-${run}`, repo.fileUrl, 'apps/web2'),
      'root/api.yaml': null,
    });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor(
      'web updated, api pruned with its resources',
      async () =>
        (await configMapValue(east, `web-${run}`, 'web')) === '2' &&
        (await configMapValue(east, `api-${run}`, 'api')) === undefined,
    );
    expect((await get(`api-${run}`)).status).toBe(404);
    // Recorded under the root, by the root.
    const audit = await api(hub).get(`/api/v1/events?kind=Application&name=root-${run}`);
    const events = (audit.body as { action: string; actor: string; after: unknown }[]).filter(
      (e) => e.action === 'application.children',
    );
    expect(events.map((e) => e.after)).toContainEqual({
      created: [],
      updated: [`web-${run}`],
      deleted: [`api-${run}`],
    });
    expect(events[0].actor).toBe(`application:root-${run}`);

    // A child whose document breaks is refused, not pruned: it keeps what it runs.
    await repo.commit({ 'root/web.yaml': child(`web-${run}`, repo.fileUrl, '../../web2') });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor('the broken child named in the root', async () =>
      ((await get(`root-${run}`)).body.status.conditions as { message: string }[]).some((c) =>
        c.message.includes(`child application "web-${run}": spec.source.path`),
      ),
    );
    expect((await get(`web-${run}`)).body.spec.source.path).toBe('apps/web2');
    expect(await configMapValue(east, `web-${run}`, 'web')).toBe('2');

    // Deleting the root deletes its children and their resources.
    expect((await api(hub).delete(`/api/v1/applications/root-${run}`)).status).toBeLessThan(300);
    await waitFor(
      'children gone with the root',
      async () =>
        (await get(`web-${run}`)).status === 404 &&
        (await configMapValue(east, `web-${run}`, 'web')) === undefined,
    );
    expect((await get(`standalone-${run}`)).status).toBe(200);
  });

  it("prunes the last child when the manifests drop it (the parent's bundle then holds none)", async () => {
    const root = await api(hub).post('/api/v1/applications', {
      name: `last-root-${run}`,
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'last-root' },
      destination: { cluster: 'in-cluster', namespace: `last-root-${run}` },
      syncPolicy: { automated: { prune: true } },
    });
    expect(root.status, JSON.stringify(root.body)).toBe(201);
    await waitFor(
      'the child deployed',
      async () => (await configMapValue(east, `only-${run}`, 'api')) === '1',
    );
    await repo.commit({ 'last-root/only.yaml': null, 'last-root/cm.yaml': cm('last', '1') });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor(
      'the child and its resources gone',
      async () =>
        (await get(`only-${run}`)).status === 404 &&
        (await configMapValue(east, `only-${run}`, 'api')) === undefined,
    );
  });

  it('nests: a child that is a parent has children of its own, deleted with the root', async () => {
    const root = await api(hub).post('/api/v1/applications', {
      name: `nest-root-${run}`,
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'nest-root' },
      destination: { cluster: 'in-cluster', namespace: `nest-root-${run}` },
      syncPolicy: { automated: { prune: true } },
    });
    expect(root.status, JSON.stringify(root.body)).toBe(201);
    await waitFor(
      'the grandchild deployed',
      async () => (await configMapValue(east, `leaf-${run}`, 'web')) !== undefined,
    );
    expect((await get(`leaf-${run}`)).body.parent).toBe(`mid-${run}`);
    expect((await get(`mid-${run}`)).body.parent).toBe(`nest-root-${run}`);
    const shown = await axle(hub, ['app', 'get', `mid-${run}`]);
    expect(shown.out).toMatch(new RegExp(`child applications: leaf-${run} \\(\\w+, \\w+\\)\n`));
    expect((await api(hub).delete(`/api/v1/applications/nest-root-${run}`)).status).toBeLessThan(
      300,
    );
    await waitFor(
      'child and grandchild gone, with their resources',
      async () =>
        (await get(`mid-${run}`)).status === 404 &&
        (await get(`leaf-${run}`)).status === 404 &&
        (await configMapValue(east, `leaf-${run}`, 'web')) === undefined,
    );
  });

  it('writes the children of a manual root when it is synced, as Argo CD applies them then', async () => {
    const root = await api(hub).post('/api/v1/applications', {
      name: `manual-root-${run}`,
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'manual-root' },
      destination: { cluster: 'in-cluster', namespace: `manual-root-${run}` },
    });
    expect(root.status, JSON.stringify(root.body)).toBe(201);
    await waitFor('rendered', async () => (await get(`manual-root-${run}`)).body.status.revision);
    expect((await get(`manual-child-${run}`)).status).toBe(404);
    const dry = await api(hub).post(`/api/v1/applications/manual-root-${run}/sync`, {
      dryRun: true,
    });
    expect(dry.status, JSON.stringify(dry.body)).toBeLessThan(300);
    expect(dry.body.children).toEqual({
      applications: [`manual-child-${run}`],
      refused: [],
      deleted: [],
    });
    expect((await get(`manual-child-${run}`)).status).toBe(404);
    const sync = await axle(hub, ['app', 'sync', `manual-root-${run}`]);
    expect(sync.code, sync.err).toBe(0);
    expect(sync.out).toContain(`child applications: manual-child-${run}\n`);
    await waitFor(
      'the child deployed',
      async () => (await configMapValue(east, `manual-child-${run}`, 'manual')) === '1',
    );
    expect((await get(`manual-child-${run}`)).body.parent).toBe(`manual-root-${run}`);
    const shown = await axle(hub, ['app', 'get', `manual-child-${run}`]);
    expect(shown.out).toContain(`child of application manual-root-${run}\n`);
  });
});
