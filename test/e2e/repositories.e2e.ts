import { createHmac } from 'node:crypto';
import { basename, dirname } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import { serveGitOverHttp } from '../support/git-http.js';
import { api, createTestDatabase, startTestHub, tempDir, waitFor } from '../support/hub-harness.js';

const PASSWORD = 's3cr3t-git-password-never-shown';

describe('private repositories and signed webhooks', () => {
  let hub: RunningHub;
  let db: string;
  let repo: TestRepo;
  let http: Awaited<ReturnType<typeof serveGitOverHttp>>;
  let repoURL: string;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await TestRepo.create();
    await repo.commit({
      'app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: private\n',
    });
    http = await serveGitOverHttp(dirname(repo.dir), {
      auth: { username: 'deploy', password: PASSWORD },
    });
    repoURL = `${http.url}/${basename(repo.dir)}/.git`;
    const dir = await tempDir('axle-hub-repos-');
    cleanup.push(dir.remove);
    db = await createTestDatabase();
    hub = await startTestHub({
      databaseUrl: db,
      dataDir: dir.path,
      env: { AXLE_WEBHOOK_SECRET: 'webhook-secret-123' },
    });
    await api(hub).post('/api/v1/clusters', { name: 'private-target' });
  });
  afterAll(async () => {
    await hub?.close();
    await http?.close();
    await repo?.remove();
    for (const c of cleanup) await c();
  });

  const appStatus = async () => (await api(hub).get('/api/v1/applications/private')).body.status;
  const signed = (body: object) => {
    const raw = JSON.stringify(body);
    return {
      raw,
      sig: `sha256=${createHmac('sha256', 'webhook-secret-123').update(raw).digest('hex')}`,
    };
  };
  const hook = (raw: string, headers: Record<string, string>) =>
    fetch(`${hub.httpUrl}/api/v1/webhooks/git`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: raw,
    });

  it('reports an authentication failure, then renders once credentials exist', async () => {
    await api(hub).post('/api/v1/applications', {
      name: 'private',
      source: { repoURL, targetRevision: 'main', path: 'app' },
      destination: { cluster: 'private-target', namespace: 'private' },
      syncPolicy: { automated: {} },
    });
    const failing = await waitFor('SourceError', async () => {
      const s = await appStatus();
      return s.conditions.find((c: any) => c.type === 'SourceError') ?? false;
    });
    expect(failing.message).toMatch(
      /fetching .* failed: .*(Authentication|401|could not read Username)/i,
    );

    const created = await api(hub).post('/api/v1/repositories/credentials', {
      type: 'https',
      urlPrefix: http.url,
      username: 'deploy',
      password: PASSWORD,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      urlPrefix: http.url,
      username: 'deploy',
      secret: '<redacted>',
    });
    const { raw, sig } = signed({ repoURL });
    expect((await hook(raw, { 'x-hub-signature-256': sig })).status).toBe(202);
    await waitFor(
      'rendered',
      async () =>
        (await appStatus()).revision !== null && (await appStatus()).conditions.length === 0,
    );
  });

  it('never shows or stores the secret in clear text', async () => {
    const list = await api(hub).get('/api/v1/repositories/credentials');
    expect(JSON.stringify(list.body)).not.toContain(PASSWORD);
    const events = await api(hub).get('/api/v1/events?kind=RepositoryCredentials');
    expect(events.body).toHaveLength(1);
    expect(JSON.stringify(events.body)).not.toContain(PASSWORD);
    const c = new pg.Client({ connectionString: db });
    await c.connect();
    try {
      const rows = (await c.query('SELECT secret_sealed FROM repository_credentials')).rows as {
        secret_sealed: string;
      }[];
      expect(rows[0].secret_sealed).toMatch(/^v1:/);
      expect(rows[0].secret_sealed).not.toContain(PASSWORD);
      const dump = (
        await c.query(`SELECT string_agg(t::text, ' ') AS all FROM (SELECT * FROM audit_events) t`)
      ).rows[0].all as string;
      expect(dump).not.toContain(PASSWORD);
    } finally {
      await c.end();
    }
    const dup = await api(hub).post('/api/v1/repositories/credentials', {
      type: 'https',
      urlPrefix: http.url,
      username: 'x',
      password: 'y',
    });
    expect(dup.status).toBe(409);
    const bad = await api(hub).post('/api/v1/repositories/credentials', {
      type: 'ssh',
      urlPrefix: 'ssh://git@example.com/',
      sshPrivateKey: 'nope',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields.map((f: any) => f.field).sort()).toEqual([
      'knownHosts',
      'sshPrivateKey',
    ]);
  });

  it('refuses unsigned or wrongly signed webhooks when a secret is set', async () => {
    const { raw, sig } = signed({ repoURL });
    const unsigned = await hook(raw, {});
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as any).message).toContain('webhook signature missing');
    expect(
      (
        await hook(raw, {
          'x-hub-signature-256': sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0'),
        })
      ).status,
    ).toBe(401);
    expect((await hook(`${raw} `, { 'x-hub-signature-256': sig })).status).toBe(401); // body changed
    expect((await hook(raw, { 'x-gitlab-token': 'webhook-secret-123' })).status).toBe(202);
    const gitea = createHmac('sha256', 'webhook-secret-123').update(raw).digest('hex');
    expect((await hook(raw, { 'x-gitea-signature': gitea })).status).toBe(202);
  });
});
