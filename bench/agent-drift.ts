/**
 * Benchmark: drift latency, end to end. A real hub (embedded PostgreSQL, git over file://) and an
 * agent on a real kube-apiserver; an app of 50 ConfigMaps. Someone else edits one of them (a JSON
 * merge patch under another field manager); the clock runs from the edit until the hub's REST API
 * shows the app OutOfSync naming the edited field. The bench then puts the value back and waits
 * for Synced before the next edit. 20 edits, p50 and p90.
 *
 * Target: p50 < 1 s. Prints PASS/MISS, then one JSON line; exits 1 when the target is missed or
 * the benchmark cannot run. Everything on loopback; it stops by itself (bounded waits).
 *
 *   npm run bench:drift
 */
import { chmod, mkdtemp } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KubeConfig } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import { Agent } from '../apps/agent/src/agent.js';
import { loadHubConfig } from '../apps/hub/src/config/hub-config.js';
import { startEmbeddedPostgres } from '../apps/hub/src/database/embedded-postgres.js';
import { startHub } from '../apps/hub/src/hub.js';
import { TestRepo } from '../test/support/git-repo.js';
import { startTestClusters, type TestCluster } from '../test/support/kube-cluster.js';
import { freePort } from '../test/support/ports.js';
import { BENCH_ADMIN_TOKEN, hubJson, runBench, removeWorkDir } from './support.js';
import { waitFor as pollUntil } from '../test/support/wait.js';

const EDITS = 20;
const CONFIGMAPS = 50;
const TARGET_P50_MS = 1000;
const NS = 'bench-drift';
const log = (s: string) => process.stdout.write(`agent-drift: ${s}\n`);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** Tight polling: the figure measured is the latency itself. */
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000) =>
  pollUntil(what, fn, { timeoutMs, intervalMs: 10 });

const ADMIN_TOKEN = BENCH_ADMIN_TOKEN;

function json(base: string, method: string, path: string, body?: unknown) {
  return hubJson(base, method, path, body, 10000);
}

/** A JSON merge patch under another field manager, as `kubectl edit` would make. */
async function editAs(c: TestCluster, manager: string, name: string, value: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(c.kubeconfig);
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const body = JSON.stringify({ data: { value } });
  const url = `${c.server}/api/v1/namespaces/${NS}/configmaps/${name}?fieldManager=${manager}`;
  await new Promise<void>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PATCH',
        ca: opts.ca,
        headers: {
          ...(opts.headers as Record<string, string>),
          'content-type': 'application/merge-patch+json',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`PATCH ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const work = await mkdtemp(join(tmpdir(), 'axle-bench-drift-'));
  await chmod(work, 0o755); // the embedded server runs as `postgres` when we are root
  const envs = await startTestClusters({ count: 1, names: ['bench'] });
  const cluster = envs.clusters[0];
  const pg = await startEmbeddedPostgres({
    dir: join(work, 'pg'),
    port: await freePort(),
    persistent: false,
  });
  const repo = await TestRepo.create('axle-bench-drift-repo-');
  let agent: Agent | undefined;
  let hub: Awaited<ReturnType<typeof startHub>> | undefined;
  try {
    const files: Record<string, string> = {};
    for (let i = 0; i < CONFIGMAPS; i++) {
      files[`app/cm-${i}.yaml`] =
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  value: "v${i}"\n`;
    }
    const sha = await repo.commit(files);
    hub = await startHub(
      loadHubConfig({
        DATABASE_URL: pg.url,
        AXLE_DATA_DIR: join(work, 'hub'),
        AXLE_HTTP_PORT: '0',
        AXLE_GRPC_PORT: '0',
        AXLE_GIT_POLL_SECONDS: '3600',
        AXLE_RESYNC_SECONDS: '3600',
        AXLE_LOG_LEVEL: 'error',
        AXLE_ADMIN_TOKEN: ADMIN_TOKEN,
        // mTLS, the default: the agent enrols with the bootstrap kit the hub answers.
        AXLE_AGENT_AUTH: 'mtls',
        AXLE_GRPC_ENROLL_PORT: '0',
      }),
    );
    const base = hub.httpUrl;
    const reg = await json(base, 'POST', '/api/v1/clusters', { name: 'bench' });
    if (reg.status !== 201) throw new Error(`registering the cluster: ${JSON.stringify(reg.body)}`);
    agent = new Agent({
      hubAddress: hub.grpcAddress,
      mtls: {
        bootstrapToken: reg.body.bootstrapToken,
        caPem: reg.body.caCertificate,
        enrollAddress: reg.body.enrollAddress,
      },
      cluster: 'bench',
      stateDir: join(work, 'agent'),
      kubeconfig: cluster.kubeconfigPath,
      fieldManager: 'axle',
      resyncSeconds: 3600,
      backoff: { baseMs: 100, capMs: 1000 },
      logLevel: 'error',
    });
    agent.start();
    const created = await json(base, 'POST', '/api/v1/applications', {
      name: 'drift',
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'app' },
      destination: { cluster: 'bench', namespace: NS },
      // No self-heal: the bench measures detection and reverts the edits itself.
      syncPolicy: { automated: { prune: true, selfHeal: false } },
    });
    if (created.status !== 201)
      throw new Error(`creating the app: ${JSON.stringify(created.body)}`);
    const status = async () =>
      (await json(base, 'GET', '/api/v1/applications/drift')).body?.status?.clusters?.[0];
    const synced = () =>
      waitFor('Synced', async () => {
        const c = await status();
        return (
          c?.revision === sha && c.sync === 'Synced' && c.appliedGeneration === c.desiredGeneration
        );
      });
    await synced();

    const latencies: number[] = [];
    for (let i = 0; i < EDITS; i++) {
      const name = `cm-${(i * 7) % CONFIGMAPS}`;
      const t0 = performance.now();
      await editAs(cluster, 'kubectl-edit', name, `edited-${i}`);
      await waitFor(`OutOfSync after edit ${i}`, async () => {
        const c = await status();
        return c?.sync === 'OutOfSync' && String(c.message).includes(`live "edited-${i}"`);
      });
      latencies.push(performance.now() - t0);
      const original = `v${(i * 7) % CONFIGMAPS}`;
      await editAs(cluster, 'kubectl-edit', name, original);
      await synced();
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p90 = percentile(sorted, 90);
    log(
      `${EDITS} edits of one ConfigMap field (app of ${CONFIGMAPS}), edit → hub REST shows OutOfSync with the field`,
    );
    log(`${verdict(p50 < TARGET_P50_MS)} p50 ${Math.round(p50)} ms (target < ${TARGET_P50_MS} ms)`);
    log(
      `      p90 ${Math.round(p90)} ms, min ${Math.round(sorted[0])} ms, max ${Math.round(sorted[sorted.length - 1])} ms`,
    );
    process.stdout.write(
      `${JSON.stringify({
        bench: 'agent-drift',
        edits: EDITS,
        configMaps: CONFIGMAPS,
        p50Ms: Math.round(p50),
        p90Ms: Math.round(p90),
        minMs: Math.round(sorted[0]),
        maxMs: Math.round(sorted[sorted.length - 1]),
        targetP50Ms: TARGET_P50_MS,
        pass: p50 < TARGET_P50_MS,
      })}\n`,
    );
    if (!(p50 < TARGET_P50_MS)) process.exitCode = 1;
  } finally {
    await agent?.stop();
    await hub?.close();
    await repo.remove();
    await pg.stop();
    await envs.stop();
    await removeWorkDir(work);
  }
}

runBench('agent-drift', main);
