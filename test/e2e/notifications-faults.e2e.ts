import { afterAll, describe, expect, inject, it } from 'vitest';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestAgent,
  startTestHub,
  tempDir,
  waitFor,
  type Registration,
} from '../support/hub-harness.js';
import { startHubProcess, type HubProcess } from '../support/hub-process.js';
import { startReceiver } from '../support/receivers.js';

interface Delivery {
  id: number;
  idempotencyKey: string;
  status: string;
  attempts: number;
  count: number;
}

describe('notifications: a hub killed between the outbox write and the delivery', () => {
  const cleanup: (() => Promise<void>)[] = [];
  const processes: HubProcess[] = [];
  afterAll(async () => {
    for (const p of processes) await p.kill();
    for (const c of cleanup.reverse()) await c();
  });

  it('delivers the message after a restart, once per key, and does not notice the event again', async () => {
    const receiver = await startReceiver();
    cleanup.push(receiver.close);
    const repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ 'cm/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' });
    const dir = await tempDir('axle-hub-notify-kill-');
    cleanup.push(dir.remove);
    const db = await createTestDatabase();
    const env = { AXLE_NOTIFY_RETRY_SECONDS: '0.5' };
    const first = await startHubProcess({ databaseUrl: db, dataDir: dir.path, env });
    processes.push(first);
    const hub = api(first.httpUrl);

    // No agent needed: a held mass deletion is the event.
    expect((await hub.post('/api/v1/clusters', { name: 'far' })).status).toBe(201);
    const hook = { name: 'hook', type: 'webhook', url: `${receiver.url}/hook` };
    expect((await hub.post('/api/v1/notifications/destinations', hook)).status).toBe(201);
    const sub = {
      name: 'held',
      destination: 'hook',
      triggers: ['on-deletion-held'],
      // The message waits 4 s for others to join it: the hub is killed meanwhile.
      groupWaitSeconds: 4,
      windowSeconds: 0,
    };
    expect((await hub.post('/api/v1/notifications/subscriptions', sub)).status).toBe(201);
    const appset = (names: string[]) => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'many' },
      spec: {
        goTemplate: true,
        generators: [{ list: { elements: names.map((n) => ({ n })) } }],
        template: {
          metadata: { name: 'many-{{.n}}' },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'cm' },
            destination: { name: 'far', namespace: 'many-{{.n}}' },
          },
        },
      },
    });
    expect((await hub.post('/api/v1/applicationsets', appset(['a', 'b', 'c', 'd']))).status).toBe(
      201,
    );
    await waitFor('four applications', async () => {
      const s = (await hub.get('/api/v1/applicationsets/many')).body.status;
      return s.applications === 4;
    });
    expect((await hub.put('/api/v1/applicationsets/many', appset(['a']))).status).toBe(200);

    const [written] = await waitFor('the outbox row', async () => {
      const d = (await hub.get('/api/v1/notifications/deliveries')).body as Delivery[];
      return d.length ? d : false;
    });
    await first.kill();
    expect(written).toMatchObject({ status: 'Pending', attempts: 0 });
    expect(receiver.received).toEqual([]);

    // The next hub's first attempt is refused; the retry arrives with the same key.
    receiver.respond('/hook', 503);
    const second = await startHubProcess({ databaseUrl: db, dataDir: dir.path, env });
    processes.push(second);
    await waitFor('delivered', () =>
      Promise.resolve(receiver.at('/hook').some((r) => r.status === 200)),
    );
    const got = receiver.at('/hook');
    expect(got.map((r) => [r.status, r.headers['idempotency-key']])).toEqual([
      [503, written.idempotencyKey],
      [200, written.idempotencyKey],
    ]);
    const body = JSON.parse(got[1].body) as {
      trigger: string;
      title: string;
      event: { appset: { name: string; pendingDeletion: string[] } };
    };
    expect(body).toMatchObject({
      trigger: 'on-deletion-held',
      title: 'many: deletion of 3 application(s) held',
      event: { appset: { name: 'many', pendingDeletion: ['many-b', 'many-c', 'many-d'] } },
    });

    // A new change is news; the old one is not noticed again after the restart.
    expect(
      (await api(second.httpUrl).put('/api/v1/applicationsets/many', appset(['x']))).status,
    ).toBe(200);
    await waitFor('the new event delivered', () =>
      Promise.resolve(receiver.at('/hook').filter((r) => r.status === 200).length === 2),
    );
    const deliveries = (await api(second.httpUrl).get('/api/v1/notifications/deliveries'))
      .body as Delivery[];
    expect(deliveries.map((d) => [d.status, d.attempts])).toEqual([
      ['Delivered', 1],
      ['Delivered', 2],
    ]);
    expect(JSON.parse(receiver.at('/hook')[2].body).event.appset.pendingDeletion).toEqual([
      'many-a',
      'many-b',
      'many-c',
      'many-d',
    ]);
  }, 120_000);
});

describe('notifications: an agent certificate that is not renewed', () => {
  const [, west] = inject('clusters');
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('is reported once it has passed 5/6 of its life', async () => {
    const receiver = await startReceiver();
    cleanup.push(receiver.close);
    const dir = await tempDir('axle-hub-notify-cert-');
    cleanup.push(dir.remove);
    // 18-second client certificates: the test does not wait hours.
    const hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: { AXLE_AGENT_CERT_HOURS: '0.005' },
    });
    cleanup.push(() => hub.close());
    const hook = { name: 'hook', type: 'webhook', url: `${receiver.url}/certs` };
    expect((await api(hub).post('/api/v1/notifications/destinations', hook)).status).toBe(201);
    const sub = {
      name: 'certs',
      destination: 'hook',
      triggers: ['on-certificate-expiring'],
      groupWaitSeconds: 0,
    };
    expect((await api(hub).post('/api/v1/notifications/subscriptions', sub)).status).toBe(201);
    const registration: Registration = (
      await api(hub).post('/api/v1/clusters', { name: 'short-lived', labels: {} })
    ).body;
    const state = await tempDir('axle-agent-cert-');
    cleanup.push(state.remove);
    const agent = startTestAgent({
      hub,
      registration,
      cluster: west,
      name: 'short-lived',
      stateDir: state.path,
    });
    await waitFor('enrolled and connected', () => Promise.resolve(agent.connected));
    // The agent goes away before it renews: nobody renews the certificate.
    await agent.stop();
    const [got] = await waitFor(
      'expiry notified',
      () => {
        const r = receiver.at('/certs');
        return Promise.resolve(r.length ? r : false);
      },
      { timeoutMs: 30_000 },
    );
    const body = JSON.parse(got.body) as { title: string; message: string };
    expect(body.title).toBe("certificate of short-lived's agent near expiry");
    expect(body.message).toMatch(/expires at .* and was not renewed$/);
  }, 60_000);
});
