import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import {
  api,
  createTestDatabase,
  startTestHub,
  tempDir,
  TEST_ADMIN_TOKEN,
  waitFor,
} from '../support/hub-harness.js';

describe('API authentication, roles and the audit log', () => {
  let hub: RunningHub;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir('axle-hub-auth-');
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
  });
  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it('refuses requests without a valid token (401), and keeps health, readiness and metrics open', async () => {
    const none = await api(hub, null).get('/api/v1/clusters');
    expect(none.status).toBe(401);
    expect(none.body.message).toBe(
      'an API token is required: send "Authorization: Bearer <token>" or sign in',
    );
    const wrong = await api(hub, 'axle_api_not-a-token').post('/api/v1/clusters', { name: 'x' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toBe('invalid API token');
    expect((await api(hub, null).get('/healthz')).status).toBe(200);
    expect((await api(hub, null).get('/readyz')).status).toBe(200);
    expect((await fetch(`${hub.httpUrl}/metrics`)).status).toBe(200);
    expect((await api(hub).get('/api/v1/clusters')).body).toEqual([]); // nothing was created
  });

  it('lets a read-only token read but not change (403)', async () => {
    const created = await api(hub).post('/api/v1/tokens', { name: 'viewer', role: 'readonly' });
    expect(created.status).toBe(201);
    const viewer = created.body.token as string;
    expect(viewer).toMatch(/^axle_api_/);
    expect((await api(hub, viewer).get('/api/v1/clusters')).status).toBe(200);
    const denied = await api(hub, viewer).post('/api/v1/clusters', { name: 'nope' });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe('token "viewer" has role readonly; this needs admin');
    expect((await api(hub, viewer).get('/api/v1/tokens')).status).toBe(403);
    // Listing tokens never shows a secret.
    const list = await api(hub).get('/api/v1/tokens');
    expect(JSON.stringify(list.body)).not.toContain(viewer);
    expect(list.body.map((t: any) => t.name)).toEqual(['bootstrap-admin', 'viewer']);
  });

  it('refuses revoked and expired tokens', async () => {
    const t = (
      await api(hub).post('/api/v1/tokens', {
        name: 'short',
        role: 'admin',
        expiresInHours: 0.0003,
      })
    ).body.token;
    expect((await api(hub, t).get('/api/v1/clusters')).status).toBe(200);
    // It expires 1.08 s after creation: asked until refused (bounded), not after a guessed sleep.
    const expired = await waitFor('the short token refused', async () => {
      const res = await api(hub, t).get('/api/v1/clusters');
      return res.status === 200 ? false : res;
    });
    expect(expired.status).toBe(401);
    expect(expired.body.message).toBe('the API token has expired');
    const r = (await api(hub).post('/api/v1/tokens', { name: 'gone', role: 'admin' })).body.token;
    expect((await api(hub).delete('/api/v1/tokens/gone')).status).toBe(204);
    const revoked = await api(hub, r).get('/api/v1/clusters');
    expect(revoked.status).toBe(401);
    expect(revoked.body.message).toBe('the API token has been revoked');
  });

  it('records who changed what, with before and after', async () => {
    await api(hub).post('/api/v1/clusters', { name: 'audited', labels: { env: 'dev' } });
    const patch = await fetch(`${hub.httpUrl}/api/v1/clusters/audited`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: JSON.stringify({ labels: { env: 'prod' } }),
    });
    expect(patch.status).toBe(200);
    await api(hub).delete('/api/v1/clusters/audited');
    const events = (await api(hub).get('/api/v1/events?kind=Cluster&name=audited')).body;
    expect(events.map((e: any) => e.action)).toEqual([
      'cluster.delete',
      'cluster.update',
      'cluster.create',
    ]);
    expect(events.every((e: any) => e.actor === 'token:bootstrap-admin')).toBe(true);
    const update = events[1];
    expect(update.before.labels).toEqual({ env: 'dev' });
    expect(update.after.labels).toEqual({ env: 'prod' });
    expect(events[0].after).toBeNull();
    const tokenEvents = (await api(hub).get('/api/v1/events?kind=ApiToken')).body;
    expect(tokenEvents.map((e: any) => `${e.action} ${e.name}`)).toContain('token.revoke gone');
    const bad = await api(hub).get('/api/v1/events?limit=zero');
    expect(bad.status).toBe(400);

    let out = '';
    const code = await runCli(['events', '--kind', 'Cluster'], {
      stdout: (s) => (out += s),
      stderr: (s) => (out += s),
      env: { AXLE_SERVER: hub.httpUrl, AXLE_TOKEN: TEST_ADMIN_TOKEN },
    });
    expect(code).toBe(0);
    expect(out).toMatch(/token:bootstrap-admin\s+cluster\.update\s+Cluster\/audited/);
  });

  it('writes a first admin token to the data directory when none is configured', async () => {
    const d = await tempDir('axle-hub-firstrun-');
    const h = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: d.path,
      env: { AXLE_ADMIN_TOKEN: '' },
    });
    try {
      const token = readFileSync(join(d.path, 'admin-token'), 'utf8').trim();
      expect(token).toMatch(/^axle_api_/);
      expect((await api(h, token).post('/api/v1/clusters', { name: 'first' })).status).toBe(201);
      let out = '';
      const code = await runCli(['cluster', 'list'], {
        stdout: (s) => (out += s),
        stderr: (s) => (out += s),
        // The hub this checkout runs listens at AXLE_HTTP_PORT: the file's token goes only there.
        env: {
          AXLE_SERVER: h.httpUrl,
          AXLE_DATA_DIR: d.path,
          AXLE_HTTP_PORT: new URL(h.httpUrl).port,
        },
      });
      expect(code).toBe(0);
      expect(out).toContain('first');
      // Anywhere else it is not sent.
      let elsewhere = '';
      const refused = await runCli(['cluster', 'list'], {
        stdout: (s) => (elsewhere += s),
        stderr: (s) => (elsewhere += s),
        env: { AXLE_SERVER: h.httpUrl, AXLE_DATA_DIR: d.path, AXLE_HTTP_PORT: '1' },
      });
      expect(refused).toBe(1);
      expect(elsewhere).toContain('no token was sent');
    } finally {
      await h.close();
      await d.remove();
    }
  });

  it('keeps the configured admin token revoked across a restart, and takes a new one', async () => {
    const db = await createTestDatabase();
    const d = await tempDir('axle-hub-revoked-admin-');
    const start = (token: string) =>
      startTestHub({ databaseUrl: db, dataDir: d.path, env: { AXLE_ADMIN_TOKEN: token } });
    const other = 'axle_api_another-admin-token-0123456789';
    try {
      let h = await start(TEST_ADMIN_TOKEN);
      // A second admin first (the last one cannot be revoked), then the configured one revoked.
      const created = await api(h).post('/api/v1/tokens', { name: 'ops', role: 'admin' });
      expect(created.status).toBe(201);
      expect((await api(h).delete('/api/v1/tokens/bootstrap-admin')).status).toBe(204);
      await h.close();
      h = await start(TEST_ADMIN_TOKEN);
      expect((await api(h).get('/api/v1/clusters')).status).toBe(401);
      await h.close();
      h = await start(other); // a new secret is accepted
      expect((await api(h, other).get('/api/v1/clusters')).status).toBe(200);
      await h.close();
    } finally {
      await d.remove();
    }
  });
});
