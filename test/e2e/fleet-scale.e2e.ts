import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
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
import type { TestCluster } from '../support/kube-cluster.js';
import { tcpProxy } from '../support/tcp-proxy.js';

/** These applications deploy as soon as they render (Argo's `automated`). */
const AUTOMATED = { automated: {} };

const cm = (name: string, data: Record<string, string>) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${Object.entries(data)
    .map(([k, v]) => `  ${k}: "${v}"`)
    .join('\n')}\n`;

/** A render plugin that takes its time: batches are still running when the test acts. */
const slowPlugin = (seconds: number) =>
  JSON.stringify([{ name: 'slow', command: ['sh', '-c', `sleep ${seconds}; cat *.yaml`] }]);

function core(c: TestCluster): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromString(c.kubeconfig);
  return kc.makeApiClient(CoreV1Api);
}

interface HistoryEntry {
  id: number;
  revision: string;
  replica: string;
  startedAt: string;
  recordedAt: string;
}

async function history(hub: RunningHub | string, app: string): Promise<HistoryEntry[]> {
  const r = await api(hub).get(`/api/v1/applications/${app}/history`);
  expect(r.status).toBe(200);
  return r.body as HistoryEntry[];
}

/** A proxy to a `host:port` address (the hub's agent port). */
const proxyTo = (address: string) =>
  tcpProxy(
    Number(address.slice(address.lastIndexOf(':') + 1)),
    address.slice(0, address.lastIndexOf(':')),
  );

describe('fleet scale: batches, leases shared by replicas, bundles by hash', () => {
  const [east, west] = inject('clusters');
  let repo: TestRepo;
  const hubs: RunningHub[] = [];
  const processes: HubProcess[] = [];
  const agents: Agent[] = [];
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
  });

  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const h of hubs) await h.close();
    for (const p of processes) await p.kill();
    for (const c of cleanup.reverse()) await c();
  });

  async function hub(dbUrl: string, env: Record<string, string> = {}): Promise<RunningHub> {
    const dir = await tempDir('axle-hub-fleet-');
    cleanup.push(() => dir.remove());
    const h = await startTestHub({ databaseUrl: dbUrl, dataDir: dir.path, env });
    hubs.push(h);
    return h;
  }

  async function agentFor(
    h: RunningHub | string,
    name: string,
    cluster: TestCluster,
    registration: Registration,
  ): Promise<Agent> {
    const dir = await tempDir('axle-agent-fleet-');
    cleanup.push(() => dir.remove());
    const a = startTestAgent({ hub: h, registration, cluster, name, stateDir: dir.path });
    agents.push(a);
    await waitFor(`agent ${name} connected`, () => Promise.resolve(a.connected));
    return a;
  }

  /**
   * A hub on a database of its own with one agent (cluster `<prefix>-east`), and applications
   * `<prefix>-a` and `<prefix>-b` reading directories `<prefix>/a` and `<prefix>/b`, applied at
   * the returned commit; `reconciled` reads the hub's count of applications reconciled.
   */
  async function twoDirectoryApps(prefix: string) {
    const db = await createTestDatabase();
    const h = await hub(db);
    const reg = await api(h).post('/api/v1/clusters', { name: `${prefix}-east` });
    await agentFor(h, `${prefix}-east`, east, reg.body);
    const sha1 = await repo.commit({
      [`${prefix}/a/cm.yaml`]: cm(`${prefix}-a`, { v: '1' }),
      [`${prefix}/b/cm.yaml`]: cm(`${prefix}-b`, { v: '1' }),
    });
    for (const p of ['a', 'b']) {
      expect(
        (
          await api(h).post('/api/v1/applications', {
            name: `${prefix}-${p}`,
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: `${prefix}/${p}` },
            destination: { cluster: `${prefix}-east`, namespace: `${prefix}-${p}` },
            syncPolicy: AUTOMATED,
          })
        ).status,
      ).toBe(201);
    }
    for (const p of ['a', 'b'])
      await waitFor(
        `${prefix}-${p} applied`,
        async () =>
          (await api(h).get(`/api/v1/applications/${prefix}-${p}`)).body.status.clusters[0]
            ?.revision === sha1,
      );
    const reconciled = async () =>
      Number(
        /^axle_apps_reconciled_total\{result="ok"\} (\d+)$/m.exec(
          await (await fetch(`${h.httpUrl}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    return { db, h, sha1, reconciled };
  }

  it('two replicas share the work: every application reconciled at every commit, none twice at once', async () => {
    const db = await createTestDatabase();
    const env = { AXLE_RECONCILE_BATCH: '3', AXLE_PLUGINS: slowPlugin(0.2) };
    const [a, b] = [await hub(db, env), await hub(db, env)];
    const files = (rev: number) =>
      Object.fromEntries(
        [0, 1, 2].map((p) => [`shared/p${p}/cm.yaml`, cm(`shared-${p}`, { rev: String(rev) })]),
      );
    const shas = [await repo.commit(files(1))];
    expect((await api(a).post('/api/v1/clusters', { name: 'shared-c' })).status).toBe(201);
    const names = Array.from({ length: 18 }, (_, i) => `shared-${i}`);
    for (const [i, name] of names.entries()) {
      const r = await api(i % 2 ? a : b).post('/api/v1/applications', {
        name,
        source: {
          repoURL: repo.fileUrl,
          targetRevision: 'main',
          path: `shared/p${i % 3}`,
          plugin: { name: 'slow' },
        },
        destination: { cluster: 'shared-c', namespace: name },
        syncPolicy: AUTOMATED,
      });
      expect(r.status).toBe(201);
    }
    const allAt = (sha: string) => async () => {
      const list = (await api(a).get('/api/v1/applications')).body as any[];
      const ours = list.filter((x) => names.includes(x.name));
      return (
        ours.length === names.length &&
        ours.every((x) => x.status.clusters[0]?.desiredRevision === sha)
      );
    };
    await waitFor('every app at the first commit', allAt(shas[0]), { timeoutMs: 60_000 });
    // Two more commits, announced to one replica and then the other.
    for (const [i, via] of [a, b].entries()) {
      shas.push(await repo.commit(files(i + 2)));
      expect((await api(via).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl })).status).toBe(
        202,
      );
      await waitFor(`every app at commit ${i + 2}`, allAt(shas.at(-1)!), { timeoutMs: 60_000 });
    }

    const replicas = new Set<string>();
    for (const name of names) {
      const h = await history(a, name);
      h.forEach((e) => replicas.add(e.replica));
      // Each commit's desired state was recorded exactly once for each application …
      expect(h.map((e) => e.revision).sort()).toEqual([...shas].sort());
      // … and no two runs for one application overlapped in time (one lease holder at a time).
      const runs = h
        .map((e) => [Date.parse(e.startedAt), Date.parse(e.recordedAt)])
        .sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < runs.length; i++)
        expect(runs[i][0]).toBeGreaterThanOrEqual(runs[i - 1][1]);
    }
    // The work was shared: both replicas recorded desired state.
    expect(replicas.size).toBe(2);
  });

  it('a replica killed mid-batch loses nothing: the other takes over its leases and finishes', async () => {
    const db = await createTestDatabase();
    const env = { AXLE_PLUGINS: slowPlugin(4), AXLE_LEASE_SECONDS: '6' };
    const dir = await tempDir('axle-hub-proc-');
    cleanup.push(() => dir.remove());
    const doomed = await startHubProcess({ databaseUrl: db, dataDir: dir.path, env });
    processes.push(doomed);
    const sha = await repo.commit({ 'killed/cm.yaml': cm('survivor', { v: 'kept' }) });
    const reg = await api(doomed.httpUrl).post('/api/v1/clusters', { name: 'kill-west' });
    expect(reg.status).toBe(201);
    const names = ['kill-a', 'kill-b', 'kill-c'];
    for (const name of names) {
      const r = await api(doomed.httpUrl).post('/api/v1/applications', {
        name,
        source: {
          repoURL: repo.fileUrl,
          targetRevision: 'main',
          path: 'killed',
          plugin: { name: 'slow' },
        },
        destination: { cluster: 'kill-west', namespace: name },
        syncPolicy: AUTOMATED,
      });
      expect(r.status).toBe(201);
    }
    // The doomed replica holds the batch (its render sleeps) …
    const c = new pg.Client({ connectionString: db });
    await c.connect();
    cleanup.push(() => c.end());
    await waitFor('the doomed replica to hold the batch', async () => {
      const r = await c.query(
        `SELECT count(*)::int AS n FROM work_queue WHERE lease_owner LIKE $1`,
        [`%-${doomed.pid}-%`],
      );
      return r.rows[0].n > 0;
    });
    // … while the survivor starts and an agent dials either.
    const survivor = await hub(db, env);
    const agentDir = await tempDir('axle-agent-kill-');
    cleanup.push(() => agentDir.remove());
    // Enrolled at the survivor (the doomed replica's enrolment port dies with it).
    const kit = await api(survivor).post('/api/v1/clusters/kill-west/bootstrap-token');
    expect(kit.status).toBe(201);
    const agent = startTestAgent({
      hub: `${doomed.grpcAddress},${survivor.grpcAddress}`,
      registration: kit.body,
      cluster: west,
      name: 'kill-west',
      stateDir: agentDir.path,
    });
    agents.push(agent);
    await doomed.kill();
    // The survivor sees the silent replica, takes its work, renders and delivers.
    for (const name of names) {
      await waitFor(
        `${name} applied after the takeover`,
        async () => {
          const s = (await api(survivor).get(`/api/v1/applications/${name}`)).body;
          return s.status.clusters[0]?.sync === 'Synced' && s.status.clusters[0].revision === sha;
        },
        { timeoutMs: 60_000 },
      );
      const cmLive = await core(west).readNamespacedConfigMap({
        name: 'survivor',
        namespace: name,
      });
      expect(cmLive.data).toEqual({ v: 'kept' });
      // Only the survivor recorded it: the killed batch wrote nothing.
      const h = await history(survivor, name);
      expect(h).toHaveLength(1);
      expect(h[0].replica).not.toContain(`-${doomed.pid}-`);
    }
    const leftover = await c.query(`SELECT count(*)::int AS n FROM work_queue`);
    expect(leftover.rows[0].n).toBe(0);
  });

  it('a batch with one broken application still dispatches the rest', async () => {
    const db = await createTestDatabase();
    const h = await hub(db);
    const reg = await api(h).post('/api/v1/clusters', { name: 'batch-east' });
    await agentFor(h, 'batch-east', east, reg.body);
    const paths = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'];
    const sha1 = await repo.commit(
      Object.fromEntries(paths.map((p) => [`batch/${p}/cm.yaml`, cm(`cm-${p}`, { rev: '1' })])),
    );
    for (const p of paths) {
      const r = await api(h).post('/api/v1/applications', {
        name: `batch-${p}`,
        source: { repoURL: repo.fileUrl, targetRevision: 'main', path: `batch/${p}` },
        destination: { cluster: 'batch-east', namespace: `batch-${p}` },
        syncPolicy: AUTOMATED,
      });
      expect(r.status).toBe(201);
    }
    const appliedAt = (p: string, sha: string) => async () => {
      const s = (await api(h).get(`/api/v1/applications/batch-${p}`)).body;
      return s.status.clusters[0]?.sync === 'Synced' && s.status.clusters[0].revision === sha;
    };
    for (const p of paths) await waitFor(`batch-${p} at the first commit`, appliedAt(p, sha1));
    // One commit changes all six; b3's YAML is broken.
    const sha2 = await repo.commit(
      Object.fromEntries(
        paths.map((p) => [
          `batch/${p}/cm.yaml`,
          p === 'b3'
            ? 'apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n'
            : cm(`cm-${p}`, { rev: '2' }),
        ]),
      ),
    );
    await api(h).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    for (const p of paths.filter((x) => x !== 'b3'))
      await waitFor(`batch-${p} at the second commit`, appliedAt(p, sha2));
    const broken = (await api(h).get('/api/v1/applications/batch-b3')).body;
    expect(broken.status.conditions[0]).toMatchObject({ type: 'RenderError' });
    expect(broken.status.conditions[0].message).toContain('batch/b3/cm.yaml');
    expect(broken.status.clusters[0]).toMatchObject({ sync: 'Synced', revision: sha1 });
    const live = await core(east).readNamespacedConfigMap({ name: 'cm-b3', namespace: 'batch-b3' });
    expect(live.data).toEqual({ rev: '1' });
    // The others went out in one batch at the second commit: one history entry each for it.
    for (const p of paths.filter((x) => x !== 'b3')) {
      expect((await history(h, `batch-${p}`)).map((e) => e.revision)).toEqual([sha2, sha1]);
    }
    expect((await history(h, 'batch-b3')).map((e) => e.revision)).toEqual([sha1]);
  });

  it('a commit reconciles only what it changes: directories it leaves alone move to it without a new generation', async () => {
    const { h, sha1, reconciled } = await twoDirectoryApps('paths');
    const target = async (p: string) =>
      (await api(h).get(`/api/v1/applications/paths-${p}`)).body.status.clusters[0];
    const generationB = (await target('b')).desiredGeneration;
    const before = await reconciled();
    // A commit that changes paths/a only (and a file elsewhere).
    const sha2 = await repo.commit({
      'paths/a/cm.yaml': cm('paths-a', { v: '2' }),
      'README.md': 'notes\n',
    });
    await api(h).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor('paths-a applied at the new commit', async () => {
      const t = await target('a');
      return t.revision === sha2 && t.sync === 'Synced';
    });
    await waitFor('paths-b shown at the new commit', async () => {
      const app = (await api(h).get('/api/v1/applications/paths-b')).body;
      return app.status.revision === sha2 && app.status.clusters[0].revision === sha2;
    });
    const b = await target('b');
    expect(b.desiredGeneration).toBe(generationB); // nothing new was sent for it
    expect((await reconciled()) - before).toBe(1); // paths-b was not even reconciled
    expect(b.desiredRevision).toBe(sha2);
    expect((await history(h, 'paths-b')).map((e) => e.revision)).toEqual([sha1]);
    expect((await history(h, 'paths-a')).map((e) => e.revision)).toEqual([sha2, sha1]);
    const live = await core(east).readNamespacedConfigMap({
      name: 'paths-a',
      namespace: 'paths-a',
    });
    expect(live.data).toEqual({ v: '2' });
  });

  it("a move a replica recorded and did not apply is applied before the next commit's marks", async () => {
    const { db, h, sha1, reconciled } = await twoDirectoryApps('moves');
    const sql = new pg.Client({ connectionString: db });
    await sql.connect();
    cleanup.push(() => sql.end());
    const status = async (p: string) =>
      (await api(h).get(`/api/v1/applications/moves-${p}`)).body.status as {
        revision: string;
        clusters: { revision: string; sync: string }[];
      };
    const renderOf = async (p: string) =>
      (
        await sql.query<{ revision: string }>(
          `SELECT r.revision FROM app_renders r JOIN applications a ON a.id = r.app_id WHERE a.name = $1`,
          [`moves-${p}`],
        )
      ).rows[0].revision;
    // A commit that changes moves/a only: moves-b's render moves to it.
    const sha2 = await repo.commit({ 'moves/a/cm.yaml': cm('moves-a', { v: '2' }) });
    await api(h).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor('moves-b moved to the second commit', async () => (await renderOf('b')) === sha2);
    await waitFor('moves-a applied at the second commit', async () => {
      const s = await status('a');
      return s.clusters[0]?.revision === sha2 && s.clusters[0].sync === 'Synced';
    });
    expect(Number((await sql.query('SELECT count(*) AS n FROM render_moves')).rows[0].n)).toBe(0);
    // As if the replica that recorded that move had died before applying it: the move is back in
    // the table and moves-b's render at the first commit.
    await sql.query(
      `UPDATE app_renders r SET revision = $1 FROM applications a
                      WHERE a.id = r.app_id AND a.name = 'moves-b'`,
      [sha1],
    );
    await sql.query(
      `INSERT INTO render_moves (repo_url, revisions, from_revision, to_revision, touched)
       VALUES ($1, '{HEAD,main}', $2, $3, '{moves,moves/a,moves/a/cm.yaml}')`,
      [repo.fileUrl, sha1, sha2],
    );
    const before = await reconciled();
    // The next commit (moves/a again) applies that move first: moves-b is still left alone.
    const sha3 = await repo.commit({ 'moves/a/cm.yaml': cm('moves-a', { v: '3' }) });
    await api(h).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    await waitFor('moves-a applied at the third commit', async () => {
      const s = await status('a');
      return s.clusters[0]?.revision === sha3 && s.clusters[0].sync === 'Synced';
    });
    await waitFor('moves-b moved to the third commit', async () => (await renderOf('b')) === sha3);
    expect((await status('b')).revision).toBe(sha3);
    expect((await reconciled()) - before).toBe(1); // moves-a only
    expect(Number((await sql.query('SELECT count(*) AS n FROM render_moves')).rows[0].n)).toBe(0);
  });

  it('sends a bundle the agent already holds by its hash: no bundle bytes on the wire', async () => {
    const db = await createTestDatabase();
    const h = await hub(db);
    const reg = await api(h).post('/api/v1/clusters', { name: 'hash-east' });
    const proxy = await proxyTo(h.grpcAddress);
    cleanup.push(() => proxy.close());
    await agentFor(proxy.address, 'hash-east', east, reg.body);
    // ~200 KB that gzip cannot shrink: a bundle's bytes are plain to see on the wire.
    const sha = await repo.commit({
      'hashed/cm.yaml': cm('big', { blob: randomBytes(150_000).toString('base64') }),
    });
    const deploy = async (name: string) => {
      const before = proxy.bytesToClient();
      const r = await api(h).post('/api/v1/applications', {
        name,
        source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'hashed' },
        destination: { cluster: 'hash-east', namespace: name },
        syncPolicy: AUTOMATED,
      });
      expect(r.status).toBe(201);
      await waitFor(`${name} applied`, async () => {
        const s = (await api(h).get(`/api/v1/applications/${name}`)).body;
        return s.status.clusters[0]?.sync === 'Synced' && s.status.clusters[0].revision === sha;
      });
      return proxy.bytesToClient() - before;
    };
    const first = await deploy('hash-one');
    const second = await deploy('hash-two'); // same source: same bundle, held by the agent
    expect(first).toBeGreaterThan(150_000);
    expect(second).toBeLessThan(5_000);
    const live = await core(east).readNamespacedConfigMap({ name: 'big', namespace: 'hash-two' });
    expect(live.data?.blob?.length).toBe(200_000);
    const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /axle_deploys_sent_total\{cluster="hash-east",with_bundle="false"\} 1\b/,
    );
  });

  it('an agent that stops reading holds back its own cluster, not the others', async () => {
    const db = await createTestDatabase();
    const h = await hub(db);
    const slowReg = await api(h).post('/api/v1/clusters', { name: 'quiet-east' });
    const fastReg = await api(h).post('/api/v1/clusters', { name: 'busy-west' });
    const proxy = await proxyTo(h.grpcAddress);
    cleanup.push(() => proxy.close());
    await agentFor(proxy.address, 'quiet-east', east, slowReg.body);
    await agentFor(h, 'busy-west', west, fastReg.body);
    const sha = await repo.commit({
      // Fills the stream's flow-control window on its own: gzip cannot shrink it.
      'quiet/big/cm.yaml': cm('quiet-big', { blob: randomBytes(100_000).toString('base64') }),
      'quiet/small/cm.yaml': cm('quiet-small', { v: '1' }),
      'quiet/west/cm.yaml': cm('quiet-west', { v: '1' }),
    });
    const create = async (name: string, path: string, cluster: string) =>
      expect(
        (
          await api(h).post('/api/v1/applications', {
            name,
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path },
            destination: { cluster, namespace: name },
            syncPolicy: AUTOMATED,
          })
        ).status,
      ).toBe(201);
    const synced = async (name: string) => {
      const c = (await api(h).get(`/api/v1/applications/${name}`)).body.status.clusters[0];
      return c?.revision === sha && c.sync === 'Synced';
    };
    // The quiet agent's connection stops passing anything from the hub; the hub has more to send
    // it than the stream's window and buffer take: its writes wait for a drain that does not come.
    proxy.stall();
    const stalledAt = proxy.bytesToClient();
    const quiet = ['quiet-big', ...Array.from({ length: 24 }, (_, i) => `quiet-${i}`)];
    await create('quiet-big', 'quiet/big', 'quiet-east');
    for (const name of quiet.slice(1)) await create(name, 'quiet/small', 'quiet-east');
    await waitFor('deploys to the quiet agent sent', async () => {
      const m = await (await fetch(`${h.httpUrl}/metrics`)).text();
      return /axle_deploys_sent_total\{cluster="quiet-east",with_bundle="true"\} 2\b/.test(m);
    });
    // Meanwhile another cluster's application is delivered and applied as usual.
    await create('quiet-west', 'quiet/west', 'busy-west');
    await waitFor('the other cluster applied its application', () => synced('quiet-west'));
    expect(proxy.bytesToClient()).toBe(stalledAt);
    // The quiet agent reads again: it gets everything.
    proxy.resume();
    for (const name of quiet) await waitFor(`${name} applied`, () => synced(name));
  });
});
