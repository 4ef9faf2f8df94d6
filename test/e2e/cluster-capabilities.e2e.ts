import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import { ClustersService } from '../../apps/hub/src/clusters/clusters.service.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { WorkQueue } from '../../apps/hub/src/work/work-queue.js';
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
import { configMapValue, readObject } from './agent-support.js';

/** Names unique to this run: the test clusters are shared by the suites. */
const run = Math.random().toString(36).slice(2, 8);
const group = `caps-${run}.example.com`;

/** A chart that renders what Helm's .Capabilities say, as charts gate ServiceMonitors and such. */
const chart = {
  'charts/caps/Chart.yaml': 'apiVersion: v2\nname: caps\nversion: 0.1.0\n',
  'charts/caps/templates/cm.yaml': [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: caps',
    'data:',
    '  v: "{{ .Capabilities.KubeVersion.Version }}"',
    '  deployments: "{{ .Capabilities.APIVersions.Has "apps/v1/Deployment" }}"',
    `  widgets: "{{ .Capabilities.APIVersions.Has "${group}/v1/Widget" }}"`,
    '',
  ].join('\n'),
};

/** A CRD another application installs: once served, the chart sees it. */
const crd = [
  'apiVersion: apiextensions.k8s.io/v1',
  'kind: CustomResourceDefinition',
  'metadata:',
  `  name: widgets.${group}`,
  'spec:',
  `  group: ${group}`,
  '  scope: Namespaced',
  '  names: { plural: widgets, singular: widget, kind: Widget, listKind: WidgetList }',
  '  versions:',
  '    - name: v1',
  '      served: true',
  '      storage: true',
  '      schema:',
  '        openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true }',
  '',
].join('\n');

describe("cluster capabilities: Helm charts render for what their cluster's API server serves", () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let agent: Agent;
  const cleanup: (() => Promise<void>)[] = [];
  const cluster = `caps-${run}`;

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ ...chart, 'crds/widget.yaml': crd });
    const dir = await tempDir('axle-hub-caps-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    agent = await registerAndStartAgent(hub, { cluster: east, name: cluster, cleanup });
    await waitFor('agent connected', () => Promise.resolve(agent.connected));
  });
  afterAll(async () => {
    for (const name of [`chart-${run}`, `pinned-${run}`, `crds-${run}`])
      await api(hub).delete(`/api/v1/applications/${name}`);
    // The CRD goes with its application (the test clusters are shared by the suites).
    await waitFor(
      'CRD removed',
      async () =>
        (await readObject(east, {
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          name: `widgets.${group}`,
        })) === undefined,
    );
    await agent?.stop();
    await hub?.close();
    for (const c of cleanup) await c();
  });

  const app = (name: string, path: string, helm?: Record<string, unknown>) => ({
    name,
    source: { repoURL: repo.fileUrl, targetRevision: 'main', path, ...(helm && { helm }) },
    destination: { cluster, namespace: name },
    syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
  });

  it('shows what the agent reported, and renders a chart for it', async () => {
    await waitFor('cluster capabilities reported', async () => {
      const c = (await api(hub).get(`/api/v1/clusters/${cluster}`)).body;
      return c.kubernetes !== null && c.kubernetes !== undefined;
    });
    const view = (await api(hub).get(`/api/v1/clusters/${cluster}`)).body;
    expect(view.kubernetes.version).toMatch(/^v1\.34\.\d+$/);
    expect(view.kubernetes.apiVersions).toBeGreaterThan(50);
    const shown = await axle(hub, ['cluster', 'get', cluster]);
    expect(shown.out).toMatch(
      new RegExp(`${cluster}\\s+connected \\(\\S+\\)\\s+v1\\.34\\.\\d+\\s`),
    );

    for (const body of [
      app(`chart-${run}`, 'charts/caps'),
      // The application's own helm.kubeVersion and helm.apiVersions win, as in Argo CD.
      app(`pinned-${run}`, 'charts/caps', {
        kubeVersion: 'v1.30.1',
        apiVersions: ['apps/v1', `${group}/v1/Widget`],
      }),
    ]) {
      const res = await api(hub).post('/api/v1/applications', body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    await waitFor(
      'charts deployed',
      async () =>
        (await configMapValue(east, `chart-${run}`, 'caps')) !== undefined &&
        (await configMapValue(east, `pinned-${run}`, 'caps')) !== undefined,
    );
    // Helm alone renders for its own built-in version and API list (v1.37.0 with Helm 4, and no
    // kinds at all): these are the cluster's.
    expect(await configMapValue(east, `chart-${run}`, 'caps')).toBe(view.kubernetes.version);
    expect(await configMapValue(east, `chart-${run}`, 'caps', 'deployments')).toBe('true');
    expect(await configMapValue(east, `chart-${run}`, 'caps', 'widgets')).toBe('false');
    expect(await configMapValue(east, `pinned-${run}`, 'caps')).toBe('v1.30.1');
    expect(await configMapValue(east, `pinned-${run}`, 'caps', 'deployments')).toBe('false');
    expect(await configMapValue(east, `pinned-${run}`, 'caps', 'widgets')).toBe('true');
  });

  it('renders the chart again once an application installs the CRD it looks for', async () => {
    const res = await api(hub).post('/api/v1/applications', app(`crds-${run}`, 'crds'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    // The agent reads discovery again soon after it applied the CRD; the hub renders again.
    await waitFor(
      'chart rendered for the new API',
      async () => (await configMapValue(east, `chart-${run}`, 'caps', 'widgets')) === 'true',
    );
    const chartApp = (await api(hub).get(`/api/v1/applications/chart-${run}`)).body;
    expect(chartApp.status.sync).not.toBe('Unknown');
    // The pinned one does not depend on the cluster: unchanged.
    expect(await configMapValue(east, `pinned-${run}`, 'caps')).toBe('v1.30.1');
  });

  it('previews an ApplicationSet of the chart as rendered for the cluster: nothing changed', async () => {
    const res = await api(hub).post('/api/v1/applicationsets', {
      name: `caps-set-${run}`,
      spec: {
        generators: [{ list: { elements: [{ n: '1' }] } }],
        template: {
          metadata: { name: `gen-{{n}}-${run}` },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'charts/caps' },
            destination: { name: cluster, namespace: `gen-${run}` },
            syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
          },
        },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await waitFor(
      'generated chart deployed',
      async () => (await configMapValue(east, `gen-${run}`, 'caps', 'widgets')) === 'true',
    );
    const preview = await api(hub).get(
      `/api/v1/applicationsets/caps-set-${run}/diff?revision=main`,
    );
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    expect(preview.body).toMatchObject({ changed: [], added: [], removed: [], errors: [] });
    expect(preview.body.unchanged).toBe(1);
    expect((await api(hub).delete(`/api/v1/applicationsets/caps-set-${run}`)).status).toBeLessThan(
      300,
    );
  });

  it('stores each distinct set once, drops a set no cluster has for a while, and refuses a bad report', async () => {
    const clusters = hub.app.get(ClustersService);
    const db = hub.app.get(DataSource);
    const ids: string[] = [];
    for (const n of ['a', 'b']) {
      const res = await api(hub).post('/api/v1/clusters', { name: `caps-${n}-${run}` });
      expect(res.status).toBe(201);
      ids.push((await clusters.getEntity(`caps-${n}-${run}`)).id);
    }
    const [a, b] = ids.map((id, i) => ({ id, name: `caps-${'ab'[i]}-${run}` }));
    const info = { kubeVersion: 'v1.33.1', apiVersions: ['v1', 'apps/v1', `${group}/v1`] };
    /** The sets of these versions: kept ones, and those no cluster names any more. */
    const sets = async () =>
      db.query<{ v: string; unreferenced: boolean }[]>(
        `SELECT kube_version AS v, unreferenced_since IS NOT NULL AS unreferenced
           FROM cluster_capabilities WHERE kube_version IN ('v1.33.1', 'v1.33.2', 'v1.33.3')
          ORDER BY kube_version`,
      );
    const changed = async (c: typeof a, i: typeof info) =>
      (await clusters.recordCapabilities(c, i)).changed;
    expect(await changed(a, info)).toBe(true);
    expect(await changed(b, info)).toBe(true);
    expect(await changed(a, info)).toBe(false); // unchanged
    expect(await sets()).toEqual([{ v: 'v1.33.1', unreferenced: false }]);
    // One cluster moves on: the old set stays for the other. When no cluster names it, it is
    // marked, and deleted by a later change once it has been so for ten minutes.
    await changed(a, { ...info, kubeVersion: 'v1.33.2' });
    expect(await sets()).toEqual([
      { v: 'v1.33.1', unreferenced: false },
      { v: 'v1.33.2', unreferenced: false },
    ]);
    await changed(b, { ...info, kubeVersion: 'v1.33.2' });
    expect(await sets()).toEqual([
      { v: 'v1.33.1', unreferenced: true },
      { v: 'v1.33.2', unreferenced: false },
    ]);
    await db.query(
      `UPDATE cluster_capabilities SET unreferenced_since = now() - interval '11 minutes'
        WHERE kube_version = 'v1.33.1'`,
    );
    await changed(b, { ...info, kubeVersion: 'v1.33.3' });
    expect(await sets()).toEqual([
      { v: 'v1.33.2', unreferenced: false },
      { v: 'v1.33.3', unreferenced: false },
    ]);
    // A bad version refuses the report, naming the field; an odd entry is left out, saying so.
    await expect(
      clusters.recordCapabilities(a, { kubeVersion: '1.33; rm -rf /', apiVersions: [] }),
    ).rejects.toThrow(/kubeVersion: "1.33; rm -rf \/" is not a Kubernetes version/);
    expect(
      await clusters.recordCapabilities(a, {
        kubeVersion: 'v1.33.2',
        apiVersions: [...info.apiVersions, '../../etc'],
      }),
    ).toEqual({ changed: false, dropped: ['../../etc'] });
    expect((await api(hub).get(`/api/v1/clusters/${a.name}`)).body.kubernetes).toMatchObject({
      version: 'v1.33.2',
      apiVersions: 3,
    });
    // A change marks the applications going to the cluster whose render may read it: by
    // destination.cluster or destination.clusters (targets or not: a manual one never synced),
    // not a directory.
    const make = async (name: string, path: string, destination: object, auto: boolean) => {
      const res = await api(hub).post('/api/v1/applications', {
        name,
        source: { repoURL: repo.fileUrl, targetRevision: 'main', path },
        destination,
        ...(auto && { syncPolicy: { automated: {} } }),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    };
    await make(
      `m-chart-${run}`,
      'charts/caps',
      { clusters: [a.name, b.name], namespace: 'm' },
      false,
    );
    await make(`m-dir-${run}`, 'crds', { cluster: a.name, namespace: 'm' }, true);
    await make(`m-other-${run}`, 'charts/caps', { cluster: 'elsewhere', namespace: 'm' }, true);
    const tool = async (name: string) =>
      (
        await db.query<{ tool: string }[]>(
          `SELECT r.tool FROM app_renders r JOIN applications a ON a.id = r.app_id
            WHERE a.name = $1`,
          [name],
        )
      )[0]?.tool;
    await waitFor(
      'renders stored',
      async () =>
        (await tool(`m-dir-${run}`)) === 'directory' && (await tool(`m-chart-${run}`)) === 'helm',
    );
    const marked = await hub.app
      .get(WorkQueue)
      .apps({ readsCapabilitiesOf: { id: a.id, names: [a.name] } }, 'test');
    expect(marked).toBe(1);
    for (const n of ['m-chart', 'm-dir', 'm-other'])
      await api(hub).delete(`/api/v1/applications/${n}-${run}`);
    for (const c of [a, b]) await api(hub).delete(`/api/v1/clusters/${c.name}`);
  });
});
