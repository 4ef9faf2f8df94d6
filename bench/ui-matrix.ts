/**
 * Benchmark (issue #13): the web console's fleet matrix at 1,000 applications × 100 clusters, in
 * Debian's Chromium (playwright-core), against a hub in a process of its own on an embedded
 * PostgreSQL. The 100 clusters have simulated agents speaking the real protocol over mTLS
 * (bench/sim-agents.ts): they acknowledge and report every one of the 100,000 targets Synced and
 * Healthy, so the matrix shows a real fleet.
 *
 * Figures (JSON `"bench":"ui-matrix"`, last line):
 *  - firstRenderMs: navigation to the console (signed in) → the matrix rendered with its cells
 *    and summary counts; the median of 3 loads in a fresh tab each (target < 1,000), with the
 *    hub's fleet view kept current (a console looked at the fleet in the last 10 minutes);
 *  - coldRenderMs: the same right after a change the hub cannot patch into its kept view (a
 *    cluster added): it reads all 100,000 targets again (no target; reported);
 *  - cellUpdateMs: an agent reports one application Degraded (or Healthy again) → that cell
 *    changes on the open page, carried by the live stream; the median of 6 changes (target
 *    < 1,000), with the slowest as cellUpdateMaxMs;
 *  - fleetBytes / fleetMs: the size of /api/v1/fleet and the time to serve it.
 *
 * Exits 1 when a target is missed. Bounded: about 10 minutes at most.
 *
 *   npm run bench:ui
 */
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { startEmbeddedPostgres } from '../apps/hub/src/database/embedded-postgres.js';
import { launchChromium } from '../test/support/browser.js';
import { TestRepo } from '../test/support/git-repo.js';
import { freePort } from '../test/support/ports.js';
import { registerSimClusters, Sims } from './sim-fleet.js';
import {
  BENCH_ADMIN_TOKEN,
  benchHubEnv,
  forkHub,
  hubJson,
  percentile,
  pool,
  runBench,
  sleep,
  stopHub,
  verdict,
  type HubProcess,
  removeWorkDir,
} from './support.js';

// Run in the page by Chromium (this file is compiled without the DOM library).
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
};

const APPS = 1000;
const CLUSTERS = 100;
const DIRECTORIES = 10;
const TARGET_FIRST_RENDER_MS = 1000;
const TARGET_CELL_UPDATE_MS = 1000;
const BUDGET_MS = 10 * 60_000;

const log = (s: string) => process.stdout.write(`ui-matrix: ${s}\n`);
const clusterName = (i: number) => `c-${String(i).padStart(3, '0')}`;
const appName = (i: number) => `app-${String(i).padStart(4, '0')}`;

async function until(what: string, deadline: number, fn: () => Promise<boolean>): Promise<void> {
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(250);
  }
  throw new Error(`not reached in time: ${what}`);
}

/** Navigation → the matrix drawn with cells and the summary filled in, in a fresh tab. */
async function loadMatrix(page: Page, base: string): Promise<number> {
  const t0 = performance.now();
  await page.goto(base, { waitUntil: 'commit' });
  await page.waitForFunction(
    (n) =>
      document.querySelectorAll('[role=gridcell]').length >= n &&
      document.querySelector('[data-testid="count-Synced"]') !== null,
    200,
    { timeout: 30_000, polling: 'raf' },
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const deadline = Date.now() + BUDGET_MS;
  const work = await mkdtemp(join(tmpdir(), 'axle-bench-ui-'));
  await chmod(work, 0o755);
  let pgServer: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let repo: TestRepo | undefined;
  let hub: HubProcess | undefined;
  let db: pg.Client | undefined;
  const sims = new Sims(1);
  const browser = await launchChromium();
  try {
    [pgServer, repo] = await Promise.all([
      freePort().then((port) =>
        startEmbeddedPostgres({ dir: join(work, 'pg'), port, persistent: false }),
      ),
      TestRepo.create('axle-bench-ui-repo-'),
    ]);
    await repo.commit(
      Object.fromEntries(
        Array.from({ length: DIRECTORIES }, (_, i) => [
          `apps/d${i}/cm.yaml`,
          `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d${i}\ndata:\n  v: "1"\n`,
        ]),
      ),
    );
    hub = await forkHub(benchHubEnv(pgServer.url, join(work, 'hub')), {
      execArgv: ['--max-old-space-size=4096'],
    });
    const base = hub.httpUrl;
    db = new pg.Client({ connectionString: pgServer.url });
    await db.connect();
    const count = async (sql: string) => Number((await db!.query<{ n: string }>(sql)).rows[0].n);

    // --- 100 clusters with simulated agents, 1,000 applications on all of them ----------------
    let t = performance.now();
    const { kit, agents: kits } = await registerSimClusters(
      base,
      Array.from({ length: CLUSTERS }, (_, i) => clusterName(i)),
      (i) => ({ region: i % 2 ? 'east' : 'west' }),
      { concurrency: 8, enrollConcurrency: 8, dialsPerSecond: 100 },
    );
    const destinations = Array.from({ length: CLUSTERS }, (_, i) => clusterName(i));
    await pool(
      Array.from({ length: APPS }, (_, i) => i),
      8,
      async (i) => {
        const r = await hubJson(base, 'POST', '/api/v1/applications', {
          name: appName(i),
          project: 'default',
          source: {
            repoURL: repo!.fileUrl,
            targetRevision: 'main',
            path: `apps/d${i % DIRECTORIES}`,
          },
          destination: { clusters: destinations, namespace: appName(i) },
          syncPolicy: { automated: { prune: true } },
        });
        if (r.status !== 201) throw new Error(`creating ${appName(i)}: ${r.status}`);
      },
    );
    log(
      `${CLUSTERS} clusters and ${APPS} applications created in ${Math.round(performance.now() - t)} ms`,
    );
    t = performance.now();
    await sims.start(kit, kits);
    const total = APPS * CLUSTERS;
    await until(
      `${total} targets applied and reported`,
      deadline,
      async () =>
        (await count(
          `SELECT count(*) AS n FROM app_targets
          WHERE applied_generation = desired_generation AND desired_generation > 0
            AND health = 'Healthy'`,
        )) >= total,
    );
    log(
      `${total} targets applied and reported by ${CLUSTERS} agents in ${Math.round(performance.now() - t)} ms`,
    );

    // --- the fleet endpoint ------------------------------------------------------------------
    t = performance.now();
    const fleetRes = await fetch(`${base}/api/v1/fleet`, {
      headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` },
    });
    const fleetBytes = (await fleetRes.arrayBuffer()).byteLength;
    const fleetMs = performance.now() - t;
    log(`/api/v1/fleet: ${(fleetBytes / 2 ** 20).toFixed(2)} MiB in ${Math.round(fleetMs)} ms`);

    // --- first render ---------------------------------------------------------------------------
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const signIn = await context.request.post(`${base}/api/v1/session`, {
      data: { token: BENCH_ADMIN_TOKEN },
    });
    if (signIn.status() !== 201) throw new Error(`sign-in: ${signIn.status()}`);
    const warm = await context.newPage();
    await loadMatrix(warm, base); // assets into the browser cache, as for a returning user
    await warm.close();
    const renders: number[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await context.newPage();
      renders.push(await loadMatrix(p, base));
      await p.close();
    }
    const firstRenderMs = percentile(renders, 50)!;
    log(`first render: ${renders.map((r) => Math.round(r)).join(', ')} ms`);

    // --- a status change → the cell ----------------------------------------------------------
    const page = await context.newPage();
    await loadMatrix(page, base);
    await page.getByTestId('live-state').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
    const app = appName(0);
    const cluster = clusterName(0);
    const appId = (
      await db.query<{ id: string }>('SELECT id FROM applications WHERE name = $1', [app])
    ).rows[0].id;
    const cell = `[data-app="${app}"] [data-cluster="${cluster}"]`;
    const updates: number[] = [];
    for (let i = 0; i < 6; i++) {
      const degraded = i % 2 === 0;
      const t0 = performance.now();
      if (!(await sims.setHealth(cluster, appId, degraded)))
        throw new Error(`agent ${cluster} does not run ${app}`);
      await page.waitForFunction(
        ({ sel, letter }) => document.querySelector(sel)?.textContent?.[1] === letter,
        { sel: cell, letter: degraded ? 'D' : 'H' },
        { timeout: 15_000, polling: 'raf' },
      );
      updates.push(performance.now() - t0);
      await sleep(300);
    }
    const cellUpdateMs = percentile(updates, 50)!;
    const cellUpdateMaxMs = Math.max(...updates);
    log(`cell updates: ${updates.map((u) => Math.round(u)).join(', ')} ms`);
    await page.close();

    // --- a cold render: the hub's kept view dropped by a change it cannot patch -----------------
    const added = await hubJson(base, 'POST', '/api/v1/clusters', { name: 'c-new' });
    if (added.status !== 201) throw new Error(`registering c-new: ${added.status}`);
    await sleep(1000);
    const cold = await context.newPage();
    const coldRenderMs = await loadMatrix(cold, base);
    await cold.close();
    log(`cold render (the hub reads every target again): ${Math.round(coldRenderMs)} ms`);

    const okRender = firstRenderMs < TARGET_FIRST_RENDER_MS;
    const okCell = cellUpdateMs < TARGET_CELL_UPDATE_MS;
    log(
      `firstRenderMs ${Math.round(firstRenderMs)} (target < ${TARGET_FIRST_RENDER_MS}) ${verdict(okRender)}`,
    );
    log(
      `cellUpdateMs ${Math.round(cellUpdateMs)} (target < ${TARGET_CELL_UPDATE_MS}) ${verdict(okCell)}`,
    );
    console.log(
      JSON.stringify({
        bench: 'ui-matrix',
        apps: APPS,
        clusters: CLUSTERS,
        cells: total,
        firstRenderMs: Math.round(firstRenderMs),
        firstRenderRunsMs: renders.map(Math.round),
        coldRenderMs: Math.round(coldRenderMs),
        cellUpdateMs: Math.round(cellUpdateMs),
        cellUpdateMaxMs: Math.round(cellUpdateMaxMs),
        fleetBytes,
        fleetMs: Math.round(fleetMs),
        targets: { firstRenderMs: TARGET_FIRST_RENDER_MS, cellUpdateMs: TARGET_CELL_UPDATE_MS },
        pass: okRender && okCell,
      }),
    );
    if (!okRender || !okCell) process.exitCode = 1;
  } finally {
    sims.stop();
    await browser.close();
    await db?.end();
    if (hub) await stopHub(hub.child);
    await pgServer?.stop();
    await repo?.remove();
    await removeWorkDir(work);
  }
}

runBench('ui-matrix', main);
