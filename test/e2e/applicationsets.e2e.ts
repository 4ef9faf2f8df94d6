import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import {
  TEST_ADMIN_TOKEN,
  api,
  createTestDatabase,
  startTestAgent,
  startTestHub,
  tempDir,
  waitFor,
} from '../support/hub-harness.js';
import type { TestCluster } from '../support/kube-cluster.js';

const cm = (app: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${app}-config\ndata:\n  app: ${app}\n`;

function core(c: TestCluster): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromString(c.kubeconfig);
  return kc.makeApiClient(CoreV1Api);
}

async function configMapApp(c: TestCluster, app: string): Promise<string | undefined> {
  try {
    const got = await core(c).readNamespacedConfigMap({
      name: `${app}-config`,
      namespace: `fleet-${app}`,
    });
    return got.data?.app;
  } catch {
    return undefined;
  }
}

describe('ApplicationSets: cluster generator × git directories over two real clusters', () => {
  const clusters = inject('clusters');
  let repo: TestRepo;
  let hub: RunningHub;
  let dbUrl: string;
  const agents: Agent[] = [];
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];

  const appset = () => `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: fleet
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - clusters:
              selector:
                matchLabels:
                  env: prod
          - git:
              repoURL: ${repo.fileUrl}
              revision: main
              directories:
                - path: apps/*
  template:
    metadata:
      name: '{{.path.basename}}-{{.name}}'
      labels:
        team: platform
    spec:
      project: default
      source:
        repoURL: ${repo.fileUrl}
        targetRevision: main
        path: '{{.path.path}}'
      destination:
        name: '{{.name}}'
        namespace: 'fleet-{{.path.basename}}'
      syncPolicy:
        automated:
          prune: true
`;
  const postYaml = async (path: string, yaml: string) => {
    const res = await fetch(`${hub.httpUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/yaml', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: yaml,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const appNames = async () =>
    ((await api(hub).get('/api/v1/applications')).body as any[])
      .map((a) => a.name as string)
      .sort();
  const allSynced = (names: string[]) =>
    waitFor(`Synced: ${names.join(', ')}`, async () => {
      const apps = (await api(hub).get('/api/v1/applications')).body as any[];
      const got = apps.map((a) => a.name).sort();
      return (
        JSON.stringify(got) === JSON.stringify([...names].sort()) &&
        apps.every((a) => a.status.sync === 'Synced')
      );
    });

  beforeAll(async () => {
    repo = await TestRepo.create();
    await repo.commit({
      'apps/a/cm.yaml': cm('a'),
      'apps/b/cm.yaml': cm('b'),
      'README.md': 'fleet',
    });
    const hubDir = await tempDir('axle-hub-appset-');
    dirs.push(hubDir);
    dbUrl = await createTestDatabase();
    hub = await startTestHub({ databaseUrl: dbUrl, dataDir: hubDir.path });
    for (const c of clusters) {
      const reg = await api(hub).post('/api/v1/clusters', {
        name: c.name,
        labels: { env: 'prod' },
      });
      const d = await tempDir(`axle-agent-appset-${c.name}-`);
      dirs.push(d);
      agents.push(startTestAgent({ hub, registration: reg.body, cluster: c, stateDir: d.path }));
    }
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    await repo?.remove();
    await Promise.all(dirs.map((d) => d.remove()));
  });

  it('refuses YAML whose aliases expand past the document limit, naming why', async () => {
    const pad = 'x'.repeat(20_000);
    const bomb = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: bomb
spec:
  generators:
    - list:
        elements:
          - {env: a, pad: &a ${pad}}
          - {env: b, copies: [${Array.from({ length: 60 }, () => '*a').join(', ')}]}
  template:
    metadata: {name: 'bomb-{{env}}'}
    spec:
      project: default
      source: {repoURL: ${repo.fileUrl}, targetRevision: main, path: apps/a}
      destination: {name: ${clusters[0].name}, namespace: bomb}
`;
    const res = await postYaml('/api/v1/applicationsets', bomb);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(
      'larger than 1 MiB once its YAML aliases are expanded',
    );
    expect((await api(hub).get('/api/v1/applicationsets/bomb')).status).toBe(404);
  });

  it('previews as a dry run without creating anything', async () => {
    const res = await postYaml('/api/v1/applicationsets/dry-run', appset());
    expect(res.status).toBe(200);
    expect(res.body.applications.map((a: any) => a.metadata.name).sort()).toEqual([
      'a-east',
      'a-west',
      'b-east',
      'b-west',
    ]);
    expect(res.body.applications[0]).toMatchObject({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
    });
    expect(res.body.plan.create.sort()).toEqual(['a-east', 'a-west', 'b-east', 'b-west']);
    expect(await appNames()).toEqual([]);
  });

  it('accepts the Argo CD YAML as it is and deploys every app × cluster', async () => {
    const res = await postYaml('/api/v1/applicationsets', appset());
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([]);
    await allSynced(['a-east', 'a-west', 'b-east', 'b-west']);
    for (const c of clusters) {
      expect(await configMapApp(c, 'a')).toBe('a');
      expect(await configMapApp(c, 'b')).toBe('b');
    }
    // Four applications, two distinct sources: two renders; the others come from the render cache.
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const counter = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? 0);
    expect(counter(/^axle_renders_total\{tool="directory",result="ok"\} (\d+)$/m)).toBe(2);
    expect(counter(/^axle_render_cache_hits_total (\d+)$/m)).toBe(2);
    // Listed by the set that generates them, and by cluster (east's two: placed there).
    const listed = async (q: string) =>
      ((await api(hub).get(`/api/v1/applications?${q}`)).body as any[]).map((a) => a.name);
    expect(await listed('appSet=fleet')).toEqual(['a-east', 'a-west', 'b-east', 'b-west']);
    expect(await listed('appSet=other')).toEqual([]);
    expect(await listed('appSet=fleet&cluster=east&limit=1&after=a-east')).toEqual(['b-east']);
    const status = (await api(hub).get('/api/v1/applicationsets/fleet')).body.status;
    expect(status.conditions.map((c: any) => `${c.type}=${c.status}`)).toEqual([
      'ErrorOccurred=False',
      'ParametersGenerated=True',
      'ResourcesUpToDate=True',
    ]);
    // The same document again, as a dry run: nothing to create, update or delete.
    const again = await postYaml('/api/v1/applicationsets/dry-run', appset());
    expect(again.status).toBe(200);
    expect(again.body.plan).toMatchObject({ create: [], update: [], delete: [] });
    expect(again.body.plan.unchanged.sort()).toEqual(['a-east', 'a-west', 'b-east', 'b-west']);
  });

  it('writes the template again over a hand edit of an application it generates', async () => {
    const before = (await api(hub).get('/api/v1/applications/a-east')).body.spec;
    const edited = { ...before, destination: { ...before.destination, namespace: 'by-hand' } };
    expect((await api(hub).put('/api/v1/applications/a-east', edited)).status).toBe(200);
    await waitFor('the edit reverted', async () => {
      const spec = (await api(hub).get('/api/v1/applications/a-east')).body.spec;
      return spec.destination.namespace === 'fleet-a';
    });
    // Its labels are the template's, shown and selected on; a new set by hand is refused.
    const shown = (await api(hub).get('/api/v1/applications/a-east')).body;
    expect(shown.labels).toEqual({ team: 'platform' });
    const byLabel = (await api(hub).get('/api/v1/applications?selector=team%3Dplatform')).body;
    expect(byLabel.map((a: { name: string }) => a.name)).toContain('a-east');
    const relabel = await api(hub).put('/api/v1/applications/a-east', {
      name: 'a-east',
      labels: { team: 'mine' },
      spec: shown.spec,
    });
    expect(relabel.status).toBe(400);
    expect(relabel.body.fields).toEqual([
      { field: 'labels', reason: expect.stringMatching(/generated by an ApplicationSet/) },
    ]);
  });

  it('skips the evaluation on a commit that only changes files inside its directories', async () => {
    const evaluations = async () => {
      const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
      const n = (o: string) =>
        Number(
          new RegExp(`^axle_appset_evaluations_total\\{outcome="${o}"\\} (\\d+)$`, 'm').exec(
            text,
          )?.[1] ?? 0,
        );
      return { evaluated: n('evaluated'), skipped: n('skipped') };
    };
    // The evaluation after one that changed something (its own writes are among its inputs) runs
    // by itself some seconds later, changes nothing, and records what it read.
    await waitFor('fleet settled', async () => {
      const st = (await api(hub).get('/api/v1/applicationsets/fleet')).body.status;
      return typeof st.fingerprint === 'string' && Array.isArray(st.gitReads);
    });
    const before = await evaluations();
    const sha = await repo.commit({
      'apps/a/cm.yaml': cm('a').replace('app: a', 'app: a\n  v: "2"'),
    });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor('the changed applications applied', async () => {
      const apps = (await api(hub).get('/api/v1/applications')).body as any[];
      return apps
        .filter((a) => a.name.startsWith('a-'))
        .every((a) => a.status.revision === sha && a.status.sync === 'Synced');
    });
    await waitFor('the ApplicationSet looked at the commit', async () => {
      const now = await evaluations();
      return now.skipped + now.evaluated > before.skipped + before.evaluated;
    });
    const after = await evaluations();
    expect(after.evaluated).toBe(before.evaluated);
    expect(after.skipped).toBeGreaterThan(before.skipped);
    expect(await appNames()).toEqual(['a-east', 'a-west', 'b-east', 'b-west']);
  });

  it('is evaluated each time, not in a loop, when its template reads chance', async () => {
    const churn = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: churn
spec:
  goTemplate: true
  generators:
    - list:
        elements:
          - n: one
  template:
    metadata:
      name: 'churn-{{.n}}'
      labels:
        nonce: '{{ randAlphaNum 8 }}'
    spec:
      project: default
      source:
        repoURL: ${repo.fileUrl}
        targetRevision: main
        path: apps/a
      destination:
        name: ${clusters[0].name}
        namespace: fleet-churn
`;
    const created = await postYaml('/api/v1/applicationsets', churn);
    expect(created.body).toMatchObject({ name: 'churn' });
    expect(created.status).toBe(201);
    const applies = async () =>
      ((await api(hub).get('/api/v1/events?kind=ApplicationSet&name=churn')).body as any[]).filter(
        (e) => e.action === 'applicationset.apply',
      ).length;
    const queued = async () => {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      try {
        const r = await c.query(
          `SELECT count(*) AS n FROM work_queue w JOIN application_sets s ON s.id = w.key
            WHERE w.kind = 'appset' AND s.name = 'churn'`,
        );
        return Number(r.rows[0].n);
      } finally {
        await c.end();
      }
    };
    // Its label renders anew each time, so no input fingerprint can stand for it: it is never
    // skipped, and gets no settling run after its changes (which would change it again). Created,
    // and then its work is done: nothing runs it again until something asks.
    await waitFor('churn created', async () => (await applies()) === 1, { timeoutMs: 10_000 });
    await waitFor('no further run of churn waiting', async () => (await queued()) === 0, {
      timeoutMs: 5_000,
    });
    await new Promise((r) => setTimeout(r, 12_000)); // past when a settling run would have come
    expect(await applies()).toBe(1);
    expect(await queued()).toBe(0);
    const st = (await api(hub).get('/api/v1/applicationsets/churn')).body.status;
    expect(st.fingerprint).toBeUndefined();
    expect((await api(hub).delete('/api/v1/applicationsets/churn')).status).toBeLessThan(300);
  });

  it('gives each evaluation its own cluster labels and annotations: a template that changes them changes nothing next time', async () => {
    // sprig's set adds a key to the map it is given; counted, the keys show whether the next
    // evaluation reads the maps this one changed (or maps it cannot change). A cluster labelled
    // as Argo CD's cluster Secrets are, with annotations: the generator hands both maps on as the
    // inventory holds them.
    const maps = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: maps
spec:
  goTemplate: true
  generators:
    - clusters:
        selector:
          matchLabels:
            maps: 'yes'
  template:
    metadata:
      name: 'maps-{{.name}}'
    spec:
      project: default
      source:
        repoURL: ${repo.fileUrl}
        targetRevision: main
        path: apps/a
      destination:
        name: '{{.name}}'
        namespace: 'maps-{{ $_ := set .metadata.labels (printf "added-%d" (len .metadata.labels)) "x" }}{{ len .metadata.labels }}-{{ $_ := set .metadata.annotations (printf "added-%d" (len .metadata.annotations)) "x" }}{{ len .metadata.annotations }}'
`;
    const registered = await api(hub).post('/api/v1/clusters', {
      name: 'maps-cluster',
      labels: { maps: 'yes', 'argocd.argoproj.io/secret-type': 'cluster' },
      annotations: { owner: 'platform' },
    });
    expect(registered.status).toBe(201);
    expect((await postYaml('/api/v1/applicationsets', maps)).status).toBe(201);
    const status = async () => (await api(hub).get('/api/v1/applicationsets/maps')).body.status;
    const keys = async () =>
      Object.fromEntries(
        ((await api(hub).get('/api/v1/applications?appSet=maps')).body as any[]).map((a) => [
          a.name,
          a.spec.destination.namespace,
        ]),
      );
    const first = await waitFor('maps generated', async () => {
      const k = await keys();
      return Object.keys(k).length > 0 && k;
    });
    // Two labels and one annotation, each map one key longer once set has run.
    expect(first).toEqual({ 'maps-maps-cluster': 'maps-3-2' });
    for (let i = 0; i < 2; i++) {
      const before = (await status()).lastEvaluatedAt as string;
      expect((await api(hub).post('/api/v1/applicationsets/maps/refresh', {})).status).toBe(202);
      await waitFor('evaluated again', async () => (await status()).lastEvaluatedAt !== before);
    }
    const st = await status();
    expect(
      st.conditions.filter((c: any) => c.type === 'ErrorOccurred' && c.status === 'True'),
    ).toEqual([]);
    expect(await keys()).toEqual(first);
    expect((await api(hub).delete('/api/v1/applicationsets/maps')).status).toBeLessThan(300);
    await waitFor('maps deleted', async () => Object.keys(await keys()).length === 0);
    expect((await api(hub).delete('/api/v1/clusters/maps-cluster')).status).toBe(204);
  });

  it('re-evaluates on a commit that adds a directory', async () => {
    await repo.commit({ 'apps/c/cm.yaml': cm('c') });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await allSynced(['a-east', 'a-west', 'b-east', 'b-west', 'c-east', 'c-west']);
    for (const c of clusters) expect(await configMapApp(c, 'c')).toBe('c');
  });

  it('re-evaluates when a cluster is relabelled, and prunes what left', async () => {
    const res = await api(hub).put('/api/v1/clusters/west', undefined);
    expect(res.status).toBe(404); // clusters are PATCHed, not PUT
    const patch = await fetch(`${hub.httpUrl}/api/v1/clusters/west`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: JSON.stringify({ labels: { env: 'staging' } }),
    });
    expect(patch.status).toBe(200);
    await allSynced(['a-east', 'b-east', 'c-east']);
    await waitFor('west pruned', async () => (await configMapApp(clusters[1], 'a')) === undefined);
    expect(await configMapApp(clusters[0], 'a')).toBe('a');
  });

  it('holds back a mass deletion until it is confirmed', async () => {
    await repo.commit({ 'apps/a/cm.yaml': null, 'apps/b/cm.yaml': null });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const pending = await waitFor('deletion pending', async () => {
      const s = (await api(hub).get('/api/v1/applicationsets/fleet')).body.status;
      return s.pendingDeletion.length ? s : false;
    });
    expect(pending.pendingDeletion.sort()).toEqual(['a-east', 'b-east']);
    expect(pending.conditions.find((c: any) => c.type === 'ResourcesUpToDate')).toMatchObject({
      status: 'False',
      reason: 'DeletionPending',
    });
    expect(await appNames()).toEqual(['a-east', 'b-east', 'c-east']);
    const confirm = await api(hub).post('/api/v1/applicationsets/fleet/confirm-deletion');
    expect(confirm.body.confirmed.sort()).toEqual(['a-east', 'b-east']);
    await allSynced(['c-east']);
    await waitFor('east pruned', async () => (await configMapApp(clusters[0], 'a')) === undefined);
  });

  it('does not call an ApplicationSet healthy while one of its applications cannot render', async () => {
    await repo.commit({ 'apps/c/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: [broken\n' });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const view = await waitFor('the failing application shown on its ApplicationSet', async () => {
      const v = (await api(hub).get('/api/v1/applicationsets/fleet')).body;
      return v.applicationConditions.length ? v : false;
    });
    expect(view.applicationConditions).toEqual([
      { name: 'c-east', type: 'RenderError', message: expect.stringContaining('apps/c/cm.yaml') },
    ]);
    // The application is not Synced at a commit it cannot render (Argo CD: Unknown).
    expect((await api(hub).get('/api/v1/applications/c-east')).body.status.sync).toBe('Unknown');
    await repo.commit({ 'apps/c/cm.yaml': cm('c') });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor('healthy again', async () => {
      const v = (await api(hub).get('/api/v1/applicationsets/fleet')).body;
      return v.applicationConditions.length === 0;
    });
  });

  it('deletes nothing when a generator fails', async () => {
    const res = await fetch(`${hub.httpUrl}/api/v1/applicationsets/fleet`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: appset().replace('revision: main', 'revision: no-such-branch'),
    });
    expect(res.status).toBe(200);
    const s = await waitFor('generator error reported', async () => {
      const st = (await api(hub).get('/api/v1/applicationsets/fleet')).body.status;
      const p = st.conditions.find((c: any) => c.type === 'ParametersGenerated');
      return p?.status === 'False' ? st : false;
    });
    expect(s.conditions.find((c: any) => c.type === 'ErrorOccurred').message).toContain(
      'no-such-branch',
    );
    expect(await appNames()).toEqual(['c-east']);
    expect(await configMapApp(clusters[0], 'c')).toBe('c');
  });

  it('reports bad documents by path and unsupported fields as warnings', async () => {
    const bad = await postYaml(
      '/api/v1/applicationsets',
      appset().replace('name: fleet', 'name: broken').replace('matchLabels:', 'matchLables:'),
    );
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.fields)).toContain('matchLables');
    const warn = await postYaml(
      '/api/v1/applicationsets',
      appset()
        .replace('name: fleet', 'name: with-strategy')
        .replace(
          '  goTemplate: true',
          '  strategy:\n    type: AllAtOnce\n    deletionOrder: Reverse\n  goTemplate: true',
        ),
    );
    expect(warn.status).toBe(201);
    expect(warn.body.warnings.map((w: any) => w.path)).toEqual(['spec.strategy.deletionOrder']);
    // RollingSync without steps is refused, by path.
    const noSteps = await postYaml(
      '/api/v1/applicationsets',
      appset()
        .replace('name: fleet', 'name: no-steps')
        .replace('  goTemplate: true', '  strategy:\n    type: RollingSync\n  goTemplate: true'),
    );
    expect(noSteps.status).toBe(400);
    expect(noSteps.body.fields).toContainEqual({
      field: 'spec.strategy.rollingSync',
      reason: 'RollingSync needs rollingSync.steps',
    });
  });

  it('refuses a template that renders for none of its parameter sets, and takes a repeated key', async () => {
    const never = await postYaml(
      '/api/v1/applicationsets',
      appset()
        .replace('name: fleet', 'name: never')
        .replace(
          '  goTemplate: true',
          '  goTemplate: true\n  goTemplateOptions: ["missingkey=error"]',
        )
        .replace(/name: '[^']*\{\{[^']*'/, "name: '{{.path.basenameNormalized}}-{{.nosuch}}'"),
    );
    expect(never.status).toBe(400);
    expect(never.body.message).toContain('renders for none of the generated parameter sets');
    expect(never.body.fields[0]).toMatchObject({
      field: 'spec.template',
      reason: expect.stringContaining('map has no entry for key "nosuch"'),
    });
    expect((await api(hub).get('/api/v1/applicationsets/never')).status).toBe(404);
    // As kubectl reads it: the last of two equal keys wins.
    const twice = await postYaml(
      '/api/v1/applicationsets',
      appset().replace('name: fleet', 'name: twice\n  name: twice-last'),
    );
    expect(twice.status).toBe(201);
    expect(twice.body.name).toBe('twice-last');
    expect((await api(hub).delete('/api/v1/applicationsets/twice-last')).status).toBe(204);
  });

  it('deletes the applications an evaluation writes while the ApplicationSet is being deleted', async () => {
    const created = await postYaml(
      '/api/v1/applicationsets',
      appset()
        .replace('name: fleet', 'name: doomed')
        .replace("'{{.path.basename}}-{{.name}}'", "'doomed-{{.path.basename}}-{{.name}}'"),
    );
    expect(created.status).toBe(201);
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    try {
      const [{ id }] = (await db.query(`SELECT id FROM application_sets WHERE name = 'doomed'`))
        .rows as { id: string }[];
      // An evaluation writing its results: its work item locked (the fence), an application added.
      await db.query('BEGIN');
      await db.query(
        `INSERT INTO work_queue (kind, key, reason) VALUES ('appset', $1, 'test')
         ON CONFLICT (kind, key) DO UPDATE SET reason = 'test'`,
        [id],
      );
      await db.query(
        `INSERT INTO applications (name, spec, app_set_id, spec_hash) VALUES ('doomed-late', $1, $2, 'x')`,
        [
          JSON.stringify({
            project: 'default',
            source: { repoURL: repo.fileUrl, path: 'apps/a' },
            destination: { cluster: 'east', namespace: 'late' },
          }),
          id,
        ],
      );
      const deleting = api(hub).delete('/api/v1/applicationsets/doomed');
      await new Promise((r) => setTimeout(r, 300));
      await db.query('COMMIT');
      expect((await deleting).status).toBe(204);
      const left = await db.query(`SELECT name FROM applications WHERE name LIKE 'doomed-%'`);
      expect(left.rows).toEqual([]);
    } finally {
      await db.end();
    }
  });
});
