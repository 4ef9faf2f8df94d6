import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import { api, createTestDatabase, startTestHub, tempDir } from '../support/hub-harness.js';
import { startScmServer, type FakePull } from '../support/scm-server.js';

const sha = (n: number) => n.toString(16).padStart(40, 'a');
// 101 pull requests: GitHub answers 100 a page, so the labelled last one is on page 2.
const pulls: FakePull[] = Array.from({ length: 101 }, (_, i) => ({
  number: i + 1,
  title: `change ${i + 1}`,
  branch: i === 100 ? 'Feature_Login/UI' : `branch-${i + 1}`,
  target: 'main',
  sha: sha(i + 1),
  labels: i === 100 ? ['preview'] : [],
  author: 'dev',
}));

describe("Argo CD's pull request generator against GitHub, Gitea, GitLab and Bitbucket Server APIs", () => {
  let hub: RunningHub;
  let repo: TestRepo;
  let scm: Awaited<ReturnType<typeof startScmServer>>;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    scm = await startScmServer(pulls);
    cleanup.push(scm.close);
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ 'app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' });
    const dir = await tempDir('axle-hub-pr-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    expect((await api(hub).post('/api/v1/clusters', { name: 'previews' })).status).toBe(201);
    // The API token is the repository credential whose prefix matches the API URL.
    const cred = await api(hub).post('/api/v1/repositories/credentials', {
      type: 'https',
      urlPrefix: scm.url,
      username: 'bot',
      password: 'scm-token-123',
    });
    expect(cred.status).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
    for (const c of cleanup.reverse()) await c();
  });

  const preview = (provider: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name: 'previews' },
    spec: {
      goTemplate: true,
      generators: [{ pullRequest: { ...provider, ...extra } }],
      template: {
        metadata: {
          name: 'pr-{{.number}}-{{.branch_slug}}',
          labels: { sha: '{{.head_short_sha}}' },
        },
        spec: {
          project: 'default',
          source: { repoURL: repo.fileUrl, targetRevision: '{{.head_sha}}', path: 'app' },
          destination: { name: 'previews', namespace: 'pr-{{.number}}' },
        },
      },
    },
  });
  const generate = async (doc: unknown) => {
    const r = await api(hub).post('/api/v1/applicationsets/dry-run', doc);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as {
      applications: {
        metadata: { name: string; labels: Record<string, string> };
        spec: { source: { targetRevision: string } };
      }[];
      errors: { message: string }[];
    };
  };
  const seen = (prefix: string) => scm.requests.filter((r) => r.path.startsWith(prefix));

  it('GitHub (Enterprise): pages through pull requests and keeps those with every label', async () => {
    const r = await generate(
      preview({ github: { owner: 'team', repo: 'app', api: scm.url, labels: ['preview'] } }),
    );
    expect(r.errors).toEqual([]);
    expect(r.applications.map((a) => a.metadata.name)).toEqual(['pr-101-feature-login-ui']);
    expect(r.applications[0].metadata.labels.sha).toBe(sha(101).slice(0, 8));
    expect(r.applications[0].spec.source.targetRevision).toBe(sha(101));
    const calls = seen('/api/v3/repos/team/app/pulls');
    expect(calls.map((c) => c.path)).toEqual([
      '/api/v3/repos/team/app/pulls?state=open&per_page=100&page=1',
      '/api/v3/repos/team/app/pulls?state=open&per_page=100&page=2',
    ]);
    expect(calls[0].headers.authorization).toBe('Bearer scm-token-123');
  });

  it('Gitea, with a branch filter', async () => {
    const r = await generate(
      preview(
        { gitea: { owner: 'team', repo: 'app', api: scm.url } },
        { filters: [{ branchMatch: '^branch-(1|2)$' }, { targetBranchMatch: '^release$' }] },
      ),
    );
    expect(r.applications.map((a) => a.metadata.name)).toEqual(['pr-1-branch-1', 'pr-2-branch-2']);
    expect(seen('/api/v1/repos/team/app/pulls')[0].headers.authorization).toBe(
      'token scm-token-123',
    );
    expect(seen('/api/v1/repos/team/app/pulls')).toHaveLength(3); // 50 + 50 + 1
  });

  it('GitLab merge requests, paged by X-Next-Page, labels asked of the API', async () => {
    const r = await generate(
      preview({
        gitlab: {
          project: 'team/app',
          api: scm.url,
          labels: ['preview'],
          pullRequestState: 'opened',
        },
      }),
    );
    expect(r.applications.map((a) => a.metadata.name)).toEqual(['pr-101-feature-login-ui']);
    const calls = seen('/api/v4/projects/team%2Fapp/merge_requests');
    expect(calls[0].path).toBe(
      '/api/v4/projects/team%2Fapp/merge_requests?per_page=100&state=opened&labels=preview&page=1',
    );
    expect(calls[0].headers['private-token']).toBe('scm-token-123');
  });

  it('Bitbucket Server, paged by nextPageStart, with basic authentication', async () => {
    const r = await generate(
      preview(
        { bitbucketServer: { project: 'TEAM', repo: 'app', api: `${scm.url}/rest` } },
        { filters: [{ titleMatch: '^change (3|101)$' }] },
      ),
    );
    expect(r.applications.map((a) => a.metadata.name)).toEqual([
      'pr-3-branch-3',
      'pr-101-feature-login-ui',
    ]);
    const calls = seen('/rest/api/1.0/projects/TEAM/repos/app/pull-requests');
    expect(calls.map((c) => c.path.replace(/^.*\?/, ''))).toEqual([
      'state=OPEN&limit=100&start=0',
      'state=OPEN&limit=100&start=100',
    ]);
    expect(calls[0].headers.authorization).toBe(
      `Basic ${Buffer.from('bot:scm-token-123').toString('base64')}`,
    );
  });

  it('names the generator when the repository does not exist, unless told to go on', async () => {
    const missing = await generate(
      preview({ github: { owner: 'team', repo: 'gone', api: scm.url } }),
    );
    expect(missing.errors[0].message).toMatch(
      /^spec\.generators\[0\]\.pullRequest: error listing pull requests: repository not found/,
    );
    const tolerated = await generate(
      preview(
        { github: { owner: 'team', repo: 'gone', api: scm.url } },
        { continueOnRepoNotFoundError: true },
      ),
    );
    expect(tolerated.errors).toEqual([]);
    expect(tolerated.applications).toEqual([]);
  });
});
