import { createHmac } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { axle } from '../support/cli.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestHub,
  tempDir,
  waitFor,
  registerAndStartAgent,
} from '../support/hub-harness.js';
import { startReceiver, startSmtpServer, type Received } from '../support/receivers.js';
import { markDeploymentAvailable, mergePatchAs, patchStatus, readObject } from './agent-support.js';

const SECRET = 'whsec-0123456789abcdef';
const SLACK_PATH = '/slack/T000/B000/s3cr3t-slack-path';

const deployment = (name: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec: { containers: [{ name: main, image: nginx:1.27 }] }
`;

interface HookBody {
  idempotencyKey: string;
  trigger: string;
  title: string;
  message: string;
  event: {
    subscription: string;
    count: number;
    app: { name: string; project: string } | null;
    cluster: { name: string } | null;
    revision: string;
    clusters: string[];
  };
}

const json = (r: Received) => JSON.parse(r.body) as HookBody;

describe('notifications: webhook, Slack, Teams and email, durable and deduplicated', () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let dbUrl: string;
  let head: string;
  let agent: Agent;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  const cleanup: (() => Promise<void>)[] = [];

  /** Webhook messages of one subscription and trigger. */
  const hooks = (subscription: string, trigger: string, app?: string) =>
    receiver
      .at('/hook')
      .map(json)
      .filter(
        (b) =>
          b.event.subscription === subscription &&
          b.trigger === trigger &&
          (app === undefined || b.event.app?.name === app),
      );
  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    cleanup.push(receiver.close);
    smtp = await startSmtpServer({ user: 'axle', pass: 'smtp-pass-123' });
    cleanup.push(smtp.close);
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    head = await repo.commit({
      'web/deploy.yaml': deployment('web'),
      'web2/deploy.yaml': deployment('web2'),
    });
    const dir = await tempDir('axle-hub-notify-');
    cleanup.push(dir.remove);
    dbUrl = await createTestDatabase();
    hub = await startTestHub({
      databaseUrl: dbUrl,
      dataDir: dir.path,
      env: {
        AXLE_NOTIFY_RETRY_SECONDS: '0.3',
        AXLE_NOTIFY_MAX_ATTEMPTS: '3',
        AXLE_NOTIFY_DISCONNECTED_SECONDS: '5',
      },
    });
    agent = await registerAndStartAgent(hub, {
      cluster: east,
      name: 'notif-east',
      labels: { env: 'test' },
      cleanup,
    });
    await waitFor('agent connected', () => Promise.resolve(agent.connected));
  });
  afterAll(async () => {
    await agent?.stop();
    await hub?.close();
    for (const c of cleanup.reverse()) await c();
  });

  it('keeps destination secrets sealed and refuses bad input by field', async () => {
    const add = (body: unknown) => api(hub).post('/api/v1/notifications/destinations', body);
    expect(
      (
        await add({
          name: 'hook',
          type: 'webhook',
          url: `${receiver.url}/hook`,
          secret: SECRET,
          headers: { Authorization: 'Bearer hook-token-xyz' },
        })
      ).status,
    ).toBe(201);
    expect(
      (await add({ name: 'chat', type: 'slack', url: `${receiver.url}${SLACK_PATH}` })).status,
    ).toBe(201);
    expect(
      (await add({ name: 'teams', type: 'teams', url: `${receiver.url}/teams/wf-hook` })).status,
    ).toBe(201);
    expect(
      (
        await add({
          name: 'mail',
          type: 'email',
          smtp: {
            host: '127.0.0.1',
            port: smtp.port,
            security: 'none',
            username: 'axle',
            password: 'smtp-pass-123',
          },
          from: 'axle@example.com',
          to: ['oncall@example.com'],
        })
      ).status,
    ).toBe(201);
    for (const [name, path] of [
      ['flaky', '/flaky'],
      ['gone', '/gone'],
    ])
      expect((await add({ name, type: 'webhook', url: `${receiver.url}${path}` })).status).toBe(
        201,
      );
    expect(
      (await add({ name: 'slow', type: 'webhook', url: `${receiver.url}/slow`, timeoutSeconds: 1 }))
        .status,
    ).toBe(201);

    const bad = await add({ name: 'x', type: 'webhook', url: 'ftp://example.com/x' });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual([{ field: 'url', reason: 'must be an http(s):// URL' }]);
    const dup = await add({ name: 'hook', type: 'slack', url: `${receiver.url}/x` });
    expect(dup.status).toBe(409);
    const header = await add({
      name: 'y',
      type: 'webhook',
      url: receiver.url,
      headers: { 'X-Axle-Event': 'x' },
    });
    expect(header.body.fields).toEqual([
      { field: 'headers.X-Axle-Event', reason: 'is set by the hub' },
    ]);

    // Nothing secret in the API, nor in the table.
    const listed = JSON.stringify((await api(hub).get('/api/v1/notifications/destinations')).body);
    for (const secret of [SECRET, 'hook-token-xyz', 's3cr3t-slack-path', 'smtp-pass-123'])
      expect(listed).not.toContain(secret);
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    try {
      const rows = (
        await client.query('SELECT secret_sealed, config::text FROM notification_destinations')
      ).rows as {
        secret_sealed: string | null;
        config: string;
      }[];
      // Every destination has something sealed: webhook URLs too (they may carry a token).
      expect(rows.filter((r) => r.secret_sealed?.startsWith('v1:'))).toHaveLength(rows.length);
      for (const r of rows)
        for (const secret of [SECRET, 'hook-token-xyz', 's3cr3t-slack-path', 'smtp-pass-123'])
          expect(`${r.secret_sealed} ${r.config}`).not.toContain(secret);
    } finally {
      await client.end();
    }
  });

  it('axle notify test sends a signed sample to each destination, and says why one fails', async () => {
    for (const name of ['hook', 'chat', 'teams', 'mail']) {
      const r = await axle(hub, ['notify', 'test', name]);
      expect(r, r.err).toMatchObject({ code: 0 });
      expect(r.out).toContain(`to "${name}"`);
    }
    const [hook] = receiver.at('/hook');
    expect(hook.headers['x-axle-signature-256']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(hook.body).digest('hex')}`,
    );
    expect(hook.headers.authorization).toBe('Bearer hook-token-xyz');
    expect(hook.headers['idempotency-key']).toBe(json(hook).idempotencyKey);
    expect(json(hook)).toMatchObject({
      trigger: 'on-sync-succeeded',
      title: expect.stringContaining('guestbook'),
    });
    expect(JSON.parse(receiver.at(SLACK_PATH)[0].body)).toMatchObject({
      text: expect.stringContaining('guestbook'),
    });
    expect(JSON.parse(receiver.at('/teams/wf-hook')[0].body)).toMatchObject({
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive' }],
    });
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]).toMatchObject({ from: 'axle@example.com', to: ['oncall@example.com'] });
    expect(smtp.mails[0].headers.subject).toContain('guestbook synced');

    receiver.respond('/gone', 404);
    const failed = await axle(hub, ['notify', 'test', 'gone']);
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('HTTP 404');
  });

  it('refuses subscriptions that could never work, by field', async () => {
    const put = (body: Record<string, unknown>) =>
      api(hub).put(`/api/v1/notifications/subscriptions/${String(body.name)}`, body);
    const base = { name: 'bad', destination: 'hook', triggers: ['on-sync-failed'] };
    expect(
      (await put({ ...base, template: { title: '{{.app.name | nosuchfunc}}' } })).body.fields[0]
        .field,
    ).toBe('template.title');
    expect((await put({ ...base, triggers: ['on-everything'] })).body.fields[0].field).toBe(
      'triggers[0]',
    );
    expect((await put({ ...base, destination: 'nowhere' })).body.fields).toEqual([
      { field: 'destination', reason: 'no destination "nowhere"' },
    ]);
    expect((await put({ ...base, selector: { project: ['x'] } })).status).toBe(400);
    expect((await api(hub).get('/api/v1/notifications/subscriptions')).body).toEqual([]);
  });

  it('tells each subscriber once when an app syncs, degrades and recovers, and collapses flapping', async () => {
    const subs = `
name: ops
destination: hook
triggers: [on-sync-succeeded, on-health-degraded, on-health-recovered]
selector: { projects: [default], clusterSelector: { matchLabels: { env: test } } }
groupWaitSeconds: 0
windowSeconds: 15
---
name: chat
destination: chat
triggers: [on-sync-succeeded]
selector: { applications: ['web'] }
template: { title: '{{.app.name}} is at {{.revisionShort}} ({{.sync}}) on {{.where}}' }
groupWaitSeconds: 0
---
name: teams
destination: teams
triggers: [on-health-degraded]
groupWaitSeconds: 0
windowSeconds: 15
---
name: mail
destination: mail
triggers: [on-sync-succeeded]
selector: { applications: ['web'] }
groupWaitSeconds: 0
---
name: other
destination: hook
triggers: [on-sync-succeeded, on-health-degraded]
selector: { applications: ['nomatch-*'] }
groupWaitSeconds: 0
`;
    const applied = await axle(hub, ['notify', 'subscription', 'apply', '-f', 'subs.yaml'], {
      file: subs,
    });
    expect(applied, applied.err).toMatchObject({ code: 0 });
    expect(applied.out).toContain('subscription "ops" created');
    const list = await axle(hub, ['notify', 'subscription', 'list']);
    expect(list.out).toMatch(
      /ops\s+hook\s+on-sync-succeeded,on-health-degraded,on-health-recovered\s+projects: default; clusters: env=test/,
    );

    expect(
      (
        await api(hub).post('/api/v1/applications', {
          name: 'web',
          source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'web' },
          destination: { cluster: 'notif-east', namespace: 'notif-web' },
          syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
        })
      ).status,
    ).toBe(201);

    // Render, deploy, apply, detect, then the 10 s group wait: a loaded machine needs more than 30 s.
    const [synced] = await waitFor(
      'sync succeeded sent',
      () => {
        const h = hooks('ops', 'on-sync-succeeded', 'web');
        return Promise.resolve(h.length ? h : false);
      },
      { timeoutMs: 100_000 },
    );
    expect(synced).toMatchObject({
      title: `web synced ${head.slice(0, 8)} on notif-east`,
      event: {
        app: { name: 'web', project: 'default' },
        cluster: { name: 'notif-east' },
        revision: head,
        count: 1,
      },
    });
    const signed = receiver
      .at('/hook')
      .find((r) => json(r).idempotencyKey === synced.idempotencyKey)!;
    expect(signed.headers['x-axle-signature-256']).toBe(
      `sha256=${createHmac('sha256', SECRET).update(signed.body).digest('hex')}`,
    );
    await waitFor('Slack and email too', () =>
      Promise.resolve(receiver.at(SLACK_PATH).length === 2 && smtp.mails.length === 2),
    );
    expect(JSON.parse(receiver.at(SLACK_PATH)[1].body).text).toContain(
      `web is at ${head.slice(0, 8)} (Synced) on notif-east`,
    );
    expect(smtp.mails[1].headers.subject).toBe(`web synced ${head.slice(0, 8)} on notif-east`);
    expect(smtp.mails[1].headers['x-axle-idempotency-key']).toMatch(/^[0-9a-f]{40}$/);

    // Degraded, as the Deployment controller reports a stuck rollout; then available again.
    const status = `/apis/apps/v1/namespaces/notif-web/deployments/web/status`;
    const degrade = async () => {
      const d = (await readObject(east, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'web',
        namespace: 'notif-web',
      }))!;
      await patchStatus(east, status, {
        observedGeneration: (d.metadata as { generation?: number }).generation,
        replicas: 1,
        updatedReplicas: 1,
        availableReplicas: 0,
        readyReplicas: 0,
        conditions: [
          { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'web timed out',
          },
        ],
      });
    };
    const noticed = (trigger: string, n: number) =>
      waitFor(
        `${n} ${trigger} noticed`,
        async () => (await metric('axle_notification_events_total', `trigger="${trigger}"`)) >= n,
      );
    await degrade();
    await noticed('on-health-degraded', 1);
    await waitFor('Degraded sent', () =>
      Promise.resolve(hooks('ops', 'on-health-degraded').length === 1),
    );
    await waitFor('Teams told', () => Promise.resolve(receiver.at('/teams/wf-hook').length === 2));
    expect(
      JSON.parse(receiver.at('/teams/wf-hook')[1].body).attachments[0].content.body[0].text,
    ).toBe('web is Degraded on notif-east');
    await markDeploymentAvailable(east, 'notif-web', 'web');
    await noticed('on-health-recovered', 1);
    // Flapping: two more rounds within the window.
    for (const n of [2, 3]) {
      await degrade();
      await noticed('on-health-degraded', n);
      await markDeploymentAvailable(east, 'notif-web', 'web');
      await noticed('on-health-recovered', n);
    }
    // One message at once, then one summary of the rest when the window ends.
    const sum = (bs: HookBody[]) => bs.reduce((s, b) => s + b.event.count, 0);
    await waitFor(
      'summaries sent',
      () =>
        Promise.resolve(
          sum(hooks('ops', 'on-health-degraded')) === 3 &&
            sum(hooks('ops', 'on-health-recovered')) === 3,
        ),
      { timeoutMs: 30_000 },
    );
    const degraded = hooks('ops', 'on-health-degraded');
    expect(degraded.map((b) => b.event.count)).toEqual([1, 2]);
    expect(degraded[1].message).toMatch(/\(2 events from .* to .*\)$/);
    expect(hooks('ops', 'on-health-recovered').map((b) => b.event.count)).toEqual([1, 2]);
    // Teams heard about the first Degraded at once; the flaps are in one summary.
    await waitFor('Teams summary', () =>
      Promise.resolve(receiver.at('/teams/wf-hook').length === 3),
    );
    // Nobody else: the subscription that selects other applications heard nothing.
    expect(
      receiver
        .at('/hook')
        .map(json)
        .filter((b) => b.event.subscription === 'other'),
    ).toEqual([]);
    expect(
      await metric('axle_notification_deliveries', 'status="Delivered"'),
    ).toBeGreaterThanOrEqual(8);
  }, 150_000);

  it('retries a failing endpoint with the same key, dead-letters it, and a slow one blocks nothing', async () => {
    receiver.respond('/flaky', 503, 503, 503);
    receiver.respond('/gone', 404);
    receiver.delay('/slow', 30_000);
    const subs = ['flaky', 'gone', 'slow']
      .map(
        (d) =>
          `name: ${d}\ndestination: ${d}\ntriggers: [on-sync-succeeded]\nselector: { applications: [web2] }\ngroupWaitSeconds: 0\n`,
      )
      .join('---\n');
    expect(
      (await axle(hub, ['notify', 'subscription', 'apply', '-f', 's.yaml'], { file: subs })).code,
    ).toBe(0);
    const before = hooks('ops', 'on-sync-succeeded').length;
    expect(
      (
        await api(hub).post('/api/v1/applications', {
          name: 'web2',
          source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'web2' },
          destination: { cluster: 'notif-east', namespace: 'notif-web2' },
          syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
        })
      ).status,
    ).toBe(201);
    // The others are told while the slow endpoint holds its send.
    await waitFor('ops told about web2', () =>
      Promise.resolve(hooks('ops', 'on-sync-succeeded').length === before + 1),
    );
    const dead = await waitFor(
      'three dead letters',
      async () => {
        const d = (await api(hub).get('/api/v1/notifications/deliveries?status=Dead')).body as {
          id: number;
          subscription: string;
          attempts: number;
          lastError: string;
          idempotencyKey: string;
        }[];
        return d.length === 3 ? d : false;
      },
      { timeoutMs: 30_000 },
    );
    const by = (s: string) => dead.find((d) => d.subscription === s)!;
    expect(by('flaky')).toMatchObject({
      attempts: 3,
      lastError: expect.stringContaining('HTTP 503'),
    });
    expect(by('gone')).toMatchObject({
      attempts: 1,
      lastError: expect.stringContaining('HTTP 404'),
    });
    expect(by('slow')).toMatchObject({
      attempts: 3,
      lastError: expect.stringContaining('no answer within 1 s'),
    });
    // Every attempt carried the same key.
    const keys = receiver.at('/flaky').map((r) => r.headers['idempotency-key']);
    expect(keys).toEqual([
      by('flaky').idempotencyKey,
      by('flaky').idempotencyKey,
      by('flaky').idempotencyKey,
    ]);
    const shown = await axle(hub, ['notify', 'deliveries', '--status', 'Dead']);
    expect(shown.out).toMatch(
      /flaky\s+on-sync-succeeded\s+web2 notif-east\s+1\s+Dead\s+3\s+POST http:\/\/127\.0\.0\.1:\d+\/…: HTTP 503/,
    );

    // A dead letter sent again by hand arrives with its key.
    const retried = await axle(hub, ['notify', 'retry', String(by('flaky').id)]);
    expect(retried.code).toBe(0);
    await waitFor('retried delivery', () =>
      Promise.resolve(receiver.at('/flaky').some((r) => r.status === 200)),
    );
    expect(
      receiver.at('/flaky').filter((r) => r.status === 200)[0].headers['idempotency-key'],
    ).toBe(by('flaky').idempotencyKey);
  }, 60_000);

  it('tells when someone changes a cluster by hand while self-heal is off', async () => {
    expect(
      (
        await api(hub).put('/api/v1/notifications/subscriptions/drift', {
          name: 'drift',
          destination: 'hook',
          triggers: ['on-drift-detected'],
          selector: { applications: ['web2'] },
          groupWaitSeconds: 0,
        })
      ).status,
    ).toBe(200);
    // web2 is automated without self-heal: the change stays, and is news.
    await mergePatchAs(
      east,
      'kubectl-edit',
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web2', namespace: 'notif-web2' },
      { spec: { replicas: 3 } },
    );
    const [msg] = await waitFor(
      'drift sent',
      () => {
        const h = hooks('drift', 'on-drift-detected');
        return Promise.resolve(h.length ? h : false);
      },
      { timeoutMs: 20_000 },
    );
    expect(msg).toMatchObject({
      title: 'web2 drifted from git on notif-east',
      event: { app: { name: 'web2' }, cluster: { name: 'notif-east' } },
    });
  });

  it('tells when an agent stays disconnected, not of one gone before anyone asked', async () => {
    const sql = async <T extends object>(text: string, params: unknown[] = []) => {
      const client = new pg.Client({ connectionString: dbUrl });
      await client.connect();
      try {
        return (await client.query<T>(text, params)).rows;
      } finally {
        await client.end();
      }
    };
    const clusterState = async () =>
      (
        await sql<{ key: string }>(
          `SELECT key FROM notification_state WHERE key LIKE 'disconnected/%' OR key = '#clusters'`,
        )
      ).map((r) => r.key);
    // A cluster whose agent left an hour ago, before anyone subscribed to disconnections.
    const gone = await api(hub).post('/api/v1/clusters', {
      name: 'notif-gone',
      labels: { env: 'test' },
    });
    expect(gone.status).toBe(201);
    await sql(
      `UPDATE clusters SET connected = false, last_seen_at = now() - interval '1 hour' WHERE name = 'notif-gone'`,
    );
    // Nobody listens to cluster triggers: the clusters are not looked at (state kept for none).
    await new Promise((r) => setTimeout(r, 3500)); // past a look at clusters, were there one
    expect(await clusterState()).toEqual([]);
    expect(
      (
        await api(hub).put('/api/v1/notifications/subscriptions/agents', {
          name: 'agents',
          destination: 'hook',
          triggers: ['on-agent-disconnected'],
          selector: { clusterSelector: { matchLabels: { env: 'test' } } },
          groupWaitSeconds: 0,
        })
      ).status,
    ).toBe(200);
    await agent.stop();
    const [msg] = await waitFor(
      'disconnection sent',
      () => {
        const h = hooks('agents', 'on-agent-disconnected');
        return Promise.resolve(h.length ? h : false);
      },
      { timeoutMs: 30_000 },
    );
    expect(msg.title).toBe('agent of notif-east disconnected');
    // The cluster gone before the subscription is recorded as it is, and is not news.
    const [{ id: goneId }] = await sql<{ id: string }>(
      `SELECT id FROM clusters WHERE name = 'notif-gone'`,
    );
    expect(await clusterState()).toEqual(
      expect.arrayContaining(['#clusters', `disconnected/${goneId}`]),
    );
    expect(
      hooks('agents', 'on-agent-disconnected').map((h) => h.event.cluster?.name as string),
    ).toEqual(['notif-east']);
  }, 50_000);
});
