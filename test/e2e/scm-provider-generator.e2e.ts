import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { api, createTestDatabase, startTestHub, tempDir } from '../support/hub-harness.js';
import { startScmServer, type FakeRepo } from '../support/scm-server.js';

const repos: FakeRepo[] = [
  {
    id: 11,
    name: 'app',
    defaultBranch: 'main',
    topics: ['preview'],
    branches: { main: 'a'.repeat(40), 'feature/x': 'b'.repeat(40) },
    paths: { main: ['deploy/kustomization.yaml'], 'feature/x': [] },
  },
  {
    id: 12,
    name: 'lib',
    defaultBranch: 'main',
    topics: [],
    branches: { main: 'c'.repeat(40) },
    paths: { main: ['README.md'] },
  },
];

describe("Argo CD's SCM provider generator against GitHub, Gitea, GitLab and Bitbucket Server APIs", () => {
  let hub: RunningHub;
  let scm: Awaited<ReturnType<typeof startScmServer>>;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    scm = await startScmServer([], repos);
    cleanup.push(scm.close);
    const dir = await tempDir('axle-hub-scm-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    expect((await api(hub).post('/api/v1/clusters', { name: 'dev' })).status).toBe(201);
    const cred = await api(hub).post('/api/v1/repositories/credentials', {
      type: 'https',
      urlPrefix: scm.url,
      username: 'bot',
      password: 'scm-token-456',
    });
    expect(cred.status).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
    for (const c of cleanup.reverse()) await c();
  });

  const generate = async (
    provider: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) => {
    const r = await api(hub).post('/api/v1/applicationsets/dry-run', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'repos' },
      spec: {
        goTemplate: true,
        generators: [{ scmProvider: { ...provider, ...extra } }],
        template: {
          metadata: {
            name: '{{.repository}}-{{.branchNormalized}}',
            labels: { sha: '{{.short_sha}}', topics: '{{.labels}}' },
          },
          spec: {
            project: 'default',
            source: { repoURL: '{{.url}}', targetRevision: '{{.branch}}', path: 'deploy' },
            destination: { name: 'dev', namespace: '{{.repository}}' },
          },
        },
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const body = r.body as {
      applications: {
        metadata: { name: string; labels: Record<string, string> };
        spec: { source: { repoURL: string; targetRevision: string } };
      }[];
      errors: { message: string }[];
    };
    expect(body.errors).toEqual([]);
    return body.applications;
  };
  const only = { filters: [{ pathsExist: ['deploy'] }] };

  it('GitHub: default branches, ssh or https clone URLs, topics as labels', async () => {
    const apps = await generate({ github: { organization: 'team', api: scm.url } });
    expect(apps.map((a) => a.metadata.name)).toEqual(['app-main', 'lib-main']);
    expect(apps[0].spec.source).toMatchObject({
      repoURL: 'git@scm.local:team/app.git',
      targetRevision: 'main',
    });
    expect(apps[0].metadata.labels).toEqual({ sha: 'aaaaaaaa', topics: 'preview' });
    const https = await generate(
      { github: { organization: 'team', api: scm.url } },
      { cloneProtocol: 'https' },
    );
    expect(https[0].spec.source.repoURL).toBe(`${scm.url}/team/app.git`);
    const gh = scm.requests.find((r) => r.path.startsWith('/api/v3/orgs/team/repos'))!;
    expect(gh.headers.authorization).toBe('Bearer scm-token-456');
  });

  it('every provider: all branches, only those where a path exists', async () => {
    for (const provider of [
      { github: { organization: 'team', api: scm.url, allBranches: true } },
      { gitea: { owner: 'team', api: scm.url, allBranches: true } },
      { gitlab: { group: 'team', api: scm.url, allBranches: true } },
      { bitbucketServer: { project: 'TEAM', api: scm.url, allBranches: true } },
    ]) {
      const all = await generate(provider);
      expect(
        all.map((a) => a.metadata.name),
        JSON.stringify(provider),
      ).toEqual(['app-main', 'app-feature-x', 'lib-main']);
      const kept = await generate(provider, only);
      expect(
        kept.map((a) => a.metadata.name),
        JSON.stringify(provider),
      ).toEqual(['app-main']);
    }
    // Each with its own authentication.
    const header = (prefix: string, name: string) =>
      scm.requests.find((r) => r.path.startsWith(prefix))!.headers[name];
    expect(header('/api/v1/orgs/team/repos', 'authorization')).toBe('token scm-token-456');
    expect(header('/api/v4/groups/team/projects', 'private-token')).toBe('scm-token-456');
    expect(header('/rest/api/1.0/projects/TEAM/repos', 'authorization')).toBe(
      `Basic ${Buffer.from('bot:scm-token-456').toString('base64')}`,
    );
  });

  it('filters by repository name and label', async () => {
    const byName = await generate(
      { github: { organization: 'team', api: scm.url } },
      { filters: [{ repositoryMatch: '^lib' }] },
    );
    expect(byName.map((a) => a.metadata.name)).toEqual(['lib-main']);
    const byLabel = await generate(
      { gitlab: { group: 'team', api: scm.url } },
      { filters: [{ labelMatch: '^prev' }] },
    );
    expect(byLabel.map((a) => a.metadata.name)).toEqual(['app-main']);
  });
});
