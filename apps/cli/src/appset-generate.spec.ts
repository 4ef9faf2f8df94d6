import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { MAX_INPUT_BYTES, resolveRepoURL } from './appset-generate.js';
import { runCli } from './cli.js';

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    env: {},
  });
  return { code, out, err };
}

const CLUSTERS = `
- name: staging
  server: https://staging.example.com
  labels: {environment: staging, region: eu}
- name: production
  server: https://prod.example.com
  labels: {environment: production, region: us}
  annotations: {owner: platform}
`;

describe('axle appset generate', () => {
  let repo: TestRepo;
  let dir: { path: string; remove(): Promise<void> };
  let clustersFile: string;

  const write = async (name: string, content: string) => {
    const p = join(dir.path, name);
    await writeFile(p, content);
    return p;
  };

  beforeAll(async () => {
    repo = await TestRepo.create();
    await repo.commit({
      'cluster-addons/argo-workflows/kustomization.yaml': 'resources: []\n',
      'cluster-addons/cert-manager/kustomization.yaml': 'resources: []\n',
      'cluster-addons/prometheus-operator/kustomization.yaml': 'resources: []\n',
      'README.md': '# addons\n',
    });
    dir = await tempDir('axle-appset-cli-');
    clustersFile = await write('clusters.yaml', CLUSTERS);
  });

  afterAll(async () => {
    await repo?.remove();
    await dir?.remove();
  });

  // Argo CD docs, "Matrix generator: Git directories × cluster", against a real repository.
  const matrixAppset = (repoURL: string) => `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: cluster-git
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - git:
              repoURL: ${repoURL}
              revision: HEAD
              directories:
                - path: cluster-addons/*
          - clusters:
              selector:
                matchLabels:
                  argocd.argoproj.io/secret-type: cluster
  template:
    metadata:
      name: '{{.path.basename}}-{{.name}}'
    spec:
      project: '{{index .metadata.labels "environment"}}'
      source:
        repoURL: ${repoURL}
        targetRevision: HEAD
        path: '{{.path.path}}'
      destination:
        server: '{{.server}}'
        namespace: '{{.path.basename}}'
`;

  it('generates git directories × clusters as Argo CD Applications (matrix)', async () => {
    const file = await write('matrix.yaml', matrixAppset(repo.fileUrl));
    const r = await run(['appset', 'generate', '-f', file, '--clusters', clustersFile]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const apps = parseYaml(r.out) as any[];
    expect(apps.map((a) => a.metadata.name)).toEqual([
      'argo-workflows-staging',
      'argo-workflows-production',
      'cert-manager-staging',
      'cert-manager-production',
      'prometheus-operator-staging',
      'prometheus-operator-production',
    ]);
    expect(apps.map((a) => [a.spec.source.path, a.spec.destination.server])).toEqual([
      ['cluster-addons/argo-workflows', 'https://staging.example.com'],
      ['cluster-addons/argo-workflows', 'https://prod.example.com'],
      ['cluster-addons/cert-manager', 'https://staging.example.com'],
      ['cluster-addons/cert-manager', 'https://prod.example.com'],
      ['cluster-addons/prometheus-operator', 'https://staging.example.com'],
      ['cluster-addons/prometheus-operator', 'https://prod.example.com'],
    ]);
    expect(apps[3]).toEqual({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: {
        name: 'cert-manager-production',
        namespace: 'argocd',
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
      },
      spec: {
        project: 'production',
        source: {
          repoURL: repo.fileUrl,
          targetRevision: 'HEAD',
          path: 'cluster-addons/cert-manager',
        },
        destination: { server: 'https://prod.example.com', namespace: 'cert-manager' },
      },
    });
  });

  it('prints JSON with -o json', async () => {
    const file = await write('matrix.json.yaml', matrixAppset(repo.fileUrl));
    const r = await run([
      'appset',
      'generate',
      '-f',
      file,
      '--clusters',
      clustersFile,
      '-o',
      'json',
    ]);
    expect(r.code).toBe(0);
    const apps = JSON.parse(r.out) as any[];
    expect(apps).toHaveLength(6);
    expect(apps[0].kind).toBe('Application');
  });

  it('renders a list generator with goTemplate, destinations by name', async () => {
    const file = await write(
      'list.yaml',
      `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - list:
        elements:
          - cluster: staging
            url: https://staging.example.com
          - cluster: production
            url: https://prod.example.com
  template:
    metadata:
      name: '{{.cluster}}-guestbook'
      labels:
        cluster: '{{.cluster}}'
    spec:
      project: default
      source:
        repoURL: ${repo.fileUrl}
        targetRevision: HEAD
        path: 'guestbook/{{.cluster}}'
      destination:
        name: '{{.cluster}}'
        namespace: guestbook
      syncPolicy:
        automated: {prune: true, selfHeal: true}
        syncOptions: [CreateNamespace=true]
`,
    );
    const r = await run(['appset', 'generate', '-f', file, '--clusters', clustersFile]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const apps = parseYaml(r.out) as any[];
    expect(apps).toEqual([
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: {
          name: 'staging-guestbook',
          labels: { cluster: 'staging' },
          finalizers: ['resources-finalizer.argocd.argoproj.io'],
        },
        spec: {
          project: 'default',
          source: { repoURL: repo.fileUrl, targetRevision: 'HEAD', path: 'guestbook/staging' },
          destination: { name: 'staging', namespace: 'guestbook' },
          syncPolicy: {
            automated: { prune: true, selfHeal: true },
            syncOptions: ['CreateNamespace=true'],
          },
        },
      },
      expect.objectContaining({
        metadata: expect.objectContaining({ name: 'production-guestbook' }),
      }),
    ]);
    expect(apps[1].spec.destination).toEqual({ name: 'production', namespace: 'guestbook' });
  });

  it('renders {{ .url }} into the server', async () => {
    const file = await write(
      'list-url.yaml',
      `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: by-url}
spec:
  goTemplate: true
  generators:
    - list:
        elements:
          - {cluster: staging, url: https://staging.example.com}
  template:
    metadata: {name: '{{.cluster}}-app'}
    spec:
      project: default
      source: {repoURL: ${repo.fileUrl}, path: app}
      destination: {server: '{{ .url }}', namespace: app}
`,
    );
    const r = await run(['appset', 'generate', '-f', file, '--clusters', clustersFile]);
    expect(r.code).toBe(0);
    const apps = parseYaml(r.out) as any[];
    expect(apps[0].spec.destination).toEqual({
      server: 'https://staging.example.com',
      namespace: 'app',
    });
  });

  it('reports unsupported fields as warnings by path and still succeeds', async () => {
    const file = await write(
      'unsupported.yaml',
      `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: warn}
spec:
  goTemplate: true
  strategy:
    type: AllAtOnce
    deletionOrder: Reverse
  generators:
    - list:
        elements: [{cluster: staging}]
  template:
    metadata: {name: '{{.cluster}}-x'}
    spec:
      project: default
      revisionHistoryLimit: 3
      source: {repoURL: ${repo.fileUrl}, path: x}
      destination: {name: '{{.cluster}}', namespace: x}
`,
    );
    const r = await run(['appset', 'generate', '-f', file, '--clusters', clustersFile]);
    expect(r.code).toBe(0);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^warning: spec\.strategy\.deletionOrder: not supported by Axle \(ignored\)/,
        ),
        'warning: spec.template.spec.revisionHistoryLimit: not supported by Axle (ignored)',
      ]),
    );
    expect((parseYaml(r.out) as any[]).map((a) => a.metadata.name)).toEqual(['staging-x']);
  });

  it('fails on an invalid ApplicationSet with the path of each error', async () => {
    const file = await write(
      'invalid.yaml',
      `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: bad}
spec:
  generators: []
  template:
    metadata: {name: x}
    spec:
      source: {repoURL: x}
      destination: {name: x}
`,
    );
    const r = await run(['appset', 'generate', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^error: spec\.template\.spec\.project: /m);
  });

  it('names the index and field of a bad cluster', async () => {
    const file = await write('m.yaml', matrixAppset(repo.fileUrl));
    const bad = await write(
      'bad-clusters.yaml',
      `
- {name: a, server: https://a}
- {name: b, server: https://b}
- {server: https://c}
`,
    );
    const r = await run(['appset', 'generate', '-f', file, '--clusters', bad]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(`error: ${bad}: [2].name: is required\n`);

    const bad2 = await write('bad-clusters-2.yaml', '[{name: Bad_Name, server: https://a}]');
    const r2 = await run(['appset', 'generate', '-f', file, '--clusters', bad2]);
    expect(r2.err).toMatch(
      /\[0\]\.name: invalid cluster name "Bad_Name": must be a DNS-1123 label/,
    );

    const bad3 = await write('bad-clusters-3.yaml', '[{name: a}]');
    const r3 = await run(['appset', 'generate', '-f', file, '--clusters', bad3]);
    expect(r3.err).toBe(`error: ${bad3}: [0].server: is required\n`);

    const bad4 = await write('bad-clusters-4.yaml', '[{name: a, server: x, labels: {tier: 1}}]');
    const r4 = await run(['appset', 'generate', '-f', file, '--clusters', bad4]);
    expect(r4.err).toContain('[0].labels.tier: must be a string');
  });

  it('reports duplicate names, exits 1, and still prints the valid Applications', async () => {
    const file = await write(
      'dup.yaml',
      `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: dups}
spec:
  goTemplate: true
  generators:
    - list:
        elements:
          - {app: web, cluster: staging}
          - {app: api, cluster: staging}
          - {app: web, cluster: production}
          - {app: db, cluster: nowhere}
  template:
    metadata: {name: '{{.app}}'}
    spec:
      project: default
      source: {repoURL: ${repo.fileUrl}, path: '{{.app}}'}
      destination: {name: '{{.cluster}}', namespace: '{{.app}}'}
`,
    );
    const r = await run(['appset', 'generate', '-f', file, '--clusters', clustersFile]);
    expect(r.code).toBe(1);
    expect((parseYaml(r.out) as any[]).map((a) => a.metadata.name)).toEqual(['api']);
    const lines = r.err.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^error: web: .*duplicate name: web/),
      expect.stringMatching(/^error: web: .*duplicate name: web/),
      'error: db: application references destination cluster nowhere which does not exist',
    ]);
  });

  it('reads a repoURL given as a path relative to the current directory', async () => {
    const rel = relative(process.cwd(), repo.dir);
    expect(rel.startsWith('/')).toBe(false);
    const file = await write('relative.yaml', matrixAppset(rel));
    const r = await run(['appset', 'generate', '-f', file, '--clusters', clustersFile]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const apps = parseYaml(r.out) as any[];
    expect(apps).toHaveLength(6);
    // The Application keeps the repoURL as written; only git access uses the absolute path.
    expect(apps[0].spec.source.repoURL).toBe(rel);
  });

  it('reports a missing repository as a generator error', async () => {
    const file = await write('missing.yaml', matrixAppset(join(dir.path, 'no-such-repo')));
    const r = await run(['appset', 'generate', '-f', file, '--clusters', clustersFile]);
    expect(r.code).toBe(1);
    expect(r.out).toBe(''); // nothing generated: nothing printed, not `[]`
    expect(r.err).toMatch(/^error: spec\.generators\[0\]\.matrix.*cannot resolve revision/);
  });

  it('refuses input larger than 4 MiB', async () => {
    const big = await write('big.yaml', `# ${'x'.repeat(MAX_INPUT_BYTES)}\n`);
    const r = await run(['appset', 'generate', '-f', big]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `error: ${big}: input is larger than 4 MiB (${MAX_INPUT_BYTES} bytes); refusing to read it\n`,
    );
  });

  it('refuses -o table', async () => {
    const file = await write('t.yaml', matrixAppset(repo.fileUrl));
    const r = await run(['appset', 'generate', '-f', file, '-o', 'table']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('use json or yaml');
  });

  it('resolves only local paths', () => {
    expect(resolveRepoURL('repos/a', '/work')).toBe('/work/repos/a');
    expect(resolveRepoURL('../a', '/work/x')).toBe('/work/a');
    expect(resolveRepoURL('/srv/a', '/work')).toBe('/srv/a');
    expect(resolveRepoURL('file:///srv/a', '/work')).toBe('file:///srv/a');
    expect(resolveRepoURL('https://github.com/o/r.git', '/work')).toBe(
      'https://github.com/o/r.git',
    );
    expect(resolveRepoURL('git@github.com:o/r.git', '/work')).toBe('git@github.com:o/r.git');
  });
});
