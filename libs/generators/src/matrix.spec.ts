import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { ClusterInfo, GeneratorContext, GeneratorSpec } from './types.js';

const REPO = 'https://github.com/argoproj/argo-cd.git';
const ADDONS = 'applicationset/examples/matrix/cluster-addons';

const clusters: ClusterInfo[] = [
  {
    name: 'staging',
    server: 'https://1.2.3.4',
    labels: { 'kubernetes.io/environment': 'dev' },
    annotations: {},
  },
  {
    name: 'production',
    server: 'https://2.4.6.8',
    labels: { 'kubernetes.io/environment': 'prod' },
    annotations: {},
  },
];

const git = () =>
  new MemoryGitTree({
    [REPO]: {
      files: {
        [`${ADDONS}/argo-workflows/kustomization.yaml`]: '',
        [`${ADDONS}/prometheus-operator/Chart.yaml`]: '',
        'cluster-config/engineering/dev/config.json': '{"region":"eu"}',
        'cluster-config/engineering/prod/config.json': '{"region":"us"}',
        'apps/app-one.json': '{ "appName": "app-one" }',
        'apps/app-two.json': '{ "appName": "app-two" }',
        'targets/app-one/east-cluster-one.json':
          '{ "region": "east", "clusterName": "cluster-one" }',
        'targets/app-one/east-cluster-two.json':
          '{ "region": "east", "clusterName": "cluster-two" }',
        'targets/app-two/east-cluster-one.json':
          '{ "region": "east", "clusterName": "cluster-one" }',
        'targets/app-two/west-cluster-three.json':
          '{ "region": "west", "clusterName": "cluster-three" }',
      },
    },
  });

const ctx = (goTemplate: boolean, reader = git()): GeneratorContext => ({
  clusters,
  git: reader,
  goTemplate,
});

const list = (key: string, ...values: string[]): GeneratorSpec => ({
  list: { elements: values.map((v) => ({ [key]: v })) },
});

describe('matrix generator', () => {
  it('combines a git directory generator with a cluster generator (Generators-Matrix.md)', async () => {
    const params = await generate(
      {
        matrix: {
          generators: [
            { git: { repoURL: REPO, revision: 'HEAD', directories: [{ path: `${ADDONS}/*` }] } },
            {
              clusters: {
                selector: { matchLabels: { 'argocd.argoproj.io/secret-type': 'cluster' } },
              },
            },
          ],
        },
      },
      ctx(true),
    );
    expect(
      params.map((p) => `${(p.path as { basename: string }).basename}-${p.name as string}`),
    ).toEqual([
      'argo-workflows-staging',
      'argo-workflows-production',
      'prometheus-operator-staging',
      'prometheus-operator-production',
    ]);
    expect(params[1]).toMatchObject({
      server: 'https://2.4.6.8',
      path: { path: `${ADDONS}/argo-workflows` },
    });
  });

  it('builds the cartesian product of three children, left to right', async () => {
    const params = await generate(
      { matrix: { generators: [list('a', '1', '2'), list('b', 'x', 'y'), list('c', 'p', 'q')] } },
      ctx(false),
    );
    expect(params.map((p) => `${p.a as string}${p.b as string}${p.c as string}`)).toEqual([
      '1xp',
      '1xq',
      '1yp',
      '1yq',
      '2xp',
      '2xq',
      '2yp',
      '2yq',
    ]);
  });

  it('interpolates later children with the parameters of earlier ones (goTemplate)', async () => {
    const params = await generate(
      {
        matrix: {
          generators: [
            {
              git: {
                repoURL: REPO,
                revision: 'HEAD',
                files: [{ path: 'cluster-config/**/config.json' }],
              },
            },
            {
              clusters: {
                selector: {
                  matchLabels: {
                    'argocd.argoproj.io/secret-type': 'cluster',
                    'kubernetes.io/environment': '{{.path.basename}}',
                  },
                },
              },
            },
          ],
        },
      },
      ctx(true),
    );
    expect(params.map((p) => [p.name, p.region])).toEqual([
      ['staging', 'eu'],
      ['production', 'us'],
    ]);
  });

  it('interpolates later children in fasttemplate mode and runs identical interpolations once', async () => {
    const reader = git();
    const params = await generate(
      {
        matrix: {
          generators: [
            {
              git: {
                repoURL: REPO,
                revision: 'HEAD',
                files: [{ path: 'apps/*.json' }],
                pathParamPrefix: 'app',
              },
            },
            list('env', 'dev', 'prod'),
            {
              git: {
                repoURL: REPO,
                revision: 'HEAD',
                files: [{ path: 'targets/{{appName}}/*.json' }],
                pathParamPrefix: 'target',
              },
            },
          ],
        },
      },
      ctx(false, reader),
    );
    expect(
      params.map((p) => `${p.appName as string}/${p.env as string}/${p.clusterName as string}`),
    ).toEqual([
      'app-one/dev/cluster-one',
      'app-one/dev/cluster-two',
      'app-one/prod/cluster-one',
      'app-one/prod/cluster-two',
      'app-two/dev/cluster-one',
      'app-two/dev/cluster-three',
      'app-two/prod/cluster-one',
      'app-two/prod/cluster-three',
    ]);
    expect(params[0]).toMatchObject({
      'app.path': 'apps',
      'app.path.filename': 'app-one.json',
      'target.path': 'targets/app-one',
    });
    // each target file is read once although it is needed for both envs
    expect(reader.calls.readFile).toBe(6);
    expect(reader.calls.listFiles).toBe(1);
  });

  it('fails on conflicting keys in fasttemplate mode (use pathParamPrefix)', async () => {
    await expect(
      generate(
        {
          matrix: {
            generators: [
              { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: 'apps/*.json' }] } },
              {
                git: {
                  repoURL: REPO,
                  revision: 'HEAD',
                  files: [{ path: 'targets/app-one/*.json' }],
                },
              },
            ],
          },
        },
        ctx(false),
        'spec.generators[0]',
      ),
    ).rejects.toThrow(
      /^spec\.generators\[0\]\.matrix\.generators\[1\]: .*duplicate key path with different value/,
    );
  });

  it('lets earlier children win in goTemplate mode (Generators-Matrix.md parameter override example)', async () => {
    const params = await generate(
      {
        matrix: {
          generators: [
            {
              list: {
                elements: [
                  { stage: 'test', cpu: '100m', debug: true },
                  { stage: 'prod', memory: '512Mi', debug: false },
                ],
              },
            },
            { list: { elements: [{ cpu: '200m', memory: '256Mi', debug: true }] } },
          ],
        },
      },
      ctx(true),
    );
    expect(params).toEqual([
      { stage: 'test', cpu: '100m', debug: true, memory: '256Mi' },
      { stage: 'prod', memory: '512Mi', debug: false, cpu: '200m' },
    ]);
  });

  it('supports a merge nested in a matrix', async () => {
    const params = await generate(
      {
        matrix: {
          generators: [
            {
              merge: {
                mergeKeys: ['server'],
                generators: [
                  { clusters: { values: { kafka: 'true' } } },
                  { list: { elements: [{ server: 'https://2.4.6.8', 'values.kafka': 'false' }] } },
                ],
              },
            },
            list('app', 'web', 'api'),
          ],
        },
      },
      ctx(false),
    );
    expect(
      params.map((p) => `${p.name as string}:${p['values.kafka'] as string}:${p.app as string}`),
    ).toEqual([
      'staging:true:web',
      'staging:true:api',
      'production:false:web',
      'production:false:api',
    ]);
  });

  it('supports matrices nested at any depth, with selectors on inner children', async () => {
    const params = await generate(
      {
        matrix: {
          generators: [
            list('a', '1', '2'),
            {
              matrix: {
                generators: [
                  { ...list('b', 'x', 'y'), selector: { matchLabels: { b: 'y' } } },
                  { matrix: { generators: [list('c', 'p'), list('d', '{{a}}')] } },
                ],
              },
            },
          ],
        },
      },
      ctx(false),
    );
    expect(params).toEqual([
      { a: '1', b: 'y', c: 'p', d: '1' },
      { a: '2', b: 'y', c: 'p', d: '2' },
    ]);
  });

  it('stops at limits.maxParamSets', async () => {
    const many = (k: string) => ({
      list: { elements: Array.from({ length: 20 }, (_, i) => ({ [k]: String(i) })) },
    });
    await expect(
      generate(
        { matrix: { generators: [many('a'), many('b')] } },
        { ...ctx(false), limits: { maxParamSets: 100 } },
        'spec.generators[0]',
      ),
    ).rejects.toThrow(/^spec\.generators\[0\]\.matrix: produced more than 100 parameter sets/);
  });

  it('names the failing nested generator', async () => {
    await expect(
      generate(
        {
          matrix: {
            generators: [
              list('a', '1'),
              {
                git: {
                  repoURL: 'https://missing.example/r.git',
                  revision: 'HEAD',
                  directories: [{ path: '*' }],
                },
              },
            ],
          },
        },
        ctx(true),
        'spec.generators[0]',
      ),
    ).rejects.toThrow(
      /^spec\.generators\[0\]\.matrix\.generators\[1\]\.git: cannot resolve revision/,
    );
  });
});
