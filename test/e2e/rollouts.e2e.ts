import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { axle } from '../support/cli.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestAgent,
  startTestHub,
  tempDir,
  waitFor,
  waitForRollout,
  type Registration,
} from '../support/hub-harness.js';
import type { TestCluster } from '../support/kube-cluster.js';
import { startReceiver } from '../support/receivers.js';
import { configMapValue } from './agent-support.js';

const cm = (v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: waves\ndata:\n  v: "${v}"\n`;
/** Never becomes Available: the test clusters run no controllers (Progressing for ever). */
const stuck = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: never-ready
spec:
  replicas: 1
  selector: { matchLabels: { app: never-ready } }
  template:
    metadata: { labels: { app: never-ready } }
    spec: { containers: [{ name: c, image: registry.invalid/none:1 }] }
`;

describe('RollingSync: waves gated on the exact bundle, halted and rolled back on failure', () => {
  const [east, west] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  const agents: Agent[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** Three clusters: two stand-ins share the east API server, in their own namespaces. */
  const fleet: { name: string; env: string; on: TestCluster }[] = [
    { name: 'roll-1', env: 'dev', on: east },
    { name: 'roll-2', env: 'staging', on: west },
    { name: 'roll-3', env: 'prod', on: east },
  ];

  const live = (c: (typeof fleet)[number]) => configMapValue(c.on, `waves-${c.name}`, 'waves');
  const rollout = async () => (await api(hub).get('/api/v1/applicationsets/waves/rollout')).body;
  const history = async (c: string) =>
    (await api(hub).get(`/api/v1/applications/waves-${c}/history`)).body as {
      id: number;
      revision: string;
      reason: string;
    }[];
  const webhook = () => api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    const dir = await tempDir('axle-hub-rollouts-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    for (const c of fleet) {
      const registration: Registration = (
        await api(hub).post('/api/v1/clusters', { name: c.name, labels: { env: c.env } })
      ).body;
      const state = await tempDir(`axle-agent-${c.name}-`);
      cleanup.push(state.remove);
      agents.push(
        startTestAgent({ hub, registration, cluster: c.on, name: c.name, stateDir: state.path }),
      );
    }
    await waitFor('agents connected', () => Promise.resolve(agents.every((a) => a.connected)));
    // Platform team's webhook: told when a rollout halts or rolls back.
    receiver = await startReceiver();
    cleanup.push(receiver.close);
    const hook = { name: 'hook', type: 'webhook', url: `${receiver.url}/rollouts` };
    expect((await api(hub).post('/api/v1/notifications/destinations', hook)).status).toBe(201);
    const sub = {
      name: 'rollouts',
      destination: 'hook',
      triggers: ['on-rollout-halted', 'on-rollout-rolled-back'],
      groupWaitSeconds: 0,
    };
    expect((await api(hub).post('/api/v1/notifications/subscriptions', sub)).status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    for (const c of cleanup) await c();
  });

  const sha: Record<string, string> = {};

  it('rolls the first commit out wave by wave, each after the one before is Healthy', async () => {
    sha.v1 = await repo.commit({ 'waves/cm.yaml': cm('1') });
    const yaml = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: { name: waves }
spec:
  goTemplate: true
  generators:
  - list:
      elements:
${fleet.map((c) => `      - { cluster: ${c.name}, env: ${c.env} }`).join('\n')}
  strategy:
    type: RollingSync
    rollingSync:
      defaultPrune: true
      onFailure: rollback
      progressDeadlineSeconds: 6
      steps:
      - matchExpressions: [{ key: env, operator: In, values: [dev] }]
      - matchExpressions: [{ key: env, operator: In, values: [staging] }]
        maxUpdate: 100%
      - matchExpressions: [{ key: env, operator: In, values: [prod] }]
        maxUpdate: 10%
  template:
    metadata:
      name: 'waves-{{.cluster}}'
      labels: { env: '{{.env}}' }
    spec:
      project: default
      source: { repoURL: '${repo.fileUrl}', targetRevision: main, path: waves }
      destination: { name: '{{.cluster}}', namespace: 'waves-{{.cluster}}' }
      syncPolicy:
        automated: { prune: true }
        syncOptions: [CreateNamespace=true]
`;
    const run = await axle(hub, ['appset', 'apply', '-f', 'waves.yaml'], { file: yaml });
    const out = [run.out + run.err];
    const code = run.code;
    expect(out.join('')).toBe('applicationset "waves" created\n');
    expect(code).toBe(0);
    // Completed with every cluster at v1 (an ApplicationSet whose applications are not generated
    // or rendered yet is not "completed" by them).
    await waitFor(
      'rollout completed at v1',
      async () =>
        (await rollout()).status === 'Completed' &&
        (await Promise.all(fleet.map(live))).every((v) => v === '1'),
      { timeoutMs: 45_000 },
    );
    for (const c of fleet) expect(await live(c)).toBe('1');
    // Generated under RollingSync: automated sync is off (the rollout syncs them).
    const app = (await api(hub).get('/api/v1/applications/waves-roll-2')).body;
    expect(app.status.autoSync.enabled).toBe(false);
    // Waves in order: each application's sync was recorded after the one before.
    const first = await Promise.all(fleet.map(async (c) => (await history(c.name))[0]));
    expect(first.map((h) => h.reason)).toEqual([
      'rollout of waves, step 1',
      'rollout of waves, step 2',
      'rollout of waves, step 3',
    ]);
    expect(first[0].id).toBeLessThan(first[1].id);
    expect(first[1].id).toBeLessThan(first[2].id);
  });

  it('halts when wave 1 does not become Healthy and returns it; waves 2 and 3 never get the bad bundle', async () => {
    sha.v2 = await repo.commit({ 'waves/cm.yaml': cm('2'), 'waves/deploy.yaml': stuck });
    await webhook();
    await waitFor('wave 1 at v2', async () => (await live(fleet[0])) === '2', {
      timeoutMs: 20_000,
    });
    const halted = await waitForRollout(
      hub,
      '/api/v1/applicationsets/waves/rollout',
      'RolledBack',
      30_000,
    );
    expect(halted.message).toMatch(
      /^step 1 failed: not Healthy at the new bundle: waves-roll-1 \(not Healthy in time\)/,
    );
    expect(halted.message).toContain('returned to their previous bundle: waves-roll-1');
    await waitFor('wave 1 back at v1', async () => (await live(fleet[0])) === '1');
    for (const c of fleet.slice(1)) {
      expect(await live(c)).toBe('1');
      expect((await history(c.name)).map((h) => h.revision)).toEqual([sha.v1]);
    }
    const back = (await history('roll-1'))[0];
    expect(back).toMatchObject({ revision: sha.v1 });
    expect(back.reason).toContain('rolled back');
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^axle_rollout_status\{appset="waves",status="RolledBack"\} 1$/m);
    expect(metrics).toMatch(
      /^axle_rollout_halts_total\{appset="waves",on_failure="rollback"\} 1$/m,
    );
    // Nothing moves while halted: the CLI shows it.
    const run = await axle(hub, ['rollout', 'status', 'waves']);
    const out = [run.out + run.err];
    const code = run.code;
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/^applicationset "waves": RolledBack, step 1: step 1 failed/);
    // The platform team heard of it, once.
    const [told] = await waitFor('rollback notified', () => {
      const got = receiver.at('/rollouts');
      return Promise.resolve(got.length ? got : false);
    });
    expect(JSON.parse(told.body)).toMatchObject({
      trigger: 'on-rollout-rolled-back',
      title: 'rollout of waves rolled back',
      event: { appset: { name: 'waves' }, rollout: { kind: 'appset', status: 'RolledBack' } },
    });
    expect(JSON.parse(told.body).message).toContain('step 1 failed');
  });

  it('a fixing commit starts a new rollout that goes all the way', async () => {
    sha.v3 = await repo.commit({ 'waves/cm.yaml': cm('3'), 'waves/deploy.yaml': null });
    await webhook();
    await waitFor(
      'v3 everywhere, rollout completed',
      async () =>
        (await rollout()).status === 'Completed' &&
        (await Promise.all(fleet.map(live))).every((v) => v === '3'),
      { timeoutMs: 45_000 },
    );
    const audit = (await api(hub).get('/api/v1/events?name=waves')).body;
    expect(audit.map((e: any) => e.action)).toEqual(
      expect.arrayContaining(['rollout.rollback', 'rollout.complete']),
    );
    const pause = await api(hub).post('/api/v1/applicationsets/waves/rollout/pause');
    expect(pause.status).toBe(200);
    expect(pause.body.status).toBe('Paused');
    expect((await api(hub).post('/api/v1/applicationsets/waves/rollout/jump')).status).toBe(400);
    expect((await api(hub).post('/api/v1/applicationsets/waves/rollout/resume')).status).toBe(200);
  });

  it('previews a branch across the fleet without deploying it: what changes, and how far', async () => {
    await repo.checkout('preview');
    const extra = cm('x').replace('name: waves', 'name: extra');
    sha.preview = await repo.commit({ 'waves/cm.yaml': cm('4'), 'waves/extra.yaml': extra });
    await repo.checkout('main');
    const run = await axle(hub, ['-o', 'json', 'appset', 'diff', 'waves', '--revision', 'preview']);
    const out = [run.out + run.err];
    const code = run.code;
    expect(code).toBe(1); // changes, as diff tools say
    const p = JSON.parse(out.join(''));
    expect(p).toMatchObject({ commit: sha.preview, added: [], removed: [], unchanged: 0 });
    expect(p.changed.map((c: any) => c.name)).toEqual(fleet.map((c) => `waves-${c.name}`));
    expect(
      p.changes.map((c: any) => [c.kind, c.name, c.action, c.apps, c.clusters, c.fields]),
    ).toEqual([
      ['ConfigMap', 'extra', 'add', 3, 3, []],
      ['ConfigMap', 'waves', 'change', 3, 3, [{ path: '/data/v', from: '"3"', to: '"4"' }]],
    ]);
    // Nothing was deployed: every cluster still runs main.
    expect(await Promise.all(fleet.map(live))).toEqual(['3', '3', '3']);
    const bad = await api(hub).get('/api/v1/applicationsets/waves/diff?revision=no-such-branch');
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('revision');
  });

  it('rolls one application across its clusters in waves: soak, a promote gate, rollback', async () => {
    const liveOf = (c: (typeof fleet)[number]) => configMapValue(c.on, 'waved', 'waves');
    const [dev, staging] = fleet;
    const rolloutOf = async () => (await api(hub).get('/api/v1/applications/waved/rollout')).body;
    sha.w1 = await repo.commit({ 'waved/cm.yaml': cm('w1') });
    await webhook();
    const created = await api(hub).post('/api/v1/applications', {
      name: 'waved',
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'waved' },
      destination: { clusters: [dev.name, staging.name], namespace: 'waved' },
      syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
      rollout: {
        waves: [
          { clusterSelector: { matchLabels: { env: 'dev' } }, soakSeconds: 2 },
          { clusterSelector: { matchLabels: { env: 'staging' } }, promote: 'manual' },
        ],
        onFailure: 'rollback',
        progressDeadlineSeconds: 5,
      },
    });
    expect(created.status).toBe(201);
    await waitFor('wave 1 at w1', async () => (await liveOf(dev)) === 'w1', { timeoutMs: 20_000 });
    const gated = await waitFor(
      'wave 2 waiting for promotion',
      async () => {
        const r = await rolloutOf();
        return /waits for promotion/.test(r.message) ? r : false;
      },
      { timeoutMs: 20_000 },
    );
    expect(gated.steps.map((s: any) => s.units.map((u: any) => [u.name, u.phase]))).toEqual([
      [['roll-1', 'Done']],
      [['roll-2', 'Waiting']],
    ]);
    expect(await liveOf(staging)).toBeUndefined();
    const run = await axle(hub, ['rollout', 'promote', 'waved']);
    const out = [run.out + run.err];
    const code = run.code;
    expect(out.join('')).toMatch(/^application "waved": Progressing, wave 2: wave 2 promoted/);
    expect(code).toBe(0);
    await waitFor('wave 2 at w1', async () => (await liveOf(staging)) === 'w1', {
      timeoutMs: 20_000,
    });
    await waitFor('completed', async () => (await rolloutOf()).status === 'Completed');

    // A bad commit: wave 1 never becomes Healthy; it returns to w1, wave 2 never gets w2.
    sha.w2 = await repo.commit({ 'waved/cm.yaml': cm('w2'), 'waved/deploy.yaml': stuck });
    await webhook();
    await waitFor('wave 1 at w2', async () => (await liveOf(dev)) === 'w2', { timeoutMs: 20_000 });
    const back = await waitForRollout(
      hub,
      '/api/v1/applications/waved/rollout',
      'RolledBack',
      30_000,
    );
    expect(back.message).toMatch(
      /^wave 1 failed: not Healthy at the new bundle: roll-1 \(not Healthy in time\)/,
    );
    await waitFor('wave 1 back at w1', async () => (await liveOf(dev)) === 'w1');
    expect(await liveOf(staging)).toBe('w1');
    const h = (await api(hub).get('/api/v1/applications/waved/history')).body;
    expect(
      h.some(
        (e: any) => e.revision === sha.w2 && e.targets.some((t: any) => t.cluster === 'roll-2'),
      ),
    ).toBe(false);

    // A person's rollback in the middle of a rollout ends it: once automated sync is back, a new
    // rollout starts at wave 1, with its soak and promote gates, not where the old one was.
    sha.w3 = await repo.commit({ 'waved/cm.yaml': cm('w3'), 'waved/deploy.yaml': null });
    await webhook();
    await waitFor('wave 1 at w3', async () => (await liveOf(dev)) === 'w3', { timeoutMs: 20_000 });
    const before = await waitFor(
      'wave 2 waiting for promotion at w3',
      async () => {
        const r = await rolloutOf();
        return /waits for promotion/.test(r.message) ? r : false;
      },
      { timeoutMs: 20_000 },
    );
    const w1 = h.find((e: any) => e.revision === sha.w1);
    expect(w1).toBeDefined();
    const rolled = await api(hub).post('/api/v1/applications/waved/rollback', { id: w1.id });
    expect(rolled.status).toBe(200);
    await waitFor('wave 1 rolled back by hand', async () => (await liveOf(dev)) === 'w1');
    const enabledAt = Date.now();
    const enabled = await axle(hub, ['app', 'auto-sync', 'waved', '--enable']);
    expect(enabled.code, enabled.err).toBe(0);
    await waitFor('wave 1 at w3 again', async () => (await liveOf(dev)) === 'w3', {
      timeoutMs: 20_000,
    });
    const again = await waitFor(
      'a new rollout waiting for promotion',
      async () => {
        const r = await rolloutOf();
        return /waits for promotion/.test(r.message) ? r : false;
      },
      { timeoutMs: 20_000 },
    );
    expect(Date.parse(again.startedAt)).toBeGreaterThanOrEqual(enabledAt - 1000);
    expect(again.startedAt).not.toBe(before.startedAt);
    expect(await liveOf(staging)).toBe('w1');
  });
});
