import { describe, expect, it } from 'vitest';
import { parseApplicationSet } from './parse.js';

// Copied from Argo CD's Generators-Git.md, unchanged.
const ARGO_GIT_DIRECTORIES = `apiVersion: argoproj.io/v1alpha1
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
      - path: applicationset/examples/git-generator-directory/excludes/cluster-addons/*
      - path: applicationset/examples/git-generator-directory/excludes/cluster-addons/exclude-helm-guestbook
        exclude: true
  template:
    metadata:
      name: '{{path.basename}}'
    spec:
      project: "my-project"
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: '{{path.path}}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{path.basename}}'
`;

// Copied from Argo CD's Generators-Matrix.md, unchanged.
const ARGO_MATRIX = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: cluster-git
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    # matrix 'parent' generator
    - matrix:
        generators:
          # git generator, 'child' #1
          - git:
              repoURL: https://github.com/argoproj/argo-cd.git
              revision: HEAD
              directories:
                - path: applicationset/examples/matrix/cluster-addons/*
          # cluster generator, 'child' #2
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
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: '{{.path.path}}'
      destination:
        server: '{{.server}}'
        namespace: '{{.path.basename}}'
`;

describe('parseApplicationSet', () => {
  it('parses an Argo CD ApplicationSet from the docs unchanged', () => {
    const r = parseApplicationSet(ARGO_GIT_DIRECTORIES);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    const a = r.appset!;
    expect(a.metadata).toEqual({ name: 'cluster-addons', namespace: 'argocd' });
    expect(a.spec.goTemplate).toBe(false);
    expect(a.spec.syncPolicy).toEqual({
      applicationsSync: 'sync',
      preserveResourcesOnDeletion: false,
    });
    expect(a.spec.generators[0].git!.directories).toHaveLength(2);
    expect(a.spec.template.spec.destination).toEqual({
      server: 'https://kubernetes.default.svc',
      namespace: '{{path.basename}}',
    });
  });

  it('refuses credentials in a git generator repository URL (they would be stored and shown)', () => {
    const r = parseApplicationSet(
      ARGO_GIT_DIRECTORIES.replace(
        '      repoURL: https://github.com/argoproj/argo-cd.git\n      revision',
        '      repoURL: https://bot:ghp_secret@github.com/argoproj/argo-cd.git\n      revision',
      ),
    );
    expect(r.errors).toEqual([
      {
        path: 'spec.generators[0].git.repoURL',
        message: expect.stringContaining('must not contain credentials'),
      },
    ]);
    const ssh = parseApplicationSet(
      ARGO_GIT_DIRECTORIES.replace(
        '      repoURL: https://github.com/argoproj/argo-cd.git\n      revision',
        '      repoURL: ssh://git@github.com/argoproj/argo-cd.git\n      revision',
      ),
    );
    expect(ssh.errors).toEqual([]);
  });

  it('parses the matrix example with goTemplate options', () => {
    const r = parseApplicationSet(ARGO_MATRIX);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.appset!.spec.goTemplate).toBe(true);
    expect(r.appset!.spec.goTemplateOptions).toEqual(['missingkey=error']);
    expect(r.appset!.spec.generators[0].matrix!.generators).toHaveLength(2);
  });

  it('reports unsupported fields as warnings and refuses unknown ones, by path', () => {
    const yaml = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
spec:
  strategy:
    type: RollingSync
    deletionOrder: Reverse
    rollingSync:
      steps:
      - matchExpressions:
        - key: env
          operator: In
          values: [dev]
      - matchExpressions:
        - {key: env, operator: In, values: [prod]}
        maxUpdate: 10%
  generators:
  - list:
      elements:
      - cluster: engineering-dev
  template:
    metadata:
      name: '{{cluster}}-guestbook'
      namespace: argocd
    spec:
      project: default
      info:
      - name: team
        value: a
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps.git
        targetRevision: HEAD
        path: jsonnet-guestbook
        directory:
          recurse: true
          jsonnet:
            tlas:
            - name: replicas
              value: "2"
      destination:
        server: https://kubernetes.default.svc
        namespace: guestbook
        colour: blue
`;
    // A field nobody knows (most likely a typo) is refused, by path.
    const typo = parseApplicationSet(yaml);
    expect(typo.errors).toEqual([
      { path: 'spec.template.spec.destination.colour', message: 'unknown field' },
    ]);
    const r = parseApplicationSet(yaml.replace('        colour: blue\n', ''));
    expect(r.errors).toEqual([]);
    // Argo CD fields Axle does not support are kept out and reported as warnings.
    expect(r.warnings.map((w) => w.path)).toEqual([
      'spec.strategy.deletionOrder',
      'spec.template.metadata.namespace',
      'spec.template.spec.info',
      'spec.template.spec.source.directory.jsonnet',
    ]);
    expect(
      r.warnings.find((w) => w.path === 'spec.template.spec.source.directory.jsonnet')!.message,
    ).toMatch(/not supported/);
    const spec = r.appset!.spec.template.spec;
    expect(spec.source!.directory).toEqual({ recurse: true });
    expect(spec.destination).toEqual({
      server: 'https://kubernetes.default.svc',
      namespace: 'guestbook',
    });
    expect('info' in spec).toBe(false);
    // RollingSync as Argo CD defines it, with Argo's defaults (maxUpdate 100%) and Axle's.
    expect(r.appset!.spec.rollingSync).toEqual({
      steps: [
        { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }], maxUpdate: '100%' },
        { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }], maxUpdate: '10%' },
      ],
      defaultPrune: false,
      onFailure: 'pause',
      progressDeadlineSeconds: 600,
    });
    const noSteps = parseApplicationSet(
      yaml.replace(/ {4}rollingSync:[\s\S]*?maxUpdate: 10%\n/, ''),
    );
    expect(noSteps.errors).toContainEqual({
      path: 'spec.strategy.rollingSync',
      message: 'RollingSync needs rollingSync.steps',
    });
  });

  it('refuses unknown top-level fields (typos) like unknown fields anywhere', () => {
    const r = parseApplicationSet(
      ARGO_GIT_DIRECTORIES.replace(
        'metadata:\n  name: cluster-addons',
        'metdata: {}\nmetadata:\n  name: cluster-addons',
      ),
    );
    expect(r.appset).toBeUndefined();
    expect(r.errors).toEqual([{ path: 'metdata', message: 'unknown field' }]);
    // status (as kubectl get -o yaml shows it) is not a typo.
    expect(parseApplicationSet(`${ARGO_GIT_DIRECTORIES}status: {}\n`).errors).toEqual([]);
  });

  it('says "not an ApplicationSet" for another kind instead of a page of field errors', () => {
    const r = parseApplicationSet(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n',
    );
    expect(r.appset).toBeUndefined();
    expect(r.warnings).toEqual([]);
    expect(r.errors).toEqual([
      {
        path: 'kind',
        message:
          'not an ApplicationSet (kind ConfigMap, apiVersion v1): expected kind ApplicationSet, apiVersion argoproj.io/v1alpha1',
      },
    ]);
    expect(
      parseApplicationSet(ARGO_GIT_DIRECTORIES.replace('argoproj.io/v1alpha1', 'argoproj.io/v1'))
        .errors,
    ).toEqual([
      {
        path: 'apiVersion',
        message:
          'not an ApplicationSet (kind ApplicationSet, apiVersion argoproj.io/v1): expected kind ApplicationSet, apiVersion argoproj.io/v1alpha1',
      },
    ]);
  });

  it('refuses a Go template that does not parse, by path (it could never render)', () => {
    const doc = ARGO_GIT_DIRECTORIES.replace(
      "name: '{{path.basename}}'",
      "name: '{{.path.basename'",
    ).replace('spec:\n  generators:', 'spec:\n  goTemplate: true\n  generators:');
    const r = parseApplicationSet(doc);
    expect(r.appset).toBeUndefined();
    // The broken name, and the fasttemplate-style `{{path.path}}` (no function "path" in Go).
    expect(r.errors.map((e) => e.path)).toEqual([
      'spec.template.metadata.name',
      'spec.template.spec.source.path',
      'spec.template.spec.destination.namespace',
    ]);
    expect(r.errors.every((e) => e.message.startsWith('template does not parse: '))).toBe(true);
    // fasttemplate has no syntax to get wrong: the same text is accepted without goTemplate.
    expect(
      parseApplicationSet(ARGO_GIT_DIRECTORIES.replace("'{{path.basename}}'", "'{{path.basename'"))
        .errors,
    ).toEqual([]);
  });

  it('reports invalid fields with their path and reason', () => {
    const r = parseApplicationSet({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'x' },
      spec: {
        goTemplateOptions: ['missingkey=sometimes'],
        syncPolicy: { applicationsSync: 'always' },
        generators: [
          { list: { elements: [] } },
          { lists: {} },
          { clusters: { selector: { matchLabels: { a: 1 } } } },
        ],
        template: {
          metadata: { name: 'x', labels: { a: true } },
          spec: {
            project: 'default',
            destination: {},
            syncPolicy: { automated: { prune: 'yes-please' } },
          },
        },
      },
    });
    expect(r.appset).toBeUndefined();
    const byPath = Object.fromEntries(r.errors.map((e) => [e.path, e.message]));
    expect(Object.keys(byPath).sort()).toEqual([
      'spec.generators[1].lists',
      'spec.generators[2].clusters.selector.matchLabels.a',
      'spec.goTemplateOptions',
      'spec.syncPolicy.applicationsSync',
      'spec.template.metadata.labels.a',
      'spec.template.spec.syncPolicy.automated.prune',
    ]);
    expect(byPath['spec.generators[1].lists']).toMatch(/unknown generator "lists"/);
    expect(byPath['spec.template.spec.syncPolicy.automated.prune']).toBe(
      'expected boolean, got string',
    );
    expect(byPath['spec.goTemplateOptions']).toMatch(
      /unrecognized goTemplateOptions entry "missingkey=sometimes"/,
    );
    expect(byPath['spec.syncPolicy.applicationsSync']).toMatch(/create-only/);
  });

  it('reports missing required fields', () => {
    const r = parseApplicationSet(
      'apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: a}\nspec:\n  generators: []\n  template:\n    metadata: {}\n    spec: {}\n',
    );
    expect(r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'spec.template.spec.project: required field is missing (expected string)',
      'spec.template.spec.destination: required field is missing (expected object)',
    ]);
  });

  it('rejects other kinds, broken YAML and several documents', () => {
    expect(
      parseApplicationSet(
        'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {}',
      ).errors[0].path,
    ).toBe('kind');
    expect(parseApplicationSet('a: [\n').errors[0].message).toMatch(/^invalid YAML at line \d+/);
    expect(parseApplicationSet('a: 1\n---\nb: 2\n').errors[0].message).toMatch(/found 2 documents/);
    expect(parseApplicationSet('').errors[0].message).toBe('empty document');
  });

  it('accepts the Axle JSON form', () => {
    const r = parseApplicationSet(
      JSON.stringify({
        name: 'guestbook',
        namespace: 'team-a',
        spec: {
          goTemplate: true,
          generators: [{ list: { elements: [{ cluster: 'dev' }] } }],
          template: {
            metadata: { name: '{{.cluster}}' },
            spec: { project: 'default', destination: { name: '{{.cluster}}' } },
          },
          syncPolicy: { applicationsSync: 'create-only', preserveResourcesOnDeletion: true },
        },
      }),
    );
    expect(r.errors).toEqual([]);
    expect(r.appset!.metadata).toEqual({ name: 'guestbook', namespace: 'team-a' });
    expect(r.appset!.spec.syncPolicy).toEqual({
      applicationsSync: 'create-only',
      preserveResourcesOnDeletion: true,
    });
  });

  it('ignores server-managed metadata and status (kubectl get -o yaml output)', () => {
    const r = parseApplicationSet({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: {
        name: 'a',
        uid: 'u',
        resourceVersion: '1',
        generation: 3,
        creationTimestamp: '2024-01-01T00:00:00Z',
      },
      spec: { generators: [], template: { metadata: {}, spec: { project: 'p', destination: {} } } },
      status: { conditions: [] },
    });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('validates top-level generator templates and drops nested ones with a warning', () => {
    const r = parseApplicationSet({
      metadata: { name: 'a' },
      spec: {
        generators: [
          {
            list: {
              elements: [],
              template: { metadata: {}, spec: { source: { path: 'x', helm: { skipCrds: 'no' } } } },
            },
          },
          {
            matrix: {
              generators: [
                { list: { elements: [], template: { metadata: {} } } },
                { clusters: {} },
              ],
            },
          },
        ],
        template: { metadata: {}, spec: { project: 'p', destination: {} } },
      },
    });
    expect(r.errors).toEqual([
      {
        path: 'spec.generators[0].list.template.spec.source.helm.skipCrds',
        message: 'expected boolean, got string',
      },
    ]);
    expect(r.warnings.map((w) => w.path)).toEqual([
      'spec.generators[1].matrix.generators[0].list.template',
    ]);
  });

  it('treats a single entry of sources as source, and rejects several', () => {
    const withSources = (sources: unknown[]) => ({
      metadata: { name: 'a' },
      spec: {
        generators: [],
        template: { metadata: {}, spec: { project: 'p', destination: {}, sources } },
      },
    });
    expect(
      parseApplicationSet(withSources([{ repoURL: 'r', path: 'p' }])).appset!.spec.template.spec
        .source,
    ).toEqual({
      repoURL: 'r',
      path: 'p',
    });
    expect(parseApplicationSet(withSources([{ repoURL: 'r' }, { repoURL: 's' }])).errors).toEqual([
      {
        path: 'spec.template.spec.sources',
        message: 'multi-source Applications are not supported by Axle (use a single source)',
      },
    ]);
  });
});
