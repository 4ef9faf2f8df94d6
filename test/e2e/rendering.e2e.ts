import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { parseManifests } from '../../libs/manifests/src/index.js';
import {
  isolatedHelmEnv,
  renderToolPath,
  serveChartRepo,
  type ChartRepo,
} from '../support/chart-repo.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestAgent,
  startTestHub,
  tempDir,
  waitFor,
} from '../support/hub-harness.js';
import type { TestCluster } from '../support/kube-cluster.js';

const kustomizeFiles = {
  'kustomize/base/kustomization.yaml': 'resources:\n  - deployment.yaml\n  - configmap.yaml\n',
  'kustomize/base/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: nginx:1.25
`,
  'kustomize/base/configmap.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: base\n',
  'kustomize/overlays/prod/kustomization.yaml': `resources:
  - ../../base
patches:
  - target: { kind: ConfigMap, name: settings }
    patch: |-
      - op: replace
        path: /data/mode
        value: prod
replicas:
  - name: web
    count: 3
`,
};

const chartFiles = {
  'charts/greeter/Chart.yaml': 'apiVersion: v2\nname: greeter\nversion: 0.1.0\n',
  'charts/greeter/values.yaml': 'greeting: hello\nreplicas: 1\n',
  'charts/greeter/values-prod.yaml': 'greeting: bonjour\n',
  'charts/greeter/templates/configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-greeting
  labels:
    release: {{ .Release.Name }}
data:
  greeting: {{ .Values.greeting | quote }}
  color: {{ .Values.color | default "none" | quote }}
`,
};

function kube(c: TestCluster) {
  const kc = new KubeConfig();
  kc.loadFromString(c.kubeconfig);
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** Objects as the real tool prints them, in the form the agent applies (tracking metadata removed). */
function normalise(objs: { metadata: Record<string, unknown> }[]) {
  return objs
    .map((o) => JSON.parse(JSON.stringify(o)) as Record<string, any>)
    .sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
}

describe('Kustomize and Helm applications rendered by the real tools, on two clusters', () => {
  const clusters = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let charts: ChartRepo;
  const agents: Agent[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  const both = clusters.map((c) => c.name);

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ ...kustomizeFiles, ...chartFiles });
    charts = await serveChartRepo([join(repo.dir, 'charts/greeter')], { lifetimeMs: 600_000 });
    cleanup.push(() => charts.close());
    const dir = await tempDir('axle-hub-render-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    for (const c of clusters) {
      const registration = (await api(hub).post('/api/v1/clusters', { name: c.name })).body;
      const d = await tempDir(`axle-agent-render-${c.name}-`);
      cleanup.push(d.remove);
      agents.push(startTestAgent({ hub, registration, cluster: c, stateDir: d.path }));
    }
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    for (const c of cleanup.reverse()) await c();
  });

  const synced = (name: string) =>
    waitFor(`${name} Synced on both`, async () => {
      const a = (await api(hub).get(`/api/v1/applications/${name}`)).body;
      return a.status.clusters.length === 2 &&
        a.status.clusters.every((c: any) => c.sync === 'Synced')
        ? a
        : false;
    });

  it('a Kustomize overlay with app-level overrides, identical to `kustomize build` after the same edits', async () => {
    const res = await api(hub).post('/api/v1/applications', {
      name: 'kust-prod',
      source: {
        repoURL: repo.fileUrl,
        targetRevision: 'main',
        path: 'kustomize/overlays/prod',
        kustomize: {
          namePrefix: 'shop-',
          commonLabels: { team: 'web' },
          images: ['nginx=nginx:1.27'],
        },
      },
      destination: { clusters: both, namespace: 'render-kust' },
      syncPolicy: { automated: {} },
    });
    expect(res.status).toBe(201);
    await synced('kust-prod');

    // What the real tool prints for the same input and the same `kustomize edit` commands.
    const work = mkdtempSync(join(tmpdir(), 'axle-kust-ref-'));
    execFileSync('git', ['clone', '-q', repo.dir, work]);
    const kustomize = renderToolPath('kustomize');
    const overlay = join(work, 'kustomize/overlays/prod');
    execFileSync(kustomize, ['edit', 'set', 'nameprefix', '--', 'shop-'], { cwd: overlay });
    execFileSync(kustomize, ['edit', 'set', 'image', 'nginx=nginx:1.27'], { cwd: overlay });
    execFileSync(kustomize, ['edit', 'add', 'label', '--force', 'team:web'], { cwd: overlay });
    const expected = normalise(
      parseManifests(
        execFileSync(kustomize, ['build', overlay], { encoding: 'utf8' }),
        'kustomize build',
      ),
    );
    expect(expected.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ConfigMap/shop-settings',
      'Deployment/shop-web',
    ]);

    for (const c of clusters) {
      const { core, apps } = kube(c);
      const cm = await core.readNamespacedConfigMap({
        name: 'shop-settings',
        namespace: 'render-kust',
      });
      const want = expected[0];
      expect(cm.data).toEqual(want.data);
      for (const [k, v] of Object.entries(want.metadata.labels as Record<string, string>))
        expect(cm.metadata?.labels?.[k]).toBe(v);
      const dep = await apps.readNamespacedDeployment({
        name: 'shop-web',
        namespace: 'render-kust',
      });
      const wantDep = expected[1];
      expect(dep.spec?.replicas).toBe(wantDep.spec.replicas);
      expect(dep.spec?.replicas).toBe(3);
      expect(dep.spec?.template.spec?.containers[0].image).toBe('nginx:1.27');
      expect(dep.spec?.selector.matchLabels).toEqual(wantDep.spec.selector.matchLabels);
    }
  });

  it('a Helm chart from git with valueFiles and parameters, identical to `helm template`', async () => {
    const res = await api(hub).post('/api/v1/applications', {
      name: 'greeter-git',
      source: {
        repoURL: repo.fileUrl,
        targetRevision: 'main',
        path: 'charts/greeter',
        helm: {
          releaseName: 'hello',
          valueFiles: ['values-prod.yaml'],
          parameters: [{ name: 'color', value: 'blue' }],
        },
      },
      destination: { clusters: both, namespace: 'render-helm' },
      syncPolicy: { automated: {} },
    });
    expect(res.status).toBe(201);
    await synced('greeter-git');
    const home = mkdtempSync(join(tmpdir(), 'axle-helm-ref-'));
    const printed = execFileSync(
      renderToolPath('helm'),
      [
        'template',
        'hello',
        join(repo.dir, 'charts/greeter'),
        '--namespace',
        'render-helm',
        '--values',
        join(repo.dir, 'charts/greeter/values-prod.yaml'),
        '--set',
        'color=blue',
      ],
      { encoding: 'utf8', env: isolatedHelmEnv(home) },
    );
    const [want] = normalise(parseManifests(printed, 'helm template'));
    for (const c of clusters) {
      const cm = await kube(c).core.readNamespacedConfigMap({
        name: 'hello-greeting',
        namespace: 'render-helm',
      });
      expect(cm.data).toEqual(want.data);
      expect(cm.data).toEqual({ greeting: 'bonjour', color: 'blue' });
      expect(cm.metadata?.labels?.release).toBe('hello');
    }
  });

  it("renders a chart for the Kubernetes and API versions the source gives (Argo CD's helm.kubeVersion, apiVersions)", async () => {
    await repo.commit({
      'charts/caps/Chart.yaml': 'apiVersion: v2\nname: caps\nversion: 0.1.0\n',
      'charts/caps/templates/caps.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-caps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
`,
    });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const res = await api(hub).post('/api/v1/applications', {
      name: 'caps',
      source: {
        repoURL: repo.fileUrl,
        targetRevision: 'main',
        path: 'charts/caps',
        helm: { kubeVersion: '1.29.4', apiVersions: ['monitoring.coreos.com/v1'] },
      },
      destination: { clusters: both, namespace: 'render-helm' },
      syncPolicy: { automated: {} },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await synced('caps');
    for (const c of clusters) {
      const cm = await kube(c).core.readNamespacedConfigMap({
        name: 'caps-caps',
        namespace: 'render-helm',
      });
      expect(cm.data).toEqual({ kube: 'v1.29.4', monitoring: 'true' });
    }
  });

  it('reads a plain directory without its sub-directories unless recurse is set, as Argo CD', async () => {
    const cmYaml = (name: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: "1"\n`;
    await repo.commit({
      'plain/top.yaml': cmYaml('top'),
      'plain/nested/deep.yaml': cmYaml('deep'),
      // Not a manifest at all: read only when recursing.
      'plain/.github/workflows/ci.yaml': 'on: push\njobs: {}\n',
    });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const create = (name: string, directory?: object) =>
      api(hub).post('/api/v1/applications', {
        name,
        source: {
          repoURL: repo.fileUrl,
          targetRevision: 'main',
          path: 'plain',
          ...(directory ? { directory } : {}),
        },
        destination: { clusters: both, namespace: `render-${name}` },
        syncPolicy: { automated: {} },
      });
    expect((await create('plain-top')).status).toBe(201);
    expect((await create('plain-all', { recurse: true, exclude: '.github/*' })).status).toBe(201);
    await synced('plain-top');
    await synced('plain-all');
    const names = async (ns: string) =>
      (await kube(clusters[0]).core.listNamespacedConfigMap({ namespace: ns })).items
        .map((c) => c.metadata!.name!)
        .filter((n) => n !== 'kube-root-ca.crt')
        .sort();
    expect(await names('render-plain-top')).toEqual(['top']);
    expect(await names('render-plain-all')).toEqual(['deep', 'top']);
  });

  it('a Helm chart from a chart repository served on loopback', async () => {
    const res = await api(hub).post('/api/v1/applications', {
      name: 'greeter-repo',
      source: {
        repoURL: charts.url,
        chart: 'greeter',
        targetRevision: '0.1.0',
        helm: { values: 'greeting: hola\n' },
      },
      destination: { clusters: both, namespace: 'render-chartrepo' },
      syncPolicy: { automated: {} },
    });
    expect(res.status).toBe(201);
    const a = await synced('greeter-repo');
    expect(a.status.conditions).toEqual([]);
    for (const c of clusters) {
      const cm = await kube(c).core.readNamespacedConfigMap({
        name: 'greeter-repo-greeting',
        namespace: 'render-chartrepo',
      });
      expect(cm.data?.greeting).toBe('hola');
    }
    // A version range, as Argo CD takes it: the newest chart within it.
    const ranged = await api(hub).post('/api/v1/applications', {
      name: 'greeter-range',
      source: { repoURL: charts.url, chart: 'greeter', targetRevision: '>=0.1.0 <1.0.0' },
      destination: { clusters: both, namespace: 'render-chartrepo' },
      syncPolicy: { automated: {} },
    });
    expect(ranged.status, JSON.stringify(ranged.body)).toBe(201);
    expect((await synced('greeter-range')).status.conditions).toEqual([]);
    const cm = await kube(clusters[0]).core.readNamespacedConfigMap({
      name: 'greeter-range-greeting',
      namespace: 'render-chartrepo',
    });
    expect(cm.data?.greeting).toBeDefined();
  });

  it('reports a tool failure on the app and keeps the last good state', async () => {
    await repo.commit({ 'charts/greeter/templates/broken.yaml': '{{ .Values.nope.deeper }}\n' });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const cond = await waitFor('RenderError', async () => {
      const s = (await api(hub).get('/api/v1/applications/greeter-git')).body.status;
      return s.conditions.find((c: any) => c.type === 'RenderError') ?? false;
    });
    expect(cond.message).toMatch(/helm/i);
    expect(cond.message).toMatch(/nil pointer|nope/);
    for (const c of clusters) {
      const cm = await kube(c).core.readNamespacedConfigMap({
        name: 'hello-greeting',
        namespace: 'render-helm',
      });
      expect(cm.data?.greeting).toBe('bonjour');
    }
  });
});
