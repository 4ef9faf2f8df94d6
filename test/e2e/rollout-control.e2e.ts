import { basename, dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { axle as runAxle } from '../support/cli.js';
import { serveGitOverHttp } from '../support/git-http.js';
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
import type { TestCluster } from '../support/kube-cluster.js';
import { configMapValue, mergePatchAs } from './agent-support.js';

const cm = (name: string, v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: "${v}"\n`;

describe('rollout control: manual sync, history, rollback with git down, refresh, apply', () => {
  const clusters = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let git: Awaited<ReturnType<typeof serveGitOverHttp>>;
  let gitPort: number;
  let repoURL: string;
  const agents: Agent[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  const sha: Record<string, string> = {};

  /** The value of a ConfigMap as the cluster has it (undefined: not there). */
  const live = (c: TestCluster, ns: string, name: string) => configMapValue(c, ns, name);
  const app = async (name: string) => (await api(hub).get(`/api/v1/applications/${name}`)).body;
  const cluster = async (name: string, c: string) =>
    (await app(name)).status.clusters.find((x: any) => x.cluster === c);
  const axle = (...args: string[]) => runAxle(hub, args);
  const webhook = () => api(hub).post('/api/v1/webhooks/git', { repoURL });

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    sha.m1 = await repo.commit({
      'manual/cm.yaml': cm('manual', '1'),
      'auto/cm.yaml': cm('auto', 'a1'),
    });
    git = await serveGitOverHttp(dirname(repo.dir));
    gitPort = Number(new URL(git.url).port);
    repoURL = `${git.url}/${basename(repo.dir)}/.git`;
    const dir = await tempDir('axle-hub-rollout-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    for (const c of clusters) {
      const registration: Registration = (
        await api(hub).post('/api/v1/clusters', { name: c.name, labels: { env: 'test' } })
      ).body;
      const state = await tempDir(`axle-agent-rollout-${c.name}-`);
      cleanup.push(state.remove);
      agents.push(startTestAgent({ hub, registration, cluster: c, stateDir: state.path }));
    }
    await waitFor('agents connected', () => Promise.resolve(agents.every((a) => a.connected)));
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    await git?.close();
    for (const c of cleanup) await c();
  });

  const manual = () => ({
    name: 'manual-web',
    source: { repoURL, targetRevision: 'main', path: 'manual' },
    destination: { clusters: clusters.map((c) => c.name), namespace: 'rollout-manual' },
    syncPolicy: { syncOptions: ['CreateNamespace=true'] },
    revisionHistoryLimit: 2,
  });
  const [east, west] = clusters;

  it('records but does not deploy an application without automated sync', async () => {
    expect((await api(hub).post('/api/v1/applications', manual())).status).toBe(201);
    // The render is recorded (reconciled) and shown pending on every cluster, nothing dispatched.
    const a = await waitFor('pending on both clusters', async () => {
      const s = await app('manual-web');
      return s.status.clusters.length === 2 &&
        s.status.clusters.every((c: any) => c.pendingRevision === sha.m1)
        ? s
        : false;
    });
    expect(a.status.sync).toBe('OutOfSync');
    expect(a.status.autoSync).toEqual({ enabled: false, suspended: null });
    for (const c of a.status.clusters) {
      expect(c).toMatchObject({ sync: 'OutOfSync', health: 'Missing', desiredGeneration: 0 });
      expect(c.message).toContain('sync to deploy');
    }
    expect((await api(hub).get('/api/v1/applications/manual-web/history')).body).toEqual([]);
    expect(await live(east, 'rollout-manual', 'manual')).toBeUndefined();
  });

  it('previews a sync, then syncs one cluster only', async () => {
    const dry = await api(hub).post('/api/v1/applications/manual-web/sync', { dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ revision: sha.m1, dryRun: true });
    expect(dry.body.clusters.map((c: any) => [c.cluster, c.action, c.from])).toEqual([
      ['east', 'deploy', null],
      ['west', 'deploy', null],
    ]);
    const bad = await api(hub).post('/api/v1/applications/manual-web/sync', {
      clusters: ['north'],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual([
      { field: 'clusters[0]', reason: '"north" is not a destination of application "manual-web"' },
    ]);

    const r = await axle(
      'app',
      'sync',
      'manual-web',
      '--cluster',
      'east',
      '--wait',
      '--timeout',
      '60',
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/east: Synced Healthy at/);
    expect(r.out).not.toMatch(/^west/m);
    expect(await live(east, 'rollout-manual', 'manual')).toBe('1');
    expect(await cluster('manual-web', 'west')).toMatchObject({
      sync: 'OutOfSync',
      desiredGeneration: 0,
    });
    expect(await live(west, 'rollout-manual', 'manual')).toBeUndefined();
  });

  it('shows a new commit pending without deploying it, and deploys it on sync --wait', async () => {
    sha.m2 = await repo.commit({ 'manual/cm.yaml': cm('manual', '2') });
    await webhook();
    await waitFor('m2 pending on east', async () => {
      const c = await cluster('manual-web', 'east');
      return c.pendingRevision === sha.m2 && c.revision === sha.m1;
    });
    expect(await live(east, 'rollout-manual', 'manual')).toBe('1');

    // With -o json, stdout is the sync's document alone; the progress goes to stderr.
    const r = await axle('-o', 'json', 'app', 'sync', 'manual-web', '--wait', '--timeout', '60');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ dryRun: false });
    expect(r.err).toMatch(/east: Synced Healthy at/);
    expect(r.err).toMatch(/west: Synced Healthy at/);
    expect(await live(east, 'rollout-manual', 'manual')).toBe('2');
    expect(await live(west, 'rollout-manual', 'manual')).toBe('2');
    const a = await app('manual-web');
    expect(a.status.sync).toBe('Synced');
    expect(a.status.clusters.every((c: any) => c.pendingRevision === null)).toBe(true);
  });

  it('fixes drift by a sync when self-heal is off', async () => {
    await mergePatchAs(
      east,
      'kubectl-edit',
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'manual', namespace: 'rollout-manual' },
      { data: { v: 'edited' } },
    );
    await waitFor(
      'drift reported',
      async () => (await cluster('manual-web', 'east')).drifted === true,
    );
    expect(await live(east, 'rollout-manual', 'manual')).toBe('edited');
    // Desired against live, kubectl diff style: exit 1 when they differ.
    const diff = await axle('app', 'diff', 'manual-web', '--cluster', 'east');
    expect(diff.code).toBe(1);
    expect(diff.out).toContain(
      'diff -u -N live/east/v1.ConfigMap.rollout-manual.manual desired/east/v1.ConfigMap.rollout-manual.manual\n',
    );
    expect(diff.out).toMatch(/^- {2}v: edited$/m);
    expect(diff.out).toMatch(/^\+ {2}v: "2"$/m);
    expect(diff.out).not.toContain('live/west');
    const r = await api(hub).post('/api/v1/applications/manual-web/sync', { clusters: ['east'] });
    expect(r.status).toBe(200);
    await waitFor(
      'healed by the sync',
      async () => (await live(east, 'rollout-manual', 'manual')) === '2',
    );
    await waitFor(
      'not drifted',
      async () => (await cluster('manual-web', 'east')).drifted === false,
    );
    expect((await axle('app', 'diff', 'manual-web')).code).toBe(0);
    // Another revision, rendered and compared on every cluster.
    const back = await axle('-o', 'json', 'app', 'diff', 'manual-web', '--revision', sha.m1);
    expect(back.code).toBe(1);
    const d = JSON.parse(back.out);
    expect(d.revision).toBe(sha.m1);
    expect(
      d.clusters.map((c: any) => [
        c.cluster,
        c.resources.map((x: any) => [x.live.data.v, x.desired.data.v]),
      ]),
    ).toEqual([
      ['east', [['2', '1']]],
      ['west', [['2', '1']]],
    ]);
    expect((await axle('app', 'diff', 'manual-web', '--cluster', 'north')).code).toBe(2);
  });

  it('keeps history bounded by revisionHistoryLimit, with who asked and a result per cluster', async () => {
    const r = await axle('-o', 'json', 'app', 'history', 'manual-web');
    expect(r.code).toBe(0);
    const h = JSON.parse(r.out);
    // Three syncs happened (east at m1, both at m2, east again); the limit keeps two.
    expect(h).toHaveLength(2);
    expect(h.map((e: any) => e.revision)).toEqual([sha.m2, sha.m2]);
    expect(h[0].id).toBeGreaterThan(h[1].id);
    expect(h[0]).toMatchObject({ reason: 'sync', actor: 'token:bootstrap-admin' });
    expect(h[0].targets).toEqual([
      expect.objectContaining({ cluster: 'east', result: 'Applied', sync: 'Synced' }),
    ]);
    expect(h[1].targets.map((t: any) => [t.cluster, t.result])).toEqual([
      ['east', 'Superseded'],
      ['west', 'Applied'],
    ]);
    const audit = (await api(hub).get('/api/v1/events?name=manual-web')).body;
    expect(audit.filter((e: any) => e.action === 'application.sync')).toHaveLength(3);
  });

  it('rolls back while git is unreachable, suspends automated sync, and resumes on request', async () => {
    const auto = {
      name: 'auto-web',
      source: { repoURL, targetRevision: 'main', path: 'auto' },
      destination: { cluster: 'east', namespace: 'rollout-auto' },
      syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
    };
    expect((await api(hub).post('/api/v1/applications', auto)).status).toBe(201);
    await waitFor('a1 live', async () => (await live(east, 'rollout-auto', 'auto')) === 'a1');
    sha.a2 = await repo.commit({ 'auto/cm.yaml': cm('auto', 'a2') });
    await webhook();
    await waitFor('a2 live', async () => (await live(east, 'rollout-auto', 'auto')) === 'a2');
    const history = (await api(hub).get('/api/v1/applications/auto-web/history')).body;
    const first = history.find((e: any) => e.revision === sha.m2 || e.revision === sha.m1);
    expect(first).toBeDefined();

    // An automated app cannot be synced to another revision (Argo CD refuses it too).
    const pinned = await api(hub).post('/api/v1/applications/auto-web/sync', { revision: sha.m1 });
    expect(pinned.status).toBe(409);

    await git.close();
    const r = await axle(
      'app',
      'rollback',
      'auto-web',
      String(first.id),
      '--wait',
      '--timeout',
      '60',
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(await live(east, 'rollout-auto', 'auto')).toBe('a1');
    const a = await app('auto-web');
    expect(a.status.autoSync.enabled).toBe(false);
    expect(a.status.autoSync.suspended.reason).toContain(`rollback to #${first.id}`);
    const after = (await api(hub).get('/api/v1/applications/auto-web/history')).body;
    expect(after[0]).toMatchObject({
      reason: `rollback to #${first.id}`,
      bundleHash: first.bundleHash,
    });

    // Git back with a new commit: shown pending, not deployed while auto-sync is suspended.
    git = await serveGitOverHttp(dirname(repo.dir), { port: gitPort });
    sha.a3 = await repo.commit({ 'auto/cm.yaml': cm('auto', 'a3') });
    expect((await axle('app', 'refresh', 'auto-web')).code).toBe(0);
    await waitFor(
      'a3 pending',
      async () => (await cluster('auto-web', 'east')).pendingRevision === sha.a3,
    );
    expect(await live(east, 'rollout-auto', 'auto')).toBe('a1');

    expect((await axle('app', 'auto-sync', 'auto-web', '--enable')).code).toBe(0);
    await waitFor('a3 live', async () => (await live(east, 'rollout-auto', 'auto')) === 'a3');
    expect((await app('auto-web')).status.autoSync).toEqual({ enabled: true, suspended: null });
  });

  it('a sync window holds an automated sync back, then lets it through by itself', async () => {
    const project = { sourceRepos: ['*'], destinations: [{ namespace: '*' }] };
    expect(
      (await api(hub).post('/api/v1/projects', { name: 'windowed', spec: project })).status,
    ).toBe(201);
    sha.w1 = await repo.commit({ 'windowed/cm.yaml': cm('windowed', 'w1') });
    await webhook();
    const created = await api(hub).post('/api/v1/applications', {
      name: 'windowed-web',
      project: 'windowed',
      source: { repoURL, targetRevision: 'main', path: 'windowed' },
      destination: { cluster: 'west', namespace: 'rollout-windowed' },
      syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
    });
    expect(created.status).toBe(201);
    await waitFor(
      'w1 live',
      async () => (await live(west, 'rollout-windowed', 'windowed')) === 'w1',
    );

    // A deny window that opened at the start of this minute and closes 12 s from now.
    const now = Date.now();
    const opened = new Date(now - (now % 60_000));
    const closes = now + 12_000;
    const window = {
      kind: 'deny',
      schedule: `${opened.getUTCMinutes()} ${opened.getUTCHours()} * * *`,
      duration: `${Math.ceil((closes - opened.getTime()) / 1000)}s`,
      namespaces: ['rollout-windowed'],
    };
    const bad = await api(hub).put('/api/v1/projects/windowed', {
      ...project,
      syncWindows: [{ ...window, schedule: '61 * * * *' }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields[0].field).toBe('syncWindows[0].schedule');
    const put = await api(hub).put('/api/v1/projects/windowed', {
      ...project,
      syncWindows: [window],
    });
    expect(put.status).toBe(200);

    sha.w2 = await repo.commit({ 'windowed/cm.yaml': cm('windowed', 'w2') });
    await webhook();
    const held = await waitFor('w2 held back by the window', async () => {
      const a = await app('windowed-web');
      const blocked = a.status.conditions.find((c: any) => c.type === 'SyncBlocked');
      return blocked && a.status.clusters[0].pendingRevision === sha.w2 ? a : false;
    });
    expect(held.status.conditions[0].message).toMatch(
      /^sync blocked by window \(deny .*\) until .* on west$/,
    );
    expect(await live(west, 'rollout-windowed', 'windowed')).toBe('w1');
    // A manual sync is refused too: the window does not allow manualSync.
    const manualSync = await api(hub).post('/api/v1/applications/windowed-web/sync', {});
    expect(manualSync.status).toBe(409);
    expect(manualSync.body.message).toContain('sync blocked by window');

    // When the window closes the hub deploys w2 by itself.
    await waitFor(
      'w2 live after the window',
      async () => (await live(west, 'rollout-windowed', 'windowed')) === 'w2',
      { timeoutMs: 45_000 },
    );
    expect(Date.now()).toBeGreaterThanOrEqual(closes - 1000);
    expect((await app('windowed-web')).status.conditions).toEqual([]);
  });

  it('applies a file twice: created, then configured', async () => {
    const file = JSON.stringify({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'applied-web' },
      spec: {
        source: { repoURL, targetRevision: 'main', path: 'manual' },
        destination: { name: 'west', namespace: 'rollout-applied' },
      },
    });
    const run = async (body: string) => {
      const r = await runAxle(hub, ['app', 'apply', '-f', 'app.json'], { file: body });
      out.push(r.out + r.err);
      return r.code;
    };
    const out: string[] = [];
    expect(await run(file)).toBe(0);
    expect(await run(file.replace('"main"', '"HEAD"'))).toBe(0);
    expect(out).toEqual([
      'application "applied-web" created\n',
      'application "applied-web" configured\n',
    ]);
    expect((await app('applied-web')).spec.source.targetRevision).toBe('HEAD');
  });
});
