/**
 * Benchmark (issue #4): render fan-out. 1,000 applications over one git repository and 100
 * clusters, on real parts: embedded PostgreSQL, a git repository over file://, a hub (in a child
 * process of its own, so its RSS is the hub's alone), one real kube-apiserver and real agents.
 *
 * The repository holds 50 app directories (one small ConfigMap each; 5 of them are Kustomize
 * directories when the kustomize binary is in .cache/bin). The 1,000 applications read those 50
 * paths (20 applications per path: different names and namespaces, same source, so the same render
 * key) and are spread over 100 registered clusters, 10 per cluster (`destination.cluster`). Every
 * cluster has a real agent (in this process; AXLE_BENCH_FANOUT_AGENTS=N runs agents for the first
 * N clusters only, for smaller machines: the others' apps are then rendered and their desired state
 * recorded by the hub, but nothing applies them). The agents all talk to one kube-apiserver, each
 * app in a namespace of its own, so they do not collide.
 *
 * Measured and printed:
 *  1. git fetches per poll interval (`axle_git_fetches_total` over a few AXLE_GIT_POLL_SECONDS
 *     intervals while nothing else happens). Target: 1 per interval (one repository).
 *  2. renders for the 1,000 apps at the first commit (`axle_renders_total`, result ok) and render
 *     cache hits. Target: renders = distinct (path, parameters) = 50.
 *  3. a commit changing every app directory, announced by the git webhook: time until every app's
 *     desired generation moved (hub level, all 1,000 apps × their cluster) and until every app on
 *     the clusters with an agent is Synced at the new revision (applied); renders again (= 50).
 *  4. time from the first create request until all 1,000 apps are rendered and their desired
 *     state recorded for their cluster; the hub process's RSS.
 *
 * Prints PASS/MISS per target, then one JSON line; exits 0 unless the benchmark itself cannot run.
 * Every wait is bounded (about 5 minutes in all); on a timeout it prints what was reached.
 *
 *   npm run bench:fanout
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';
import { Agent } from '../apps/agent/src/agent.js';
import { loadHubConfig } from '../apps/hub/src/config/hub-config.js';
import { startEmbeddedPostgres } from '../apps/hub/src/database/embedded-postgres.js';
import { startHub } from '../apps/hub/src/hub.js';
import { TestRepo } from '../test/support/git-repo.js';
import { startTestClusters } from '../test/support/kube-cluster.js';
import { freePort } from '../test/support/ports.js';
import { BENCH_ADMIN_TOKEN, hubJson } from './support.js';

const APPS = 1000;
const CLUSTERS = 100;
const PATHS = 50;
const KUSTOMIZE_PATHS = 5; // of the 50, when the kustomize binary is there
const AGENTS = Math.max(
  0,
  Math.min(CLUSTERS, Math.trunc(Number(process.env.AXLE_BENCH_FANOUT_AGENTS ?? CLUSTERS)) || 0),
);
const POLL_SECONDS = 2;
const FETCH_INTERVALS = 3;
const TOTAL_BUDGET_MS = 5 * 60_000;
const LIST_EVERY_MS = 500;
const CREATE_CONCURRENCY = 16;
const ROLE_ENV = 'AXLE_BENCH_FANOUT_HUB_ENV';

const log = (s: string) => process.stdout.write(`render-fanout: ${s}\n`);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);
const mib = (b: number | undefined) => (b === undefined ? 'n/a' : `${Math.round(b / 2 ** 20)} MiB`);

// ---------------------------------------------------------------------------------------------
// The hub, in a child process: started from the environment the parent passes, stopped on
// "stop" or when the parent goes away.
// ---------------------------------------------------------------------------------------------

async function hubChild(): Promise<void> {
  const env = JSON.parse(process.env[ROLE_ENV]!) as Record<string, string>;
  const hub = await startHub(loadHubConfig(env));
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= hub
      .close()
      .catch(() => undefined)
      .finally(() => process.exit(0));
    return closing;
  };
  process.on('message', (m) => {
    if (m === 'stop') void close();
  });
  process.on('disconnect', () => void close());
  process.send!({ httpUrl: hub.httpUrl, grpcAddress: hub.grpcAddress });
}

async function forkHub(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; httpUrl: string; grpcAddress: string }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [ROLE_ENV]: JSON.stringify(env) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ httpUrl: string; grpcAddress: string }>((res, rej) => {
    const t = setTimeout(() => rej(new Error('hub did not start within 120 s')), 120_000);
    child.once('message', (m) => {
      clearTimeout(t);
      res(m as { httpUrl: string; grpcAddress: string });
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`hub exited with ${code} while starting`));
    });
  });
  return { child, ...ready };
}

async function stopHub(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.send('stop');
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(t);
}

// ---------------------------------------------------------------------------------------------
// REST and metrics
// ---------------------------------------------------------------------------------------------

const ADMIN_TOKEN = BENCH_ADMIN_TOKEN;

function call(base: string, method: string, path: string, body?: unknown) {
  return hubJson(base, method, path, body, 30000);
}

type Metrics = { name: string; labels: string; value: number }[];

async function scrape(base: string): Promise<Metrics> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) });
  const out: Metrics = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) out.push({ name: m[1], labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

function sum(ms: Metrics, name: string, labelFilter?: string): number {
  return ms
    .filter((m) => m.name === name && (!labelFilter || m.labels.includes(labelFilter)))
    .reduce((a, m) => a + m.value, 0);
}

interface Counters {
  fetches: number;
  renders: number;
  renderErrors: number;
  cacheHits: number;
  deploys: number;
  reconciles: number;
  reconcileSeconds: number;
  hubRss: number;
}

async function counters(base: string): Promise<Counters> {
  const m = await scrape(base);
  return {
    fetches: sum(m, 'axle_git_fetches_total'),
    renders: sum(m, 'axle_renders_total', 'result="ok"'),
    renderErrors: sum(m, 'axle_renders_total', 'result="error"'),
    cacheHits: sum(m, 'axle_render_cache_hits_total'),
    deploys: sum(m, 'axle_deploys_sent_total'),
    reconciles: sum(m, 'axle_app_reconcile_duration_seconds_count'),
    reconcileSeconds: sum(m, 'axle_app_reconcile_duration_seconds_sum'),
    hubRss: sum(m, 'axle_hub_process_resident_memory_bytes'),
  };
}

const meanMs = (d: { reconciles: number; reconcileSeconds: number }) =>
  d.reconciles ? `${Math.round((d.reconcileSeconds * 1000) / d.reconciles)} ms` : 'n/a';

const diff = (a: Counters, b: Counters) => ({
  fetches: b.fetches - a.fetches,
  renders: b.renders - a.renders,
  renderErrors: b.renderErrors - a.renderErrors,
  cacheHits: b.cacheHits - a.cacheHits,
  deploys: b.deploys - a.deploys,
  reconciles: b.reconciles - a.reconciles,
  reconcileSeconds: b.reconcileSeconds - a.reconcileSeconds,
});

/** Time spent answering the status list, which the bench polls (it loads the hub too). */
const listTimes: number[] = [];

interface TargetView {
  cluster: string;
  sync: string;
  revision: string | null;
  desiredRevision: string;
  desiredGeneration: number;
  appliedGeneration: number;
}

interface AppView {
  name: string;
  status: { revision: string | null; clusters: TargetView[] };
}

/** Per-app status from `GET /api/v1/applications`: one target per app (one cluster each). */
async function list(base: string): Promise<Map<string, TargetView | undefined>> {
  const t0 = performance.now();
  const r = await call(base, 'GET', '/api/v1/applications');
  listTimes.push(performance.now() - t0);
  if (r.status !== 200) throw new Error(`GET /api/v1/applications: ${r.status}`);
  return new Map((r.body as AppView[]).map((a) => [a.name, a.status.clusters[0]]));
}

/** Bounded parallel map. */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The fleet
// ---------------------------------------------------------------------------------------------

const appName = (i: number) => `fan-${String(i).padStart(4, '0')}`;
const clusterName = (c: number) => `c${String(c).padStart(3, '0')}`;
/** Cluster c holds apps 10c … 10c+9, so the first 5 clusters already read all 50 paths. */
const appCluster = (i: number) => Math.floor(i / (APPS / CLUSTERS));
const appPathIndex = (i: number) => i % PATHS;

function pathOf(p: number, kustomize: boolean): string {
  const kz = kustomize && p >= PATHS - KUSTOMIZE_PATHS;
  return `apps/${kz ? 'k' : 'p'}${String(p).padStart(2, '0')}`;
}

/** Every app directory at revision `rev` (the ConfigMap's data changes with it). */
function repoFiles(rev: number, kustomize: boolean): Record<string, string> {
  const files: Record<string, string> = {};
  for (let p = 0; p < PATHS; p++) {
    const dir = pathOf(p, kustomize);
    files[`${dir}/configmap.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-${p}\n  labels:\n    bench: fanout\n` +
      `data:\n  path: "${dir}"\n  rev: "${rev}"\n  payload: "${'x'.repeat(64)}"\n`;
    if (dir.startsWith('apps/k'))
      files[`${dir}/kustomization.yaml`] = 'resources:\n  - configmap.yaml\n';
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------

type StatusMap = Map<string, TargetView | undefined>;
type Remaining = (capMs: number) => number;

/** Registers the clusters, starts agents for the first AGENTS of them; returns how many connected. */
async function fleet(
  base: string,
  grpcAddress: string,
  work: string,
  kubeconfig: string | undefined,
  agents: Agent[],
  remaining: Remaining,
): Promise<number> {
  const tokens = new Map<number, string>();
  await pool(
    Array.from({ length: CLUSTERS }, (_, c) => c),
    8,
    async (c) => {
      const r = await call(base, 'POST', '/api/v1/clusters', { name: clusterName(c) });
      if (r.status !== 201) throw new Error(`registering ${clusterName(c)}: ${r.status}`);
      tokens.set(c, r.body.agentToken as string);
    },
  );
  for (let c = 0; c < AGENTS; c++) {
    const agent = new Agent({
      hubAddress: grpcAddress,
      token: tokens.get(c)!,
      cluster: clusterName(c),
      stateDir: join(work, 'agents', clusterName(c)),
      kubeconfig,
      fieldManager: 'axle',
      resyncSeconds: 3600,
      backoff: { baseMs: 100, capMs: 1000 },
      logLevel: 'error',
    });
    agent.start();
    agents.push(agent);
  }
  const connectBy = Date.now() + remaining(60_000);
  while (agents.some((a) => !a.connected) && Date.now() < connectBy) await sleep(50);
  const connected = agents.filter((a) => a.connected).length;
  if (connected < AGENTS) log(`only ${connected} of ${AGENTS} agents connected within 60 s`);
  return connected;
}

async function createApps(base: string, repoURL: string, kustomize: boolean): Promise<void> {
  await pool(
    Array.from({ length: APPS }, (_, i) => i),
    CREATE_CONCURRENCY,
    async (i) => {
      const r = await call(base, 'POST', '/api/v1/applications', {
        name: appName(i),
        source: { repoURL, targetRevision: 'main', path: pathOf(appPathIndex(i), kustomize) },
        destination: { cluster: clusterName(appCluster(i)), namespace: appName(i) },
        syncPolicy: { automated: { prune: true, selfHeal: false } },
      });
      if (r.status !== 201) throw new Error(`creating ${appName(i)}: ${JSON.stringify(r.body)}`);
    },
  );
}

interface Watched {
  /** ms after t0 when each condition first held (polled every LIST_EVERY_MS). */
  reachedAt: Record<string, number | undefined>;
  /** The count each condition had last. */
  last: Record<string, number>;
}

/** Polls the status list until every count reaches its total or the bound; when each did. */
async function watchStatus(
  base: string,
  t0: number,
  capMs: number,
  remaining: Remaining,
  sample: () => Promise<unknown>,
  conds: Record<string, { count: (v: StatusMap) => number; total: number }>,
): Promise<Watched> {
  const reachedAt: Record<string, number | undefined> = {};
  const last: Record<string, number> = {};
  const until = Date.now() + remaining(capMs);
  for (;;) {
    const v = await list(base).catch(() => undefined);
    const now = performance.now() - t0;
    for (const [k, c] of Object.entries(conds)) {
      if (!v) continue;
      last[k] = c.count(v);
      if (reachedAt[k] === undefined && last[k] >= c.total) reachedAt[k] = now;
    }
    await sample().catch(() => undefined);
    if (Object.keys(conds).every((k) => reachedAt[k] !== undefined)) break;
    if (Date.now() > until) break;
    await sleep(LIST_EVERY_MS);
  }
  return { reachedAt, last };
}

/** "12.3 s", or what was reached when the bound ran out. */
function reached(w: Watched, key: string, total: number): string {
  const at = w.reachedAt[key];
  return at !== undefined
    ? secs(at)
    : `NOT reached within the bound (${w.last[key] ?? 0}/${total})`;
}

/**
 * Git fetches per poll interval while nothing else happens: aligns on a poll fetch, then counts
 * over FETCH_INTERVALS intervals (plus half an interval of slack).
 */
async function fetchesPerInterval(
  base: string,
  remaining: Remaining,
  sample: () => Promise<Counters>,
): Promise<number | undefined> {
  const a0 = (await sample()).fetches;
  const alignBy = Date.now() + remaining(POLL_SECONDS * 1000 + 3000);
  let a = a0;
  while (a === a0 && Date.now() < alignBy) {
    await sleep(50);
    a = (await counters(base)).fetches;
  }
  const windowMs = (FETCH_INTERVALS + 0.5) * POLL_SECONDS * 1000;
  if (a === a0 || remaining(windowMs) < windowMs) return undefined;
  await sleep(windowMs);
  return ((await sample()).fetches - a) / FETCH_INTERVALS;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const deadline = Date.now() + TOTAL_BUDGET_MS;
  const remaining: Remaining = (cap) => Math.max(0, Math.min(cap, deadline - Date.now()));
  Logger.overrideLogger(['error']);

  const kustomizeBin = resolve('.cache/bin/kustomize');
  const kustomize = existsSync(kustomizeBin);
  const work = await mkdtemp(join(tmpdir(), 'axle-bench-fanout-'));
  await chmod(work, 0o755); // the embedded server runs as `postgres` when we are root
  const agents: Agent[] = [];
  let hubChildProc: ChildProcess | undefined;
  let envs: Awaited<ReturnType<typeof startTestClusters>> | undefined;
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let repo: TestRepo | undefined;
  let hubRssPeak = 0;
  try {
    [envs, pg, repo] = await Promise.all([
      AGENTS > 0 ? startTestClusters({ count: 1, names: ['fanout'] }) : undefined,
      freePort().then((port) =>
        startEmbeddedPostgres({ dir: join(work, 'pg'), port, persistent: false }),
      ),
      TestRepo.create('axle-bench-fanout-repo-'),
    ]);
    const sha1 = await repo.commit(repoFiles(1, kustomize), 'first');
    const hub = await forkHub({
      DATABASE_URL: pg.url,
      AXLE_DATA_DIR: join(work, 'hub'),
      AXLE_HTTP_PORT: '0',
      AXLE_GRPC_PORT: '0',
      AXLE_GRPC_ENROLL_PORT: '0',
      AXLE_GIT_POLL_SECONDS: String(POLL_SECONDS),
      AXLE_RESYNC_SECONDS: '3600',
      AXLE_LOG_LEVEL: 'error',
      AXLE_ADMIN_TOKEN: ADMIN_TOKEN,
      AXLE_AGENT_AUTH: 'token',
      ...(kustomize ? { AXLE_KUSTOMIZE_PATH: kustomizeBin } : {}),
    });
    hubChildProc = hub.child;
    const base = hub.httpUrl;
    const snap = async () => {
      const c = await counters(base);
      hubRssPeak = Math.max(hubRssPeak, c.hubRss);
      return c;
    };
    const kustomizePaths = kustomize ? KUSTOMIZE_PATHS : 0;
    log(
      `setup ${secs(performance.now() - started)}: ${APPS} apps, ${PATHS} paths (${kustomizePaths} Kustomize), ` +
        `${CLUSTERS} clusters, ${AGENTS} with a real agent (one kube-apiserver, namespace per app)`,
    );
    const kubeconfig = envs?.clusters[0].kubeconfigPath;
    const connected = await fleet(base, hub.grpcAddress, work, kubeconfig, agents, remaining);

    // --- 1,000 applications at the first commit ---------------------------------------------
    const idx = Array.from({ length: APPS }, (_, i) => i);
    const agentApps = idx.filter((i) => appCluster(i) < AGENTS);
    const withAgent = agentApps.length;
    const atRevision = (sha: string) => (v: StatusMap) =>
      idx.filter((i) => v.get(appName(i))?.desiredRevision === sha).length;
    const syncedAt = (sha: string) => (v: StatusMap) =>
      agentApps.filter((i) => {
        const t = v.get(appName(i));
        return (
          t?.revision === sha && t.sync === 'Synced' && t.appliedGeneration === t.desiredGeneration
        );
      }).length;

    const c0 = await snap();
    const tCreate = performance.now();
    await createApps(base, repo.fileUrl, kustomize);
    const createRequestsMs = performance.now() - tCreate;
    const first = await watchStatus(base, tCreate, 180_000, remaining, snap, {
      dispatched: { count: atRevision(sha1), total: APPS },
      applied: { count: syncedAt(sha1), total: withAgent },
    });
    const d1 = diff(c0, await snap());
    log(
      `hub: ${APPS} apps created (requests took ${secs(createRequestsMs)}); first request → all rendered ` +
        `and desired state recorded for their cluster: ${reached(first, 'dispatched', APPS)}`,
    );
    log(
      `${verdict(d1.renders === PATHS && d1.renderErrors === 0)} renders for ${APPS} apps at the first commit: ${d1.renders} ` +
        `(target = ${PATHS} distinct paths), cache hits ${d1.cacheHits}, errors ${d1.renderErrors}`,
    );
    log(
      `applied: first request → ${withAgent} apps on the ${AGENTS} agent clusters Synced at the first commit: ` +
        `${reached(first, 'applied', withAgent)}; deploys sent ${d1.deploys}`,
    );
    log(
      `      hub reconciles ${d1.reconciles} (mean ${meanMs(d1)} each, 4 at a time), git fetches ${d1.fetches}`,
    );

    // --- git fetches per poll interval, nothing else going on --------------------------------
    const perInterval = await fetchesPerInterval(base, remaining, snap);
    log(
      perInterval === undefined
        ? 'MISS git fetches per poll interval: no poll fetch seen within the bound'
        : `${verdict(perInterval === 1)} git fetches per ${POLL_SECONDS} s poll interval: ${perInterval} ` +
            `(over ${FETCH_INTERVALS} intervals; one repository read by ${APPS} apps; target 1)`,
    );

    // --- a commit changing every app directory, announced by webhook --------------------------
    const genBefore = new Map(
      [...(await list(base))].map(([n, t]) => [n, t?.desiredGeneration ?? 0]),
    );
    const c2 = await snap();
    const tCommit = performance.now();
    const sha2 = await repo.commit(repoFiles(2, kustomize), 'second');
    const commitMs = performance.now() - tCommit;
    const hook = await call(base, 'POST', '/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const hookMs = performance.now() - tCommit;
    if (hook.status !== 202) log(`webhook answered ${hook.status}: ${JSON.stringify(hook.body)}`);
    const moved = (v: StatusMap) =>
      idx.filter((i) => {
        const t = v.get(appName(i));
        return t?.desiredRevision === sha2 && t.desiredGeneration > genBefore.get(appName(i))!;
      }).length;
    const second = await watchStatus(base, tCommit, 120_000, remaining, snap, {
      dispatched: { count: moved, total: APPS },
      applied: { count: syncedAt(sha2), total: withAgent },
    });
    const c3 = await snap();
    const d2 = diff(c2, c3);
    log(
      `commit (git commit ${secs(commitMs)}, webhook answered after ${secs(hookMs)}) → hub: desired generation ` +
        `moved for all ${APPS} apps: ${reached(second, 'dispatched', APPS)}`,
    );
    log(
      `commit → applied everywhere with an agent (${withAgent} apps on ${AGENTS} clusters Synced at the new ` +
        `revision): ${reached(second, 'applied', withAgent)}`,
    );
    log(
      `${verdict(d2.renders === PATHS && d2.renderErrors === 0)} renders for the second commit: ${d2.renders} ` +
        `(target = ${PATHS}), cache hits ${d2.cacheHits}, errors ${d2.renderErrors}, deploys sent ${d2.deploys}, ` +
        `git fetches during it ${d2.fetches} (webhook + polls over ${secs(performance.now() - tCommit)})`,
    );
    log(`      hub reconciles ${d2.reconciles} (mean ${meanMs(d2)} each, 4 at a time)`);
    const listMean = listTimes.reduce((a, b) => a + b, 0) / Math.max(1, listTimes.length);
    log(
      `      status polled with GET /api/v1/applications every ${LIST_EVERY_MS} ms: ${listTimes.length} calls, ` +
        `mean ${Math.round(listMean)} ms, max ${Math.round(Math.max(0, ...listTimes))} ms (load on the hub too)`,
    );
    log(
      `hub RSS ${mib(c3.hubRss)} (peak sampled ${mib(hubRssPeak)}; hub process alone, PostgreSQL apart); ` +
        `bench process with ${AGENTS} agents ${mib(process.memoryUsage().rss)}`,
    );
    const totalMs = performance.now() - started;
    log(`run time ${secs(totalMs)}`);
    const round = (v: number | undefined) => (v === undefined ? null : Math.round(v));
    process.stdout.write(
      `${JSON.stringify({
        bench: 'render-fanout',
        apps: APPS,
        paths: PATHS,
        kustomizePaths,
        clusters: CLUSTERS,
        agents: AGENTS,
        agentsConnected: connected,
        appsWithAgent: withAgent,
        pollSeconds: POLL_SECONDS,
        fetchesPerInterval: perInterval ?? null,
        createRequestsMs: round(createRequestsMs),
        initialDispatchedMs: round(first.reachedAt.dispatched),
        initialDispatched: first.last.dispatched ?? 0,
        initialAppliedMs: round(first.reachedAt.applied),
        initialApplied: first.last.applied ?? 0,
        rendersFirst: d1.renders,
        cacheHitsFirst: d1.cacheHits,
        rendersSecond: d2.renders,
        cacheHitsSecond: d2.cacheHits,
        renderErrors: d1.renderErrors + d2.renderErrors,
        commitToDispatchedMs: round(second.reachedAt.dispatched),
        dispatchedSecond: second.last.dispatched ?? 0,
        commitToAppliedMs: round(second.reachedAt.applied),
        appliedSecond: second.last.applied ?? 0,
        deploysSent: c3.deploys - c0.deploys,
        reconcilesFirst: d1.reconciles,
        reconcilesSecond: d2.reconciles,
        listMeanMs: Math.round(listMean),
        hubRssBytes: c3.hubRss,
        hubRssPeakBytes: hubRssPeak,
        runMs: Math.round(totalMs),
      })}\n`,
    );
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    if (hubChildProc) await stopHub(hubChildProc).catch(() => undefined);
    await repo?.remove().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    await envs?.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

if (process.env[ROLE_ENV]) {
  hubChild().catch((e: unknown) => {
    process.stderr.write(`render-fanout hub: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`render-fanout: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
