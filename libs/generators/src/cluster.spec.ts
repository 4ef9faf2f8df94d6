import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { ClusterInfo, GeneratorContext } from './types.js';

const clusters: ClusterInfo[] = [
  {
    name: 'staging',
    server: 'https://1.2.3.4',
    labels: { type: 'staging', environment: 'staging' },
    annotations: { 'my-custom-annotation': 'main' },
  },
  {
    name: 'Production_EU',
    server: 'https://2.4.6.8',
    labels: { type: 'production' },
    annotations: {},
    project: 'prod',
  },
];
const ctx = (goTemplate: boolean): GeneratorContext => ({
  clusters,
  git: new MemoryGitTree({}),
  goTemplate,
});

describe('cluster generator', () => {
  it("names the hub's own cluster in-cluster, at https://kubernetes.default.svc, as Argo CD does", async () => {
    const local: ClusterInfo = {
      name: 'hub-home',
      server: 'https://kubernetes.default.svc',
      labels: {},
      annotations: {},
      inCluster: true,
    };
    const params = await generate(
      { clusters: {} },
      { clusters: [local], git: new MemoryGitTree({}), goTemplate: true },
    );
    expect(params).toMatchObject([
      {
        name: 'in-cluster',
        nameNormalized: 'in-cluster',
        server: 'https://kubernetes.default.svc',
      },
    ]);
    // With a selector it is matched by its labels, like any cluster.
    expect(
      await generate(
        { clusters: { selector: { matchLabels: { env: 'prod' } } } },
        { clusters: [local], git: new MemoryGitTree({}), goTemplate: true },
      ),
    ).toEqual([]);
  });

  it('produces flattened parameters in fasttemplate mode', async () => {
    const params = await generate({ clusters: {} }, ctx(false));
    expect(params).toEqual([
      {
        name: 'staging',
        nameNormalized: 'staging',
        server: 'https://1.2.3.4',
        project: '',
        'metadata.labels.type': 'staging',
        'metadata.labels.environment': 'staging',
        'metadata.labels.argocd.argoproj.io/secret-type': 'cluster',
        'metadata.annotations.my-custom-annotation': 'main',
      },
      {
        name: 'Production_EU',
        nameNormalized: 'production-eu',
        server: 'https://2.4.6.8',
        project: 'prod',
        'metadata.labels.type': 'production',
        'metadata.labels.argocd.argoproj.io/secret-type': 'cluster',
      },
    ]);
  });

  it('produces nested metadata in goTemplate mode', async () => {
    const [staging, prod] = await generate({ clusters: {} }, ctx(true));
    expect(staging).toEqual({
      name: 'staging',
      nameNormalized: 'staging',
      server: 'https://1.2.3.4',
      project: '',
      metadata: {
        labels: {
          type: 'staging',
          environment: 'staging',
          'argocd.argoproj.io/secret-type': 'cluster',
        },
        annotations: { 'my-custom-annotation': 'main' },
      },
    });
    expect(prod.metadata).toEqual({
      labels: { type: 'production', 'argocd.argoproj.io/secret-type': 'cluster' },
    });
  });

  it('selects clusters by label (Generators-Cluster.md)', async () => {
    const byLabels = await generate(
      { clusters: { selector: { matchLabels: { type: 'staging' } } } },
      ctx(true),
    );
    expect(byLabels.map((p) => p.name)).toEqual(['staging']);
    const bySecretType = await generate(
      { clusters: { selector: { matchLabels: { 'argocd.argoproj.io/secret-type': 'cluster' } } } },
      ctx(true),
    );
    expect(bySecretType).toHaveLength(2);
    const byExpr = await generate(
      {
        clusters: {
          selector: { matchExpressions: [{ key: 'type', operator: 'NotIn', values: ['staging'] }] },
        },
      },
      ctx(true),
    );
    expect(byExpr.map((p) => p.name)).toEqual(['Production_EU']);
  });

  it('interpolates values with the cluster parameters (goTemplate)', async () => {
    const params = await generate(
      {
        clusters: {
          selector: { matchLabels: { type: 'staging' } },
          values: {
            revision: '{{index .metadata.annotations "my-custom-annotation"}}',
            clusterName: '{{.name}}',
          },
        },
      },
      ctx(true),
    );
    expect(params[0].values).toEqual({ revision: 'main', clusterName: 'staging' });
  });

  it('interpolates values with the cluster parameters (fasttemplate)', async () => {
    const params = await generate(
      {
        clusters: {
          values: {
            revision: 'HEAD',
            env: '{{metadata.labels.type}}',
            name: '{{nameNormalized}}-x',
          },
        },
      },
      ctx(false),
    );
    expect(params.map((p) => [p['values.revision'], p['values.env'], p['values.name']])).toEqual([
      ['HEAD', 'staging', 'staging-x'],
      ['HEAD', 'production', 'production-eu-x'],
    ]);
  });

  it('flatList returns one param set listing the clusters', async () => {
    const params = await generate(
      { clusters: { flatList: true, selector: { matchLabels: { type: 'staging' } } } },
      ctx(true),
    );
    expect(params).toHaveLength(1);
    expect((params[0].clusters as { name: string }[]).map((c) => c.name)).toEqual(['staging']);
  });

  it('names the selector in errors', async () => {
    await expect(
      generate(
        {
          clusters: {
            selector: { matchExpressions: [{ key: 'type', operator: 'Like', values: ['x'] }] },
          },
        },
        ctx(true),
        'spec.generators[2]',
      ),
    ).rejects.toThrow(
      /^spec\.generators\[2\]\.clusters\.selector: matchExpressions\[0\]\.operator: "Like" is not a valid label selector operator/,
    );
  });
});
