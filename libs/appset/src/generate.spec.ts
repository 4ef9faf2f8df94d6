import { describe, expect, it } from 'vitest';
import { MemoryGitTree } from '../../generators/src/testing.js';
import type { ClusterInfo } from '../../generators/src/index.js';
import { generateApplications, RESOURCES_FINALIZER } from './generate.js';
import { parseApplicationSet } from './parse.js';
import type { ApplicationSet, GenerateApplicationsContext } from './types.js';

const clusters: ClusterInfo[] = [
  { name: 'in-cluster', server: 'https://kubernetes.default.svc', labels: {}, annotations: {} },
  {
    name: 'engineering-dev',
    server: 'https://1.2.3.4',
    labels: { environment: 'dev' },
    annotations: {},
  },
  {
    name: 'engineering-prod',
    server: 'https://2.4.6.8',
    labels: { environment: 'prod' },
    annotations: {},
  },
];
const ctx: GenerateApplicationsContext = { clusters, git: new MemoryGitTree({}) };

function parse(input: unknown): ApplicationSet {
  const r = parseApplicationSet(input);
  if (!r.appset) throw new Error(JSON.stringify(r.errors));
  return r.appset;
}

// Generators-List.md
const LIST_DOCS = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list:
      elements:
      - cluster: engineering-dev
        url: https://kubernetes.default.svc
  template:
    metadata:
      name: '{{.cluster}}-guestbook'
    spec:
      project: "my-project"
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: applicationset/examples/list-generator/guestbook/{{.cluster}}
      destination:
        server: '{{.url}}'
        namespace: guestbook
`;

describe('generateApplications', () => {
  it('gives templates numbers as Go float64s, as Argo CD decodes JSON (list and git files)', async () => {
    const appset = (template: string, source: 'list' | 'git') =>
      parse({
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'ApplicationSet',
        metadata: { name: 'nums' },
        spec: {
          goTemplate: true,
          generators: [
            source === 'list'
              ? { list: { elements: [{ num: 3, big: 1000000, f: 1.5 }] } }
              : {
                  git: {
                    repoURL: 'https://git.example/r.git',
                    revision: 'main',
                    files: [{ path: 'v.yaml' }],
                  },
                },
          ],
          template: {
            metadata: { name: 'nums' },
            spec: {
              project: 'default',
              source: {
                repoURL: 'https://git.example/r.git',
                targetRevision: 'main',
                path: template,
              },
              destination: { name: 'in-cluster', namespace: 'x' },
            },
          },
        },
      });
    const git = new MemoryGitTree({
      'https://git.example/r.git': { files: { 'v.yaml': 'num: 3\nbig: 1000000\nf: 1.5\n' } },
    });
    for (const source of ['list', 'git'] as const) {
      const r = await generateApplications(
        appset(
          '{{printf "%T" .num}}-{{.num}}-{{.big}}-{{.f}}-{{eq .num 3.0}}-{{add .num 1}}',
          source,
        ),
        { clusters, git },
      );
      expect(r.errors, source).toEqual([]);
      expect(r.applications[0].spec.source.path, source).toBe('float64-3-1e+06-1.5-true-4');
      const bad = await generateApplications(appset('{{eq .num 3}}', source), { clusters, git });
      expect(bad.errors[0].message, source).toContain(
        'incompatible types for comparison: float64 and int',
      );
    }
  });

  it("templates Axle's dependsOn like any field", async () => {
    const doc = LIST_DOCS.replace(
      '      destination:\n',
      "      dependsOn:\n      - application: '{{.cluster}}-db'\n        cluster: '{{.cluster}}'\n      destination:\n",
    );
    const res = await generateApplications(parse(doc), ctx);
    expect(res.errors).toEqual([]);
    expect(res.applications[0].spec.dependsOn).toEqual([
      { application: 'engineering-dev-db', cluster: 'engineering-dev' },
    ]);
    const plain = await generateApplications(parse(LIST_DOCS), ctx);
    expect('dependsOn' in plain.applications[0].spec).toBe(false);
  });

  it('renders the Generators-List.md example', async () => {
    const res = await generateApplications(parse(LIST_DOCS), ctx);
    expect(res.errors).toEqual([]);
    expect(res.complete).toBe(true);
    expect(res.applications).toEqual([
      {
        metadata: { name: 'engineering-dev-guestbook', finalizers: [RESOURCES_FINALIZER] },
        spec: {
          project: 'my-project',
          source: {
            repoURL: 'https://github.com/argoproj/argo-cd.git',
            targetRevision: 'HEAD',
            path: 'applicationset/examples/list-generator/guestbook/engineering-dev',
          },
          destination: {
            name: 'in-cluster',
            server: 'https://kubernetes.default.svc',
            namespace: 'guestbook',
          },
        },
      },
    ]);
  });

  it('renders the git directory example of the docs in fasttemplate mode', async () => {
    const git = new MemoryGitTree({
      'https://github.com/argoproj/argo-cd.git': {
        files: {
          'applicationset/examples/git-generator-directory/cluster-addons/argo-workflows/kustomization.yaml':
            '',
          'applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator/Chart.yaml':
            '',
        },
      },
    });
    const res = await generateApplications(
      parse(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: cluster-addons
  namespace: argocd
spec:
  generators:
  - git:
      repoURL: https://github.com/argoproj/argo-cd.git
      revision: HEAD
      directories:
      - path: applicationset/examples/git-generator-directory/cluster-addons/*
  template:
    metadata:
      name: '{{path.basename}}'
    spec:
      project: "my-project"
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: '{{path}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{path.basename}}'
`),
      { clusters, git },
    );
    expect(res.errors).toEqual([]);
    expect(
      res.applications.map((a) => [
        a.metadata.name,
        a.spec.source.path,
        a.spec.destination.namespace,
      ]),
    ).toEqual([
      [
        'argo-workflows',
        'applicationset/examples/git-generator-directory/cluster-addons/argo-workflows',
        'argo-workflows',
      ],
      [
        'prometheus-operator',
        'applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator',
        'prometheus-operator',
      ],
    ]);
  });

  it('merges a generator template over spec.template (Template.md)', async () => {
    const appset = parse({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'guestbook' },
      spec: {
        goTemplate: true,
        generators: [
          {
            list: {
              elements: [
                {
                  cluster: 'engineering-dev',
                  url: 'https://kubernetes.default.svc',
                  nameNormalized: 'engineering-dev',
                },
              ],
              template: {
                metadata: {},
                spec: {
                  project: 'default',
                  source: {
                    targetRevision: 'HEAD',
                    repoURL: 'https://github.com/argoproj/argo-cd.git',
                    path: 'applicationset/examples/template-override/{{ .nameNormalized }}-override',
                  },
                  destination: {},
                },
              },
            },
          },
        ],
        template: {
          metadata: { name: '{{ .nameNormalized }}-guestbook' },
          spec: {
            project: 'default',
            source: {
              repoURL: 'https://github.com/argoproj/argo-cd.git',
              targetRevision: 'HEAD',
              path: 'applicationset/examples/template-override/default',
            },
            destination: { server: '{{ .url }}', namespace: 'guestbook' },
          },
        },
      },
    });
    const res = await generateApplications(appset, ctx);
    expect(res.errors).toEqual([]);
    expect(res.applications[0].metadata.name).toBe('engineering-dev-guestbook');
    expect(res.applications[0].spec.source.path).toBe(
      'applicationset/examples/template-override/engineering-dev-override',
    );
    expect(res.applications[0].spec.destination).toEqual({
      name: 'in-cluster',
      server: 'https://kubernetes.default.svc',
      namespace: 'guestbook',
    });
  });

  it('applies templatePatch (Template.md example), in YAML and json+patch form', async () => {
    const doc = (templatePatch: string) => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'guestbook' },
      spec: {
        goTemplate: true,
        generators: [
          {
            list: {
              elements: [
                {
                  cluster: 'engineering-dev',
                  url: 'https://kubernetes.default.svc',
                  autoSync: true,
                  prune: true,
                  valueFiles: ['values.large.yaml', 'values.debug.yaml'],
                },
                {
                  cluster: 'engineering-prod',
                  url: 'https://kubernetes.default.svc',
                  autoSync: false,
                  prune: false,
                  valueFiles: ['values.yaml'],
                },
              ],
            },
          },
        ],
        template: {
          metadata: { name: '{{ .cluster }}-deployment' },
          spec: {
            project: 'default',
            source: {
              repoURL: 'https://github.com/infra-team/cluster-deployments.git',
              targetRevision: 'HEAD',
              path: 'guestbook/{{ .cluster }}',
              helm: { valueFiles: ['base.yaml'] },
            },
            destination: { server: '{{ .url }}', namespace: 'guestbook' },
          },
        },
        templatePatch,
      },
    });
    const yamlPatch = `spec:
  project: hijacked
  source:
    helm:
      valueFiles:
      {{- range $valueFile := .valueFiles }}
        - {{ $valueFile }}
      {{- end }}
{{- if .autoSync }}
  syncPolicy:
    automated:
      prune: {{ .prune }}
{{- end }}
`;
    const res = await generateApplications(parse(doc(yamlPatch)), ctx);
    expect(res.errors).toEqual([]);
    const [dev, prod] = res.applications;
    expect(dev.spec.source.helm).toEqual({
      valueFiles: ['values.large.yaml', 'values.debug.yaml'],
    });
    expect(dev.spec.syncPolicy).toEqual({ automated: { prune: true } });
    expect(dev.spec.project).toBe('default');
    expect(dev.spec.source.repoURL).toBe('https://github.com/infra-team/cluster-deployments.git');
    expect(prod.spec.source.helm).toEqual({ valueFiles: ['values.yaml'] });
    expect(prod.spec.syncPolicy).toBeUndefined();

    const jsonPatch = `[
  { "op": "replace", "path": "/spec/source/helm/valueFiles", "value": {{ .valueFiles | toJson }} }
  {{- if .autoSync }},
  { "op": "add", "path": "/spec/syncPolicy", "value": { "automated": { "prune": {{ .prune }} } } }
  {{- end }}
]`;
    const res2 = await generateApplications(parse(doc(jsonPatch)), ctx);
    expect(res2.errors).toEqual([]);
    expect(res2.applications.map((a) => [a.spec.source.helm, a.spec.syncPolicy])).toEqual([
      [{ valueFiles: ['values.large.yaml', 'values.debug.yaml'] }, { automated: { prune: true } }],
      [{ valueFiles: ['values.yaml'] }, undefined],
    ]);
  });

  it('shares the constant parts of the template between Applications, frozen', async () => {
    const appset = parse({
      metadata: { name: 'shared' },
      spec: {
        goTemplate: true,
        generators: [{ list: { elements: [{ app: 'a' }, { app: 'b' }] } }],
        template: {
          metadata: { name: '{{.app}}', labels: { team: 'x' } },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git', path: '{{.app}}' },
            destination: { name: 'in-cluster', namespace: 'ns' },
            syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
          },
        },
      },
    });
    const res = await generateApplications(appset, ctx);
    expect(res.errors).toEqual([]);
    const [a, b] = res.applications;
    expect(a.spec.syncPolicy).toEqual({
      automated: { prune: true },
      syncOptions: ['CreateNamespace=true'],
    });
    expect(a.spec.syncPolicy).toBe(b.spec.syncPolicy);
    expect(a.metadata.labels).toBe(b.metadata.labels);
    expect(a.metadata.finalizers).toBe(b.metadata.finalizers);
    expect(Object.isFrozen(a.spec.syncPolicy!.automated)).toBe(true);
    expect(() => a.metadata.finalizers!.push('x')).toThrow(TypeError);
    // The template itself is left as it was.
    expect(Object.isFrozen(appset.spec.template.spec.syncPolicy)).toBe(false);
    // What is rendered per Application is its own.
    expect(a.spec.source).not.toBe(b.spec.source);
    expect(a.spec.destination).not.toBe(b.spec.destination);
    a.spec.destination.namespace = 'changed';
    expect(b.spec.destination.namespace).toBe('ns');
  });

  it('applies templatePatch to Applications whose spec is all constant', async () => {
    const doc = (templatePatch: string) =>
      parse({
        metadata: { name: 'patched' },
        spec: {
          goTemplate: true,
          generators: [{ list: { elements: [{ app: 'a' }, { app: 'b' }] } }],
          template: {
            metadata: { name: '{{.app}}' },
            spec: {
              project: 'default',
              source: { repoURL: 'https://x/r.git', path: 'p' },
              destination: { name: 'in-cluster' },
            },
          },
          templatePatch,
        },
      });
    const meta = await generateApplications(
      doc('metadata:\n  labels:\n    app: "{{.app}}"\n'),
      ctx,
    );
    expect(meta.errors).toEqual([]);
    expect(meta.applications.map((a) => [a.metadata.labels, a.spec.project])).toEqual([
      [{ app: 'a' }, 'default'],
      [{ app: 'b' }, 'default'],
    ]);
    expect(meta.applications[0].metadata.finalizers).toEqual([RESOURCES_FINALIZER]);
    const spec = await generateApplications(
      doc('spec:\n  project: hijacked\n  source:\n    path: "{{.app}}"\n'),
      ctx,
    );
    expect(spec.errors).toEqual([]);
    expect(spec.applications.map((a) => [a.spec.project, a.spec.source.path])).toEqual([
      ['default', 'a'],
      ['default', 'b'],
    ]);
    const json = await generateApplications(
      doc('[{"op": "replace", "path": "/spec/source/path", "value": "{{.app}}"}]'),
      ctx,
    );
    expect(json.errors).toEqual([]);
    expect(json.applications.map((a) => a.spec.source.path)).toEqual(['a', 'b']);
  });

  /** An ApplicationSet of these generators whose applications are named by `name`. */
  const withGenerators = (
    generators: unknown[],
    name: string,
    annotations?: Record<string, string>,
  ) =>
    parse({
      metadata: { name: 'limited' },
      spec: {
        goTemplate: true,
        generators,
        template: {
          metadata: { name, ...(annotations ? { annotations } : {}) },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git', path: 'p' },
            destination: { name: 'in-cluster' },
          },
        },
      },
    });

  it('refuses an ApplicationSet generating more applications than maxApplications, whole', async () => {
    const elements = (n: number, key: string) =>
      Array.from({ length: n }, (_, i) => ({ [key]: String(i) }));
    const doc = (generators: unknown[]) => withGenerators(generators, 'a-{{.x}}-{{.y}}');
    const matrix = (n: number) =>
      doc([
        {
          matrix: {
            generators: [
              { list: { elements: elements(n, 'x') } },
              { list: { elements: elements(n, 'y') } },
            ],
          },
        },
      ]);
    // 224 × 224 = 50,176 applications.
    const big = await generateApplications(matrix(224), { ...ctx, maxApplications: 20_000 });
    expect(big.applications).toEqual([]);
    expect(big.complete).toBe(false);
    expect(big.errors).toEqual([
      {
        index: -1,
        generator: 0,
        stage: 'limit',
        limit: 'applications',
        message: expect.stringMatching(
          /^spec\.generators\[0\]: the generators produce 50176 applications so far, more than 20000/,
        ) as unknown,
      },
    ]);
    // A runaway matrix stops at limits.maxParamSets on the way, before it is all built.
    const runaway = await generateApplications(matrix(2000), {
      ...ctx,
      maxApplications: 20_000,
      limits: { maxParamSets: 100_000 },
    });
    expect(runaway.errors).toMatchObject([{ stage: 'limit', limit: 'paramSets' }]);
    expect(runaway.errors[0].message).toMatch(/more than 100000 parameter sets/);

    // Two generators within the limit each, over it together: refused at the second.
    const two = doc([
      { list: { elements: elements(6, 'x').map((e) => ({ ...e, y: 'a' })) } },
      { list: { elements: elements(5, 'x').map((e) => ({ ...e, y: 'b' })) } },
    ]);
    const over = await generateApplications(two, { ...ctx, maxApplications: 10 });
    expect(over.applications).toEqual([]);
    expect(over.errors.map((e) => [e.generator, e.stage])).toEqual([[1, 'limit']]);
    const within = await generateApplications(two, { ...ctx, maxApplications: 11 });
    expect(within.errors).toEqual([]);
    expect(within.applications).toHaveLength(11);
  });

  it('refuses an ApplicationSet whose applications take longer than maxRenderMs to render, and yields meanwhile', async () => {
    const elements = Array.from({ length: 200 }, (_, i) => ({ x: String(i) }));
    // A few milliseconds of template work for each application.
    const doc = withGenerators([{ list: { elements } }], 'a-{{.x}}', {
      busy: '{{range until 10000}}{{end}}',
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    const slow = await generateApplications(doc, { ...ctx, maxRenderMs: 150 }).finally(() =>
      clearInterval(timer),
    );
    const took = performance.now() - started;
    expect(slow.applications).toEqual([]);
    expect(slow.complete).toBe(false);
    expect(slow.errors).toEqual([
      {
        index: -1,
        generator: 0,
        stage: 'limit',
        limit: 'renderTime',
        message: expect.stringMatching(
          /^spec\.generators\[0\]: rendering the applications took longer than 0\.15 s \(\d+ rendered\)/,
        ) as unknown,
      },
    ]);
    // Stopped soon after the limit, not after all 200; other work ran in between (more than one
    // tick of a 1 ms timer: none without yields; a loaded machine may allow few).
    expect(took).toBeLessThan(1500);
    expect(ticks).toBeGreaterThan(1);
    // Many costly strings in one application: it stops at the limit too, not after all of them.
    const busy = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [
        `busy-${i}`,
        '{{range until 690}}{{range until 690}}{{end}}{{end}}',
      ]),
    );
    const heavy = withGenerators(
      [{ list: { elements: [{ x: '1' }, { x: '2' }] } }],
      'a-{{.x}}',
      busy,
    );
    const t0 = performance.now();
    const stopped = await generateApplications(heavy, { ...ctx, maxRenderMs: 150 });
    expect(performance.now() - t0).toBeLessThan(1000); // about 20 × 130 ms without the deadline
    expect(stopped.errors).toMatchObject([{ stage: 'limit', limit: 'renderTime' }]);
    // Abandoned (the hub's admission check timed out): it stops at its next yield.
    const abandon = new AbortController();
    setTimeout(() => abandon.abort(new Error('abandoned')), 30);
    const t1 = performance.now();
    await expect(generateApplications(doc, { ...ctx, signal: abandon.signal })).rejects.toThrow(
      'abandoned',
    );
    expect(performance.now() - t1).toBeLessThan(300);
    // Within the limit, the same ApplicationSet renders whole.
    const whole = await generateApplications(doc, { ...ctx, maxRenderMs: 600_000 });
    expect(whole.errors).toEqual([]);
    expect(whole.applications).toHaveLength(200);
  });

  it("counts the generators' templates (values, interpolated matrix children) against maxRenderMs, and yields meanwhile", async () => {
    const many: ClusterInfo[] = [
      ...clusters, // in-cluster: the applications' destination
      ...Array.from({ length: 100 }, (_, i) => ({
        name: `c-${i}`,
        server: `https://c-${i}`,
        labels: {},
        annotations: {},
      })),
    ];
    const busy = '{{range until 400}}{{range until 100}}{{end}}{{end}}';
    // Ticks of a 1 ms timer while generating: it fires only when the generators hand the event
    // loop back. More than one, not one per 20 ms: on a loaded machine (CI) the process may sit
    // descheduled through much of the 150 ms.
    const timed = async (doc: ApplicationSet, opts: Partial<GenerateApplicationsContext>) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const started = performance.now();
      const result = await generateApplications(doc, {
        ...ctx,
        clusters: many,
        ...opts,
      }).finally(() => clearInterval(timer));
      return { result, took: performance.now() - started, ticks };
    };
    // Each cluster's values: a few milliseconds each, 103 of them; none over its own 2 s.
    const values = withGenerators([{ clusters: { values: { busy } } }], 'a-{{.name}}');
    const byValues = await timed(values, { maxRenderMs: 150 });
    expect(byValues.result.applications).toEqual([]);
    expect(byValues.result.complete).toBe(false);
    expect(byValues.result.errors).toEqual([
      {
        index: -1,
        generator: 0,
        stage: 'limit',
        limit: 'renderTime',
        message: expect.stringMatching(
          /^spec\.generators\[0\]\.clusters: rendering templates took longer than 0\.15 s in all/,
        ) as unknown,
      },
    ]);
    expect(byValues.took).toBeLessThan(1500);
    expect(byValues.ticks).toBeGreaterThan(1);
    // A matrix child interpolated with each cluster's parameters, at the same cost each.
    const interpolated = withGenerators(
      [
        {
          matrix: {
            generators: [{ clusters: {} }, { list: { elements: [{ y: `{{.name}}${busy}` }] } }],
          },
        },
      ],
      'a-{{.name}}',
    );
    const byMatrix = await timed(interpolated, { maxRenderMs: 150 });
    expect(byMatrix.result.errors).toMatchObject([
      {
        stage: 'limit',
        limit: 'renderTime',
        message: expect.stringMatching(
          /^spec\.generators\[0\]\.matrix\.generators\[1\]: rendering templates took longer/,
        ) as unknown,
      },
    ]);
    expect(byMatrix.took).toBeLessThan(1500);
    expect(byMatrix.ticks).toBeGreaterThan(1);
    // Abandoned while the generators run: it stops at their next yield.
    const abandon = new AbortController();
    setTimeout(() => abandon.abort(new Error('abandoned')), 30);
    const t0 = performance.now();
    await expect(
      generateApplications(values, { ...ctx, clusters: many, signal: abandon.signal }),
    ).rejects.toThrow('abandoned');
    expect(performance.now() - t0).toBeLessThan(300);
    // Within the limit, both generate whole.
    for (const doc of [values, interpolated]) {
      const whole = await generateApplications(doc, { ...ctx, clusters: many });
      expect(whole.errors).toEqual([]);
      expect(whole.applications).toHaveLength(many.length);
    }
  });

  it('does not count against an application the time others had while rendering yielded', async () => {
    const elements = Array.from({ length: 6 }, (_, i) => ({ x: String(i) }));
    // About 130 ms each: the third or so comes after a yield.
    const doc = withGenerators([{ list: { elements } }], 'a-{{.x}}', {
      busy: '{{range until 690}}{{range until 690}}{{end}}{{end}}',
    });
    // Something else holds the event loop for longer than one application may render.
    setTimeout(() => {
      const until = performance.now() + 2100;
      while (performance.now() < until);
    }, 0);
    const r = await generateApplications(doc, ctx);
    expect(r.errors).toEqual([]);
    expect(r.applications).toHaveLength(6);
  });

  it('counts applications after selectors, and a merge by its base: large inputs that yield few pass', async () => {
    const elements = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ x: String(i), y: 'a', keep: i < 2 ? '1' : '0' }));
    const doc = (generators: unknown[]) => withGenerators(generators, 'a-{{.x}}');
    const selected = await generateApplications(
      doc([{ list: { elements: elements(30) }, selector: { matchLabels: { keep: '1' } } }]),
      { ...ctx, maxApplications: 10 },
    );
    expect(selected.errors).toEqual([]);
    expect(selected.applications.map((a) => a.metadata.name)).toEqual(['a-0', 'a-1']);
    const merged = await generateApplications(
      doc([
        {
          merge: {
            mergeKeys: ['x'],
            generators: [
              { list: { elements: elements(5) } },
              { list: { elements: elements(30).map((e) => ({ ...e, y: 'b' })) } },
            ],
          },
        },
      ]),
      { ...ctx, maxApplications: 10 },
    );
    expect(merged.errors).toEqual([]);
    expect(merged.applications).toHaveLength(5);
  });

  it('reports every duplicate name and skips those Applications only', async () => {
    const appset = parse({
      metadata: { name: 'dups' },
      spec: {
        generators: [
          { list: { elements: [{ app: 'a' }, { app: 'b' }, { app: 'a' }, { app: 'c' }] } },
          { list: { elements: [{ app: 'c' }] } },
        ],
        template: {
          metadata: { name: '{{app}}' },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git', path: '{{app}}' },
            destination: { name: 'in-cluster' },
          },
        },
      },
    });
    const res = await generateApplications(appset, ctx);
    expect(res.applications.map((a) => a.metadata.name)).toEqual(['b']);
    expect(res.errors.map((e) => [e.index, e.name, e.stage, e.generator])).toEqual([
      [0, 'a', 'duplicate', 0],
      [2, 'a', 'duplicate', 0],
      [3, 'c', 'duplicate', 0],
      [4, 'c', 'duplicate', 1],
    ]);
    expect(res.errors[0].message).toMatch(
      /duplicate name: a \(generated 2 times, at indexes 0, 2\)/,
    );
    expect(res.complete).toBe(true);
  });

  it('isolates rendering errors to their parameter set', async () => {
    const appset = parse({
      metadata: { name: 'partial' },
      spec: {
        goTemplate: true,
        goTemplateOptions: ['missingkey=error'],
        generators: [
          { list: { elements: [{ app: 'a', path: 'p' }, { app: 'b' }, { app: 'c', path: 'q' }] } },
        ],
        template: {
          metadata: { name: '{{.app}}' },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git', path: '{{.path}}' },
            destination: { name: 'in-cluster' },
          },
        },
      },
    });
    const res = await generateApplications(appset, ctx);
    expect(res.applications.map((a) => a.metadata.name)).toEqual(['a', 'c']);
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0]).toMatchObject({ index: 1, stage: 'template', generator: 0 });
    expect(res.errors[0].message).toMatch(/spec\.template\.spec\.source\.path/);
    expect(res.errors[0].message).toMatch(/map has no entry for key "path"/);
    expect(res.complete).toBe(false);
  });

  it('validates each Application on its own', async () => {
    const appset = parse({
      metadata: { name: 'v' },
      spec: {
        generators: [
          {
            list: {
              elements: [
                { name: 'ok', dest: 'engineering-dev', server: '' },
                { name: 'Bad_Name', dest: 'engineering-dev', server: '' },
                { name: 'nowhere', dest: 'missing-cluster', server: '' },
                { name: 'both', dest: 'engineering-dev', server: 'https://1.2.3.4' },
                { name: 'by-server', dest: '', server: 'https://2.4.6.8' },
                { name: 'unknown-server', dest: '', server: 'https://9.9.9.9' },
              ],
            },
          },
        ],
        template: {
          metadata: { name: '{{name}}' },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git' },
            destination: { name: '{{dest}}', server: '{{server}}' },
          },
        },
      },
    });
    const res = await generateApplications(appset, ctx);
    expect(res.applications.map((a) => [a.metadata.name, a.spec.destination])).toEqual([
      ['ok', { name: 'engineering-dev', server: 'https://1.2.3.4' }],
      ['by-server', { name: 'engineering-prod', server: 'https://2.4.6.8' }],
    ]);
    expect(res.errors.map((e) => [e.name, e.stage, e.message])).toEqual([
      [
        'Bad_Name',
        'validation',
        expect.stringMatching(
          /invalid application name "Bad_Name": must be a lowercase RFC 1123 subdomain/,
        ),
      ],
      [
        'nowhere',
        'validation',
        'application references destination cluster missing-cluster which does not exist',
      ],
      [
        'both',
        'validation',
        "application destination can't have both name and server defined: engineering-dev https://1.2.3.4",
      ],
      ['unknown-server', 'validation', "cluster 'https://9.9.9.9' has not been configured"],
    ]);
    expect(res.complete).toBe(true);
  });

  it('checks projects when the hub lists them', async () => {
    const res = await generateApplications(parse(LIST_DOCS), { ...ctx, projects: ['default'] });
    expect(res.applications).toEqual([]);
    expect(res.errors[0].message).toBe(
      'application references project my-project which does not exist',
    );
  });

  it('isolates a failing generator and marks the result incomplete', async () => {
    const appset = parse({
      metadata: { name: 'g' },
      spec: {
        generators: [
          {
            git: {
              repoURL: 'https://missing.example/r.git',
              revision: 'HEAD',
              directories: [{ path: '*' }],
            },
          },
          { list: { elements: [{ app: 'a' }] } },
        ],
        template: {
          metadata: { name: '{{app}}' },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git' },
            destination: { name: 'in-cluster' },
          },
        },
      },
    });
    const res = await generateApplications(appset, ctx);
    expect(res.applications.map((a) => a.metadata.name)).toEqual(['a']);
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0]).toMatchObject({ index: -1, generator: 0, stage: 'generator' });
    expect(res.errors[0].message).toMatch(
      /^spec\.generators\[0\]\.git: cannot resolve revision "HEAD"/,
    );
    expect(res.complete).toBe(false);
  });

  it('handles finalizers like Argo (preserveResourcesOnDeletion, explicit finalizers)', async () => {
    const base = {
      metadata: { name: 'f' },
      spec: {
        generators: [{ list: { elements: [{ app: 'a' }] } }],
        template: {
          metadata: { name: '{{app}}' },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git' },
            destination: { name: 'in-cluster' },
          },
        },
      },
    };
    const preserve = structuredClone(base) as typeof base & { spec: { syncPolicy?: unknown } };
    preserve.spec.syncPolicy = { preserveResourcesOnDeletion: true };
    expect(
      (await generateApplications(parse(preserve), ctx)).applications[0].metadata.finalizers,
    ).toBeUndefined();
    const explicit = structuredClone(base) as typeof base & {
      spec: { template: { metadata: { finalizers?: string[] } } };
    };
    explicit.spec.template.metadata.finalizers = [
      'resources-finalizer.argocd.argoproj.io/background',
    ];
    expect(
      (await generateApplications(parse(explicit), ctx)).applications[0].metadata.finalizers,
    ).toEqual(['resources-finalizer.argocd.argoproj.io/background']);
  });

  it('renders labels and annotations, keys included, and validates them', async () => {
    const appset = parse({
      metadata: { name: 'l' },
      spec: {
        goTemplate: true,
        generators: [{ clusters: { selector: { matchLabels: { environment: 'dev' } } } }],
        template: {
          metadata: {
            name: '{{.name}}-app',
            labels: {
              'env-{{.metadata.labels.environment}}': 'true',
              cluster: '{{.nameNormalized}}',
            },
            annotations: { 'example.com/server': '{{.server}}' },
          },
          spec: {
            project: 'default',
            source: { repoURL: 'https://x/r.git' },
            destination: { server: '{{.server}}' },
          },
        },
      },
    });
    const res = await generateApplications(appset, ctx);
    expect(res.errors).toEqual([]);
    expect(res.applications[0].metadata).toEqual({
      name: 'engineering-dev-app',
      labels: { 'env-dev': 'true', cluster: 'engineering-dev' },
      annotations: { 'example.com/server': 'https://1.2.3.4' },
      finalizers: [RESOURCES_FINALIZER],
    });
  });

  it('produces 100,000 Applications from 10,000 clusters x 10 git directories quickly', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`apps/app-${i}/kustomization.yaml`] = '';
    const git = new MemoryGitTree({ 'https://git.example.com/apps.git': { files } });
    const many: ClusterInfo[] = Array.from({ length: 10_000 }, (_, i) => ({
      name: `cluster-${i}`,
      server: `https://10.0.${i >> 8}.${i & 255}:6443`,
      labels: { env: i % 2 ? 'prod' : 'dev' },
      annotations: {},
    }));
    const appset = parse({
      metadata: { name: 'perf' },
      spec: {
        goTemplate: true,
        goTemplateOptions: ['missingkey=error'],
        generators: [
          {
            matrix: {
              generators: [
                { clusters: {} },
                {
                  git: {
                    repoURL: 'https://git.example.com/apps.git',
                    revision: 'HEAD',
                    directories: [{ path: 'apps/*' }],
                  },
                },
              ],
            },
          },
        ],
        template: {
          metadata: {
            name: '{{.path.basename}}-{{.name}}',
            labels: { env: '{{.metadata.labels.env}}' },
          },
          spec: {
            project: 'default',
            source: {
              repoURL: 'https://git.example.com/apps.git',
              targetRevision: 'HEAD',
              path: '{{.path.path}}',
            },
            destination: { server: '{{.server}}', namespace: '{{.path.basename}}' },
            syncPolicy: {
              automated: { prune: true, selfHeal: true },
              syncOptions: ['CreateNamespace=true'],
            },
          },
        },
      },
    });
    const start = performance.now();
    const res = await generateApplications(appset, { clusters: many, git });
    const elapsed = performance.now() - start;
    expect(res.errors).toEqual([]);
    expect(res.applications).toHaveLength(100_000);
    expect(res.applications[99_999].metadata.name).toBe('app-9-cluster-9999');
    expect(elapsed).toBeLessThan(15_000); // ~1 s measured; generous for shared CI machines
  });
});
