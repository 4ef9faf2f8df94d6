/** Shared by the benchmarks: hubs in child processes, REST and metrics, figures. */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUB_NODE_ARGS } from '../test/support/hub-node-args.js';

/** The admin token the benchmarks' hubs start with. */
export const BENCH_ADMIN_TOKEN = `axle_api_bench-${Math.random().toString(36).slice(2)}-0123456789`;
/** The key for secrets at rest of the benchmarks' hubs: their replicas share the sealed CA. */
export const BENCH_SECRET_KEY = Buffer.alloc(32, 9).toString('base64');

export async function hubJson(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${BENCH_ADMIN_TOKEN}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

export interface HubProcess {
  child: ChildProcess;
  httpUrl: string;
  grpcAddress: string;
}

/**
 * The environment of a benchmark hub on `databaseUrl`: free ports, no polling or periodic
 * resync (the benchmark drives the work), the benchmark's admin token; `extra` on top.
 */
export function benchHubEnv(
  databaseUrl: string,
  dataDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    AXLE_DATA_DIR: dataDir,
    AXLE_HTTP_PORT: '0',
    AXLE_GRPC_PORT: '0',
    AXLE_GRPC_ENROLL_PORT: '0',
    AXLE_GIT_POLL_SECONDS: '3600',
    AXLE_RESYNC_SECONDS: '3600',
    AXLE_LOG_LEVEL: process.env.AXLE_BENCH_HUB_LOG_LEVEL ?? 'warn',
    AXLE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
    // The benchmarks generate 100,000 applications from one ApplicationSet on purpose.
    AXLE_APPSET_MAX_APPLICATIONS: '100000',
    // To compare batch sizes: AXLE_BENCH_RECONCILE_BATCH=2500 npm run bench:agents.
    ...(process.env.AXLE_BENCH_RECONCILE_BATCH
      ? { AXLE_RECONCILE_BATCH: process.env.AXLE_BENCH_RECONCILE_BATCH }
      : {}),
    ...extra,
  };
}

/** Starts a hub in a child process, configured by `env` alone (see bench/hub-child.ts). */
export async function forkHub(
  env: Record<string, string>,
  opts: { execArgv?: string[]; startTimeoutMs?: number } = {},
): Promise<HubProcess> {
  const entry = join(dirname(fileURLToPath(import.meta.url)), 'hub-child.js');
  const child = fork(entry, [], {
    env: { ...process.env, AXLE_BENCH_HUB_ENV: JSON.stringify(env) },
    // As the hub runs in production; AXLE_BENCH_HUB_NODE_ARGS (may be " ") in their place, to
    // compare settings.
    execArgv: [
      ...(opts.execArgv ?? []),
      ...(process.env.AXLE_BENCH_HUB_NODE_ARGS?.split(' ').filter(Boolean) ?? HUB_NODE_ARGS),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ httpUrl: string; grpcAddress: string }>((res, rej) => {
    const t = setTimeout(
      () => rej(new Error('hub did not start in time')),
      opts.startTimeoutMs ?? 120_000,
    );
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

/** Stops a hub gracefully (SIGKILL after 20 s). */
export async function stopHub(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.send('stop');
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(t);
}

/** The hub's RSS after a full collection (the hub must run with --expose-gc). */
/** The hub's memory (RSS, V8 heap, memory outside it) after two full GCs (--expose-gc). */
export function hubMemoryAfterGc(child: ChildProcess): Promise<NodeJS.MemoryUsage> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no memory answer')), 30_000);
    const on = (m: unknown) => {
      if (m && typeof m === 'object' && 'memory' in m) {
        clearTimeout(t);
        child.off('message', on);
        resolve((m as { memory: NodeJS.MemoryUsage }).memory);
      }
    };
    child.on('message', on);
    child.send('gc');
  });
}

/**
 * Starts a CPU profile of this process when AXLE_BENCH_PROFILE_DIR is set (and tells `hubs` to
 * profile themselves); the returned function stops it and writes `<dir>/<name>-*.cpuprofile`.
 */
export function profileWindow(name: string, hubs: ChildProcess[] = []): () => Promise<void> {
  const dir = process.env.AXLE_BENCH_PROFILE_DIR;
  if (!dir) return () => Promise.resolve();
  const session = new Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.start'));
  for (const h of hubs) h.send('profile-start');
  return () =>
    new Promise((resolve) => {
      for (const h of hubs) h.send('profile-stop');
      session.post('Profiler.stop', (err, r) => {
        if (!err)
          writeFileSync(`${dir}/${name}-${Date.now()}.cpuprofile`, JSON.stringify(r.profile));
        session.disconnect();
        resolve();
      });
    });
}

export type Metrics = { name: string; labels: string; value: number }[];

export async function scrape(base: string): Promise<Metrics> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) });
  const out: Metrics = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) out.push({ name: m[1], labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

export function sum(ms: Metrics, name: string, labelFilter?: string): number {
  return ms
    .filter((m) => m.name === name && (!labelFilter || m.labels.includes(labelFilter)))
    .reduce((a, m) => a + m.value, 0);
}

/** The p-th percentile (0–100) of `values` (nearest rank); undefined when empty. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Bounded parallel map. */
export async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
    }),
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
export const secs = (ms: number | undefined) =>
  ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`;
export const mib = (b: number | undefined) =>
  b === undefined ? 'n/a' : `${Math.round(b / 2 ** 20)} MiB`;

/** CPU time (ms) used so far by each process on the machine, by pid (Linux /proc). */
export function processCpu(): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), { name, ms: (Number(f[11]) + Number(f[12])) * 10 });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU used between two `processCpu()` readings, by label: `labels` names some pids (the hub,
 * say); the others are grouped by process name. Only those above 50 ms, largest first.
 */
export function cpuBetween(
  a: Map<number, { name: string; ms: number }>,
  b: Map<number, { name: string; ms: number }>,
  labels: Record<number, string> = {},
): Record<string, number> {
  const by = new Map<string, number>();
  for (const [pid, { name, ms }] of b) {
    const label = labels[pid] ?? name;
    by.set(label, (by.get(label) ?? 0) + ms - (a.get(pid)?.ms ?? 0));
  }
  return Object.fromEntries([...by].filter(([, v]) => v > 50).sort((x, y) => y[1] - x[1]));
}

/**
 * Removes a bench's scratch directory at the end of a run. A child still writing into it as it
 * exits (PostgreSQL, a kube-apiserver) makes one removal fail with ENOTEMPTY, so it is retried;
 * a removal that still fails is reported and never hides the run's own outcome or error.
 */
export async function removeWorkDir(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (e) {
    process.stderr.write(`could not remove ${dir}: ${(e as Error).message}\n`);
  }
}

/**
 * Runs a benchmark's main and exits with its exit code (1 on a throw, printed with `name`).
 * Explicitly: embedded PostgreSQL hooks `beforeExit` and would exit with 0 whatever happened.
 */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (e: unknown) => {
      process.stderr.write(`${name}: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

/**
 * AXLE_BENCH_PG_STATS=1: the embedded server loads pg_stat_statements (pass to
 * startEmbeddedPostgres's `settings`), and `pgStatements` prints the statements that took the
 * server's time in a window.
 */
export const pgStatsSettings = (): Record<string, string> =>
  process.env.AXLE_BENCH_PG_STATS
    ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' }
    : {};

export interface SqlClient {
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
}

/** Starts a pg_stat_statements window; the returned function prints its top statements. */
export async function pgStatements(
  db: SqlClient,
  log: (s: string) => void,
): Promise<() => Promise<void>> {
  if (!process.env.AXLE_BENCH_PG_STATS) return async () => {};
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.query('SELECT pg_stat_statements_reset()');
  return async () => {
    const { rows } = await db.query(
      `SELECT round(total_exec_time) AS ms, calls, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS q
         FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15`,
    );
    for (const r of rows)
      log(
        `  sql ${String(r.ms)} ms, ${String(r.calls)} calls, ${String(r.rows)} rows: ${String(r.q)}`,
      );
  };
}
