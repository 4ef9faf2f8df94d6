/**
 * Benchmark (issues #4 and #11): render fan-out. 1,000 applications over one git repository and
 * 100 clusters, on real parts: embedded PostgreSQL, a git repository over file://, hubs in child
 * processes of their own (so RSS is the hub's alone), real kube-apiservers and 100 real agents.
 *
 * The repository holds 50 app directories (one small ConfigMap each; 5 of them are Kustomize
 * directories when the kustomize binary is in .cache/bin). The 1,000 applications read those 50
 * paths (20 applications per path: different names and namespaces, same source, so the same render
 * key) and are spread over 100 registered clusters, 10 per cluster. Every cluster has a real agent
 * (in this process; AXLE_BENCH_FANOUT_AGENTS=N runs agents for the first N clusters only). The
 * agents enrol and connect with mTLS (AXLE_BENCH_AGENT_AUTH=token: bearer tokens) and share 2
 * kube-apiservers (AXLE_BENCH_FANOUT_APISERVERS; see API_SERVERS and CLUSTER_GOGC),
 * each app in a namespace of its own. AXLE_BENCH_PROFILE_DIR=dir writes CPU profiles of this
 * process and the hub for the commit phase.
 *
 * Phases and figures:
 *  1. 1,000 applications created through the REST API: first request → all rendered and their
 *     desired state stored; → all applied (Synced at the first commit); renders (target = 50).
 *  2. git fetches per poll interval while nothing happens (target 1).
 *  3. a commit changing every app directory, announced by the git webhook: commit → every
 *     target's desired generation moved, and → applied and reported everywhere
 *     (`commitToAppliedMs`, target < 3,000 ms); per-target latency p50/p99 (commit → the agent's
 *     SyncSucceeded event for that app); renders (= 50); CPU per process and the requests the
 *     agents made of the kube-apiservers meanwhile (`commitKubeRequests`, by verb and resource,
 *     watches apart: what a commit costs the clusters), and the longest stall of the agents'
 *     shared event loop (`agentsProcessMaxStallMs`).
 *  4. two replicas: a second hub on the same database; another commit; the replica holding every
 *     agent stream is killed (SIGKILL) right after the webhook; the agents move to the survivor
 *     and every target converges to the new commit (`failoverConvergedMs`).
 *
 * Progress is read from PostgreSQL (every 50 ms), as the hub stores it. Prints PASS/MISS per
 * target, then one JSON line; exits 1 when a target is missed or the run is wrong. Every wait is
 * bounded (about 6 minutes in all).
 *
 *   npm run bench:fanout
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import { Agent } from '../apps/agent/src/agent.js';
import type { AgentConfig } from '../apps/agent/src/agent-config.js';
import { startEmbeddedPostgres } from '../apps/hub/src/database/embedded-postgres.js';
import { TestRepo } from '../test/support/git-repo.js';
import { clusterGet, startTestClusters, type TestClusters } from '../test/support/kube-cluster.js';
import { freePort } from '../test/support/ports.js';
import {
  BENCH_ADMIN_TOKEN,
  BENCH_SECRET_KEY,
  cpuBetween,
  forkHub,
  hubJson,
  mib,
  percentile,
  pool,
  processCpu,
  profileWindow,
  scrape,
  secs,
  sleep,
  stopHub,
  sum,
  verdict,
  type HubProcess,
  runBench,
  removeWorkDir,
} from './support.js';

const APPS = 1000;
const CLUSTERS = 100;
const PATHS = 50;
const KUSTOMIZE_PATHS = 5; // of the 50, when the kustomize binary is there
const AGENTS = Math.max(
  0,
  Math.min(CLUSTERS, Math.trunc(Number(process.env.AXLE_BENCH_FANOUT_AGENTS ?? CLUSTERS)) || 0),
);
/**
 * Real kube-apiservers (on one etcd) the agents share, each serving CLUSTERS / API_SERVERS agents.
 * In production every agent has a cluster of its own, on machines of its own. Agents watch only
 * the objects labelled with their own name, so sharing a server costs no cross-talk; each server
 * does cost its own fixed overhead on this machine's cores, hence 2 by default (the bench before
 * #11 used 1).
 */
const API_SERVERS = Math.max(
  1,
  Math.min(AGENTS || 1, Number(process.env.AXLE_BENCH_FANOUT_APISERVERS ?? 2)),
);
/**
 * GOGC of the stand-in clusters' etcd and kube-apiservers. They stand in for 100 clusters whose
 * control planes would run elsewhere, yet here they take a third of the CPU during a rollout; a
 * lazier collector (GOGC=400 instead of Go's 100) trades their memory for that CPU. Set
 * AXLE_BENCH_FANOUT_GOGC=100 to run them with Go's default.
 */
const CLUSTER_GOGC = process.env.AXLE_BENCH_FANOUT_GOGC ?? '400';
/** How agents authenticate: mTLS (the default; enrolled with their own keys) or bearer tokens. */
const AGENT_AUTH = process.env.AXLE_BENCH_AGENT_AUTH === 'token' ? 'token' : 'mtls';
const POLL_SECONDS = 2;
const FETCH_INTERVALS = 3;
const TOTAL_BUDGET_MS = 6 * 60_000;
const WATCH_EVERY_MS = 50;
const CREATE_CONCURRENCY = 16;
const TARGET_COMMIT_TO_APPLIED_MS = 3_000;

const log = (s: string) => process.stdout.write(`render-fanout: ${s}\n`);

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

interface Counters {
  fetches: number;
  renders: number;
  renderErrors: number;
  cacheHits: number;
  deploys: number;
  deploysByHash: number;
  batches: number;
  batchSeconds: number;
  appsReconciled: number;
  hubRss: number;
}

/**
 * The longest the agents' event loop (this process's) was held up meanwhile: 100 agents share it
 * here, so one agent's burst of work delays the others' acknowledgements and reports (and this
 * bench's own progress reads); in a cluster each agent has a process of its own.
 */
function stallMeter(): { stop: () => number } {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - 10);
    last = now;
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.round(max);
    },
  };
}

/** apiserver_request_total of the test kube-apiservers, summed by "VERB resource" (watches apart). */
async function kubeRequests(envs: TestClusters | undefined): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const c of envs?.clusters ?? []) {
    const res = await clusterGet(c, '/metrics');
    for (const line of res.body.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
      const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
      const sub = /subresource="([^"]*)"/.exec(line)?.[1] ?? '';
      if (verb === 'WATCH') continue;
      const key = `${verb} ${resource}${sub ? `/${sub}` : ''}`;
      out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
  }
  return out;
}

function diffRequests(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) > 0) out[k] = v - (a.get(k) ?? 0);
  return out;
}

async function counters(base: string): Promise<Counters> {
  const m = await scrape(base);
  return {
    fetches: sum(m, 'axle_git_fetches_total'),
    renders: sum(m, 'axle_renders_total', 'result="ok"'),
    renderErrors: sum(m, 'axle_renders_total', 'result="error"'),
    cacheHits: sum(m, 'axle_render_cache_hits_total'),
    deploys: sum(m, 'axle_deploys_sent_total'),
    deploysByHash: sum(m, 'axle_deploys_sent_total', 'with_bundle="false"'),
    batches: sum(m, 'axle_reconcile_batch_duration_seconds_count'),
    batchSeconds: sum(m, 'axle_reconcile_batch_duration_seconds_sum'),
    appsReconciled: sum(m, 'axle_apps_reconciled_total'),
    hubRss: sum(m, 'axle_hub_process_resident_memory_bytes'),
  };
}

function diff(a: Counters, b: Counters): Omit<Counters, 'hubRss'> {
  const out = {} as Record<string, number>;
  for (const k of Object.keys(a) as (keyof Counters)[]) if (k !== 'hubRss') out[k] = b[k] - a[k];
  return out as Omit<Counters, 'hubRss'>;
}

const batchLine = (d: Omit<Counters, 'hubRss'>) =>
  `${d.appsReconciled} app reconciles in ${d.batches} batch(es), ${Math.round(d.batchSeconds * 1000)} ms of batch time`;

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

type Remaining = (capMs: number) => number;

/** Registers the clusters, starts agents for the first AGENTS of them; returns how many connected. */
async function fleet(
  base: string,
  hubAddresses: string,
  work: string,
  kubeconfigs: string[],
  agents: Agent[],
  remaining: Remaining,
): Promise<number> {
  /** Each cluster's credentials: an mTLS enrolment kit, or a bearer token (AGENT_AUTH). */
  const credentials = new Map<number, Pick<AgentConfig, 'token' | 'mtls'>>();
  await pool(
    Array.from({ length: CLUSTERS }, (_, c) => c),
    8,
    async (c) => {
      const r = await hubJson(base, 'POST', '/api/v1/clusters', { name: clusterName(c) });
      if (r.status !== 201) throw new Error(`registering ${clusterName(c)}: ${r.status}`);
      const b = r.body as {
        agentToken?: string;
        bootstrapToken: string;
        caCertificate: string;
        enrollAddress: string;
      };
      credentials.set(
        c,
        AGENT_AUTH === 'token'
          ? { token: b.agentToken }
          : {
              mtls: {
                bootstrapToken: b.bootstrapToken,
                caPem: b.caCertificate,
                enrollAddress: b.enrollAddress,
                renewCheckSeconds: 3600,
              },
            },
      );
    },
  );
  for (let c = 0; c < AGENTS; c++) {
    const agent = new Agent({
      hubAddress: hubAddresses,
      ...credentials.get(c)!,
      cluster: clusterName(c),
      stateDir: join(work, 'agents', clusterName(c)),
      kubeconfig: kubeconfigs[c % kubeconfigs.length],
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
      const r = await hubJson(base, 'POST', '/api/v1/applications', {
        name: appName(i),
        source: { repoURL, targetRevision: 'main', path: pathOf(appPathIndex(i), kustomize) },
        destination: { cluster: clusterName(appCluster(i)), namespace: appName(i) },
        syncPolicy: { automated: { prune: true, selfHeal: false } },
      });
      if (r.status !== 201) throw new Error(`creating ${appName(i)}: ${JSON.stringify(r.body)}`);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Progress, read from PostgreSQL
// ---------------------------------------------------------------------------------------------

interface Progress {
  /** Targets whose desired state is at `sha`. */
  desired: number;
  /** Targets on clusters with an agent, applied at `sha` and reported Synced. */
  applied: number;
  /** Targets on clusters with an agent applied at an older revision than desired. */
  behind: number;
  /** Targets on clusters with an agent whose agent acknowledged the desired generation at `sha`. */
  acked: number;
}

async function progress(db: pg.Client, sha: string): Promise<Progress> {
  const r = await db.query<{ desired: string; applied: string; behind: string; acked: string }>(
    `SELECT count(*) FILTER (WHERE t.desired_revision = $1) AS desired,
            count(*) FILTER (WHERE t.desired_revision = $1 AND t.acked_generation = t.desired_generation
                               AND c.name < $2) AS acked,
            count(*) FILTER (WHERE t.applied_revision = $1 AND t.sync = 'Synced'
                               AND t.applied_generation = t.desired_generation AND c.name < $2) AS applied,
            count(*) FILTER (WHERE c.name < $2 AND t.applied_revision IS DISTINCT FROM t.desired_revision) AS behind
       FROM app_targets t JOIN clusters c ON c.id = t.cluster_id`,
    [sha, clusterName(AGENTS)],
  );
  return {
    desired: Number(r.rows[0].desired),
    applied: Number(r.rows[0].applied),
    behind: Number(r.rows[0].behind),
    acked: Number(r.rows[0].acked),
  };
}

interface Watched {
  desiredAt?: number;
  ackedAt?: number;
  appliedAt?: number;
  last: Progress;
}

/** Polls until every target is desired and applied at `sha` (or the bound); when each held. */
async function watch(
  db: pg.Client,
  sha: string,
  t0: number,
  capMs: number,
  remaining: Remaining,
  appliedTotal: number,
  onSample?: () => void,
): Promise<Watched> {
  const w: Watched = { last: { desired: 0, applied: 0, behind: 0, acked: 0 } };
  const until = Date.now() + remaining(capMs);
  for (;;) {
    w.last = await progress(db, sha);
    const now = performance.now() - t0;
    if (w.desiredAt === undefined && w.last.desired >= APPS) w.desiredAt = now;
    if (w.ackedAt === undefined && w.last.acked >= appliedTotal) w.ackedAt = now;
    if (w.appliedAt === undefined && w.last.applied >= appliedTotal) w.appliedAt = now;
    onSample?.();
    if (w.desiredAt !== undefined && w.appliedAt !== undefined) return w;
    if (Date.now() > until) return w;
    await sleep(WATCH_EVERY_MS);
  }
}

/** Per-target latency: commit → the agent's SyncSucceeded event at the new revision. */
async function targetLatencies(db: pg.Client, sinceMs: number, t0Epoch: number): Promise<number[]> {
  const r = await db.query<{ ms: string }>(
    `SELECT extract(epoch FROM min(e.at)) * 1000 AS ms FROM app_events e
      WHERE e.reason = 'SyncSucceeded' AND e.at >= to_timestamp($1 / 1000.0)
      GROUP BY e.app_id, e.cluster_id`,
    [sinceMs],
  );
  return r.rows.map((x) => Number(x.ms) - t0Epoch);
}

const reached = (at: number | undefined, got: number, total: number) =>
  at !== undefined ? secs(at) : `NOT reached within the bound (${got}/${total})`;

/** Git fetches per poll interval while nothing else happens. */
async function fetchesPerInterval(base: string, remaining: Remaining): Promise<number | undefined> {
  const a0 = (await counters(base)).fetches;
  const alignBy = Date.now() + remaining(POLL_SECONDS * 1000 + 3000);
  let a = a0;
  while (a === a0 && Date.now() < alignBy) {
    await sleep(50);
    a = (await counters(base)).fetches;
  }
  const windowMs = (FETCH_INTERVALS + 0.5) * POLL_SECONDS * 1000;
  if (a === a0 || remaining(windowMs) < windowMs) return undefined;
  await sleep(windowMs);
  return ((await counters(base)).fetches - a) / FETCH_INTERVALS;
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
  const hubs: HubProcess[] = [];
  let envs: Awaited<ReturnType<typeof startTestClusters>> | undefined;
  let pgServer: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let repo: TestRepo | undefined;
  let db: pg.Client | undefined;
  try {
    [envs, pgServer, repo] = await Promise.all([
      AGENTS > 0
        ? startTestClusters({
            count: API_SERVERS,
            names: Array.from({ length: API_SERVERS }, (_, i) => `fanout-${i}`),
            env: { GOGC: CLUSTER_GOGC },
          })
        : undefined,
      freePort().then((port) =>
        startEmbeddedPostgres({ dir: join(work, 'pg'), port, persistent: false }),
      ),
      TestRepo.create('axle-bench-fanout-repo-'),
    ]);
    db = new pg.Client({ connectionString: pgServer.url });
    await db.connect();
    const sha1 = await repo.commit(repoFiles(1, kustomize), 'first');
    // The second replica's agent port is reserved now: agents know both addresses from the start
    // and move to the survivor when the first replica dies (phase 4).
    const portB = await freePort();
    const hubEnv = (name: string, grpcPort: string) => ({
      DATABASE_URL: pgServer!.url,
      AXLE_DATA_DIR: join(work, name),
      AXLE_HTTP_PORT: '0',
      AXLE_GRPC_PORT: grpcPort,
      AXLE_GRPC_ENROLL_PORT: '0',
      AXLE_GIT_POLL_SECONDS: String(POLL_SECONDS),
      AXLE_RESYNC_SECONDS: '3600',
      AXLE_LOG_LEVEL: process.env.AXLE_BENCH_HUB_LOG_LEVEL ?? 'error',
      AXLE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
      // mTLS, the default: agents enrol with their own keys; the replicas share the sealed CA.
      AXLE_AGENT_AUTH: AGENT_AUTH,
      AXLE_SECRET_KEY: BENCH_SECRET_KEY,
      ...(kustomize ? { AXLE_KUSTOMIZE_PATH: kustomizeBin } : {}),
    });
    const hubA = await forkHub(hubEnv('hub-a', '0'));
    hubs.push(hubA);
    const base = hubA.httpUrl;
    let hubRssPeak = 0;
    const snap = async (b = base) => {
      const c = await counters(b);
      hubRssPeak = Math.max(hubRssPeak, c.hubRss);
      return c;
    };
    log(
      `setup ${secs(performance.now() - started)}: ${APPS} apps, ${PATHS} paths (${kustomize ? KUSTOMIZE_PATHS : 0} Kustomize), ` +
        `${CLUSTERS} clusters, ${AGENTS} with a real agent (${API_SERVERS} kube-apiservers with GOGC=${CLUSTER_GOGC}, namespace per app, agents on ${AGENT_AUTH})`,
    );
    const kubeconfigs = envs?.clusters.map((c) => c.kubeconfigPath) ?? [];
    const addresses = `${hubA.grpcAddress},127.0.0.1:${portB}`;
    const connected = await fleet(base, addresses, work, kubeconfigs, agents, remaining);
    const withAgent = AGENTS * (APPS / CLUSTERS);

    // --- 1. 1,000 applications at the first commit -------------------------------------------
    const c0 = await snap();
    const tCreate = performance.now();
    await createApps(base, repo.fileUrl, kustomize);
    const createRequestsMs = performance.now() - tCreate;
    const first = await watch(db, sha1, tCreate, 180_000, remaining, withAgent);
    const d1 = diff(c0, await snap());
    log(
      `hub: ${APPS} apps created (requests took ${secs(createRequestsMs)}); first request → all rendered ` +
        `and desired state stored: ${reached(first.desiredAt, first.last.desired, APPS)}`,
    );
    const rendersFirstOk = d1.renders === PATHS && d1.renderErrors === 0;
    log(
      `${verdict(rendersFirstOk)} renders for ${APPS} apps at the first commit: ${d1.renders} ` +
        `(target = ${PATHS} distinct paths), cache hits ${d1.cacheHits}, errors ${d1.renderErrors}`,
    );
    log(
      `applied: first request → ${withAgent} apps on ${AGENTS} clusters Synced: ` +
        `${reached(first.appliedAt, first.last.applied, withAgent)}; deploys sent ${d1.deploys}; ${batchLine(d1)}`,
    );

    // --- 2. git fetches per poll interval, nothing else going on -----------------------------
    const idle0 = processCpu();
    const idleT0 = performance.now();
    const perInterval = await fetchesPerInterval(base, remaining);
    const idleCpu = cpuBetween(idle0, processCpu(), {
      [hubA.child.pid!]: 'hub',
      [process.pid]: 'agents (bench process)',
    });
    const idleSeconds = (performance.now() - idleT0) / 1000;
    const idleCpuPerSecond = Object.fromEntries(
      Object.entries(idleCpu).map(([k, v]) => [k, Math.round(v / idleSeconds)]),
    );
    log(`      CPU while idle (ms per second): ${JSON.stringify(idleCpuPerSecond)}`);
    const fetchOk = perInterval === 1;
    log(
      perInterval === undefined
        ? 'MISS git fetches per poll interval: no poll fetch seen within the bound'
        : `${verdict(fetchOk)} git fetches per ${POLL_SECONDS} s poll interval: ${perInterval} ` +
            `(over ${FETCH_INTERVALS} intervals; one repository read by ${APPS} apps; target 1)`,
    );

    // --- 3. a commit changing every app directory, announced by webhook -----------------------
    const c2 = await snap();
    const sha2 = await repo.commit(repoFiles(2, kustomize), 'second');
    const cpu0 = processCpu();
    const stopProfile = profileWindow('commit', [hubA.child]);
    const kube0 = await kubeRequests(envs);
    const tCommit = performance.now();
    const tCommitEpoch = Date.now();
    const stalls = stallMeter();
    const hook = await hubJson(base, 'POST', '/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const hookMs = performance.now() - tCommit;
    if (hook.status !== 202) log(`webhook answered ${hook.status}: ${JSON.stringify(hook.body)}`);
    const second = await watch(db, sha2, tCommit, 120_000, remaining, withAgent);
    const agentsStallMs = stalls.stop();
    const commitCpu = cpuBetween(cpu0, processCpu(), {
      [hubA.child.pid!]: 'hub',
      [process.pid]: 'agents (bench process)',
    });
    await stopProfile();
    const kubeCalls = diffRequests(kube0, await kubeRequests(envs));
    log(
      `      kube-apiserver requests during it (verb resource: count): ${JSON.stringify(kubeCalls)}`,
    );
    const c3 = await snap();
    const d2 = diff(c2, c3);
    await sleep(200); // the agents' events are written behind
    const lat = await targetLatencies(db, tCommitEpoch, tCommitEpoch);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    const commitOk =
      second.appliedAt !== undefined && second.appliedAt < TARGET_COMMIT_TO_APPLIED_MS;
    log(
      `commit (webhook answered after ${secs(hookMs)}) → desired state at the new commit for all ${APPS} targets: ` +
        `${reached(second.desiredAt, second.last.desired, APPS)}; → all acknowledged by the agents: ` +
        `${reached(second.ackedAt, second.last.acked, withAgent)}`,
    );
    log(
      `${verdict(commitOk)} commit → applied and reported everywhere (${withAgent} targets on ${AGENTS} clusters ` +
        `Synced at the new revision): ${reached(second.appliedAt, second.last.applied, withAgent)} ` +
        `(target < ${secs(TARGET_COMMIT_TO_APPLIED_MS)})`,
    );
    log(
      `      per-target latency (commit → the agent's SyncSucceeded), ${lat.length} targets: ` +
        `p50 ${p50 === undefined ? 'n/a' : `${Math.round(p50)} ms`}, p99 ${p99 === undefined ? 'n/a' : `${Math.round(p99)} ms`}`,
    );
    log(
      `      CPU during it (ms): ${JSON.stringify(commitCpu)}; longest stall of the ${AGENTS} agents' ` +
        `shared event loop: ${agentsStallMs} ms`,
    );
    const rendersSecondOk = d2.renders === PATHS && d2.renderErrors === 0;
    log(
      `${verdict(rendersSecondOk)} renders for the second commit: ${d2.renders} (target = ${PATHS}), ` +
        `cache hits ${d2.cacheHits}, errors ${d2.renderErrors}; deploys sent ${d2.deploys} ` +
        `(${d2.deploysByHash} by hash alone); ${batchLine(d2)}`,
    );

    // --- 4. two replicas; the one holding every stream is killed mid-rollout -----------------
    const hubB = await forkHub(hubEnv('hub-b', String(portB)));
    hubs.push(hubB);
    const sha3 = await repo.commit(repoFiles(3, kustomize), 'third');
    const tKill = performance.now();
    const hook3 = await hubJson(base, 'POST', '/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    if (hook3.status !== 202) log(`webhook answered ${hook3.status}`);
    await sleep(100);
    hubA.child.kill('SIGKILL');
    const failover = await watch(db, sha3, tKill, 120_000, remaining, withAgent);
    const movedAgents = agents.filter((a) => a.connected).length;
    const wrong = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM app_targets WHERE desired_revision <> $1`,
      [sha3],
    );
    const failoverOk = failover.appliedAt !== undefined && Number(wrong.rows[0].n) === 0;
    log(
      `${verdict(failoverOk)} two replicas, the one holding all ${AGENTS} streams killed 100 ms after the webhook: ` +
        `${movedAgents} agents on the survivor; every target applied at the new commit after ` +
        `${reached(failover.appliedAt, failover.last.applied, withAgent)} (desired state moved after ` +
        `${reached(failover.desiredAt, failover.last.desired, APPS)})`,
    );

    const cEnd = await snap(hubB.httpUrl).catch(() => c3);
    log(
      `hub RSS ${mib(c3.hubRss)} (peak sampled ${mib(hubRssPeak)}; hub process alone, PostgreSQL apart); ` +
        `bench process with ${AGENTS} agents ${mib(process.memoryUsage().rss)}`,
    );
    const totalMs = performance.now() - started;
    log(`run time ${secs(totalMs)}`);
    const ok =
      rendersFirstOk &&
      rendersSecondOk &&
      fetchOk &&
      commitOk &&
      failoverOk &&
      connected === AGENTS;
    const round = (v: number | undefined) => (v === undefined ? null : Math.round(v));
    process.stdout.write(
      `${JSON.stringify({
        bench: 'render-fanout',
        apps: APPS,
        paths: PATHS,
        kustomizePaths: kustomize ? KUSTOMIZE_PATHS : 0,
        clusters: CLUSTERS,
        agents: AGENTS,
        apiServers: API_SERVERS,
        apiServerGoGc: Number(CLUSTER_GOGC),
        agentAuth: AGENT_AUTH,
        agentsConnected: connected,
        appsWithAgent: withAgent,
        pollSeconds: POLL_SECONDS,
        fetchesPerInterval: perInterval ?? null,
        createRequestsMs: round(createRequestsMs),
        initialDispatchedMs: round(first.desiredAt),
        initialAppliedMs: round(first.appliedAt),
        initialApplied: first.last.applied,
        rendersFirst: d1.renders,
        cacheHitsFirst: d1.cacheHits,
        rendersSecond: d2.renders,
        cacheHitsSecond: d2.cacheHits,
        renderErrors: d1.renderErrors + d2.renderErrors,
        commitToDispatchedMs: round(second.desiredAt),
        commitToAckedMs: round(second.ackedAt),
        commitToAppliedMs: round(second.appliedAt),
        targetCommitToAppliedMs: TARGET_COMMIT_TO_APPLIED_MS,
        appliedSecond: second.last.applied,
        targetLatencyP50Ms: round(p50),
        targetLatencyP99Ms: round(p99),
        commitCpuMs: commitCpu,
        commitKubeRequests: kubeCalls,
        agentsProcessMaxStallMs: agentsStallMs,
        idleCpuMsPerSecond: idleCpuPerSecond,
        deploysSecond: d2.deploys,
        deploysByHashSecond: d2.deploysByHash,
        batchesSecond: d2.batches,
        failoverConvergedMs: round(failover.appliedAt),
        failoverDesiredMs: round(failover.desiredAt),
        failoverApplied: failover.last.applied,
        agentsAfterFailover: movedAgents,
        hubRssBytes: c3.hubRss,
        hubRssPeakBytes: hubRssPeak,
        hubBRssBytes: cEnd.hubRss,
        runMs: Math.round(totalMs),
        pass: ok,
      })}\n`,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    for (const h of hubs) await stopHub(h.child).catch(() => undefined);
    await db?.end().catch(() => undefined);
    await repo?.remove().catch(() => undefined);
    await pgServer?.stop().catch(() => undefined);
    await envs?.stop().catch(() => undefined);
    await removeWorkDir(work);
  }
}

runBench('render-fanout', main);
