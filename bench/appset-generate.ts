/**
 * Benchmark: a cluster generator over 10,000 clusters matrixed with 10 git directories =
 * 100,000 Applications (goTemplate), generated from a real git repository read through GitCache
 * and CachedTreeReader over file://.
 *
 * Targets (2-core machine): first generation < 5 s, peak RSS < 1 GiB, re-evaluation with nothing
 * changed < 1 s (in memory, `libReevaluationMs`). Then the real path through the hub
 * (bench/appset-hub.ts): the same ApplicationSet created through the REST API on PostgreSQL until
 * all 100,000 applications and their targets are stored (`hubCreateToStoredMs` < 60 s), a full
 * no-op re-evaluation in the hub (`reevaluationMs` < 1 s), and a label change on one cluster
 * updating exactly its 10 applications. AXLE_BENCH_APPSET_HUB=0 skips the hub path.
 *
 * Prints its figures (PASS/MISS per target, then one JSON line); exits 1 when a target is missed
 * or a result is wrong.
 *
 *   npm run bench:appset
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { simpleGit } from 'simple-git';
import {
  evaluationFingerprint,
  generateApplications,
  nameIndex,
  parseApplicationSet,
  planChanges,
  planOptionsFor,
  RenderMemo,
  SpecHashMemo,
  type GenerateApplicationsResult,
} from '../libs/appset/src/index.js';
import type { ClusterInfo, GitTreeReader } from '../libs/generators/src/index.js';
import { CachedTreeReader, GIT_OPTIONS, GitCache, gitEnv } from '../libs/git/src/index.js';
import {
  runHubPath,
  TARGET_CREATE_TO_STORED_MS,
  TARGET_REEVALUATION_MS as TARGET_HUB_REEVALUATION_MS,
  type HubPathResult,
} from './appset-hub.js';
import { runBench, removeWorkDir } from './support.js';

const CLUSTERS = 10_000;
const DIRECTORIES = 10;
const EXPECTED = CLUSTERS * DIRECTORIES;
const TARGET_FIRST_MS = 5_000;
const TARGET_RSS_MIB = 1_024;
const TARGET_REEVAL_MS = 1_000;
/** Most Applications rendered again after a cluster is added mid-inventory (all: 50,000). */
const RENDERED_AFTER_ADD = 100;

const ENVS = ['dev', 'staging', 'prod'];
const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south'];

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const log = (s: string) => process.stdout.write(`appset-generate: ${s}\n`);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const mib = (kib: number) => Math.round(kib / 1024);

async function createRepo(dir: string): Promise<void> {
  const git = simpleGit({ ...GIT_OPTIONS, baseDir: dir }).env(gitEnv());
  await git.init(['--initial-branch=main']);
  await git.addConfig('user.name', 'Axle Bench');
  await git.addConfig('user.email', 'bench@axle.local');
  await git.addConfig('commit.gpgsign', 'false');
  for (let i = 0; i < DIRECTORIES; i++) {
    const app = `app-${String(i).padStart(2, '0')}`;
    await mkdir(join(dir, 'apps', app), { recursive: true });
    await writeFile(
      join(dir, 'apps', app, 'manifest.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${app}\ndata:\n  app: ${app}\n`,
    );
  }
  await writeFile(join(dir, 'README.md'), '# bench fleet\n');
  await git.raw(['add', '-A']);
  await git.commit('apps');
}

function makeClusters(): ClusterInfo[] {
  const out: ClusterInfo[] = [];
  for (let i = 0; i < CLUSTERS; i++) {
    const name = `cluster-${String(i).padStart(5, '0')}`;
    out.push({
      name,
      server: `https://${name}.fleet.example.com:6443`,
      labels: {
        fleet: 'bench',
        env: ENVS[i % ENVS.length],
        region: REGIONS[i % REGIONS.length],
        tier: i % 2 === 0 ? 'a' : 'b',
      },
      annotations: { 'fleet.example.com/owner': `team-${i % 50}` },
    });
  }
  return out;
}

function appsetYaml(repoURL: string): string {
  return `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: fleet
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - matrix:
        generators:
          - clusters:
              selector:
                matchLabels:
                  fleet: bench
          - git:
              repoURL: ${repoURL}
              revision: HEAD
              directories:
                - path: apps/*
  template:
    metadata:
      name: '{{.name}}-{{.path.basename}}'
      labels:
        app: '{{.path.basename}}'
        env: '{{.metadata.labels.env}}'
        region: '{{.metadata.labels.region}}'
      annotations:
        fleet.example.com/owner: '{{index .metadata.annotations "fleet.example.com/owner"}}'
    spec:
      project: default
      source:
        repoURL: ${repoURL}
        targetRevision: HEAD
        path: '{{.path.path}}'
      destination:
        server: '{{.server}}'
        namespace: '{{.path.basename}}-{{.metadata.labels.env}}'
      syncPolicy:
        automated:
          prune: true
          selfHeal: true
        syncOptions:
          - CreateNamespace=true
`;
}

async function generate(
  text: string,
  clusters: ClusterInfo[],
  git: GitTreeReader,
  renders?: RenderMemo,
): Promise<GenerateApplicationsResult & { policy: 'sync' }> {
  const parsed = parseApplicationSet(text);
  if (!parsed.appset)
    throw new Error(`ApplicationSet does not parse: ${JSON.stringify(parsed.errors)}`);
  const result = await generateApplications(parsed.appset, { clusters, git, renders });
  if (result.errors.length > 0)
    throw new Error(`generation failed: ${JSON.stringify(result.errors.slice(0, 3))}`);
  return { ...result, policy: 'sync' };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'axle-bench-appset-'));
  try {
    const repoDir = join(work, 'repo');
    const cacheDir = join(work, 'git-cache');
    await mkdir(repoDir);
    await mkdir(cacheDir);
    await createRepo(repoDir);
    const repoURL = `file://${repoDir}`;
    const gitCache = new GitCache(cacheDir, 60_000);
    const git = new CachedTreeReader(gitCache);
    const clusters = makeClusters();
    const text = appsetYaml(repoURL);
    log(
      `${CLUSTERS} clusters × ${DIRECTORIES} git directories, goTemplate, node ${process.version}`,
    );

    // (1) First generation: parse + generateApplications (includes the first git fetch).
    // What the hub remembers of an ApplicationSet's last evaluation: the applications by what
    // they were rendered from, and their spec hashes.
    const renders = new RenderMemo();
    gc();
    let t = performance.now();
    const first = await generate(text, clusters, git, renders);
    const firstMs = performance.now() - t;
    const count = first.applications.length;
    if (count !== EXPECTED) throw new Error(`expected ${EXPECTED} applications, got ${count}`);
    log(
      `${count} applications in ${Math.round(firstMs)} ms (target < ${TARGET_FIRST_MS} ms) ${verdict(firstMs < TARGET_FIRST_MS)}`,
    );

    // (2) Peak RSS over the process's life so far.
    const rssAfterFirst = mib(process.resourceUsage().maxRSS);
    log(
      `peak RSS ${rssAfterFirst} MiB after generation (target < ${TARGET_RSS_MIB} MiB) ${verdict(rssAfterFirst < TARGET_RSS_MIB)}`,
    );

    // The state a controller would have stored after applying the first run. The hashes are
    // remembered by what each application was made from, as the hub does across evaluations.
    const memo = new SpecHashMemo();
    const hashOf = (a: Parameters<SpecHashMemo['hash']>[0]) => memo.hash(a);
    memo.round();
    t = performance.now();
    const current = first.applications.map((a) => ({
      name: a.metadata.name,
      specHash: memo.hash(a),
    }));
    const hashMs = performance.now() - t;
    // Kept with the list of what is stored, as the hub keeps it while that list is unchanged.
    const index = nameIndex(current);
    first.applications.length = 0;
    gc();

    // (3) Re-evaluation with nothing changed: generate again and plan against the stored hashes.
    memo.round();
    t = performance.now();
    const again = await generate(text, clusters, git, renders);
    const reGenMs = performance.now() - t;
    const plan = planChanges(current, again.applications, again.policy, {
      ...planOptionsFor(again),
      hashOf,
      index,
    });
    const reevalMs = performance.now() - t;
    const planMs = reevalMs - reGenMs;
    const noop = plan.create.length + plan.update.length + plan.delete.length === 0;
    log(
      `full re-generation, nothing changed: ${plan.create.length} create / ${plan.update.length} update / ${plan.delete.length} delete in ${Math.round(reevalMs)} ms (generate ${Math.round(reGenMs)} ms + plan ${Math.round(planMs)} ms; target < ${TARGET_REEVAL_MS} ms) ${verdict(noop && reevalMs < TARGET_REEVAL_MS)}`,
    );
    if (!noop) throw new Error('re-evaluation with nothing changed planned changes');
    again.applications.length = 0;
    gc();

    // (3b) What the hub does on a re-evaluation: fingerprint the inputs (document, inventory,
    // refs of the repositories read) and skip generation when they equal the last evaluation's.
    const inputs = async (cs: ClusterInfo[]) =>
      evaluationFingerprint({
        document: text,
        clusters: cs,
        repositories: { [repoURL]: await gitCache.refs(repoURL) },
      });
    const stored = await inputs(clusters);
    t = performance.now();
    const skipped = (await inputs(clusters)) === stored;
    const fingerprintMs = performance.now() - t;
    log(
      `hub re-evaluation, nothing changed: inputs fingerprinted in ${fingerprintMs.toFixed(1)} ms, generation ${skipped ? 'skipped' : 'NOT skipped'} (target < ${TARGET_REEVAL_MS} ms) ${verdict(skipped && fingerprintMs < TARGET_REEVAL_MS)}`,
    );

    // (4) One cluster's label changes: its 10 Applications (one per directory) are updated.
    const k = 4242;
    const changed = clusters.slice();
    const old = changed[k];
    changed[k] = {
      ...old,
      labels: { ...old.labels, env: old.labels.env === 'prod' ? 'staging' : 'prod' },
    };
    memo.round();
    t = performance.now();
    const third = await generate(text, changed, git, renders);
    const plan2 = planChanges(current, third.applications, third.policy, {
      ...planOptionsFor(third),
      hashOf,
      index,
    });
    const changeMs = performance.now() - t;
    const ok2 =
      plan2.update.length === DIRECTORIES &&
      plan2.create.length === 0 &&
      plan2.delete.length === 0 &&
      plan2.update.every((n) => n.startsWith(`${old.name}-`));
    log(
      `one cluster label changed: ${plan2.create.length} create / ${plan2.update.length} update / ${plan2.delete.length} delete (expected ${DIRECTORIES} updates) in ${Math.round(changeMs)} ms ${verdict(ok2)}`,
    );
    if (!ok2) throw new Error(`expected ${DIRECTORIES} updates: ${JSON.stringify(plan2.update)}`);

    // (5) A cluster added in the middle of the inventory: its 10 Applications are created, the
    // others are found again in the memo past it (against the state after (4)): the memo pairs
    // parameter sets by position, and relocates after a few dozen misses in a row.
    const added = changed.slice();
    added.splice(CLUSTERS / 2, 0, {
      ...old,
      name: 'cluster-04999a',
      server: 'https://cluster-04999a.fleet.example.com:6443',
    });
    const stored2 = third.applications.map((a) => ({
      name: a.metadata.name,
      specHash: memo.hash(a),
    }));
    third.applications.length = 0;
    gc();
    memo.round();
    t = performance.now();
    const fourth = await generate(text, added, git, renders);
    const plan3 = planChanges(stored2, fourth.applications, fourth.policy, {
      ...planOptionsFor(fourth),
      hashOf,
    });
    const addMs = performance.now() - t;
    const rendered = fourth.applications.length - renders.hits;
    const ok3 =
      plan3.create.length === DIRECTORIES &&
      plan3.update.length === 0 &&
      plan3.delete.length === 0 &&
      rendered < RENDERED_AFTER_ADD;
    log(
      `one cluster added mid-inventory: ${plan3.create.length} create / ${plan3.update.length} update / ${plan3.delete.length} delete, ${rendered} rendered (expected its ${DIRECTORIES} creates, fewer than ${RENDERED_AFTER_ADD} rendered) in ${Math.round(addMs)} ms ${verdict(ok3)}`,
    );
    if (!ok3)
      throw new Error(`expected ${DIRECTORIES} creates, fewer than ${RENDERED_AFTER_ADD} rendered`);
    if (memo.mismatches > 0) throw new Error('the spec hash memo disagreed with the hash itself');

    const rssPeak = mib(process.resourceUsage().maxRSS);
    log(`peak RSS ${rssPeak} MiB at the end`);

    gitCache.close();

    // The real path: the same ApplicationSet through the hub, on PostgreSQL.
    let hub: HubPathResult | undefined;
    if (process.env.AXLE_BENCH_APPSET_HUB !== '0') hub = await runHubPath(log);
    const pass = {
      firstGeneration: firstMs < TARGET_FIRST_MS,
      peakRss: rssPeak < TARGET_RSS_MIB,
      fullRegeneration: noop && reevalMs < TARGET_REEVAL_MS,
      fingerprintSkip: skipped && fingerprintMs < TARGET_REEVAL_MS,
      labelChange: ok2,
      clusterAdded: ok3,
      ...(hub
        ? {
            hubCreate: hub.pass.hubCreate,
            hubReevaluation: hub.pass.reevaluation,
            hubLabelChange: hub.pass.labelChange,
          }
        : {}),
    };
    process.stdout.write(
      JSON.stringify({
        bench: 'appset-generate',
        node: process.version,
        clusters: CLUSTERS,
        directories: DIRECTORIES,
        applications: count,
        firstGenerationMs: Math.round(firstMs),
        targetFirstGenerationMs: TARGET_FIRST_MS,
        peakRssMiBAfterFirst: rssAfterFirst,
        peakRssMiB: rssPeak,
        targetPeakRssMiB: TARGET_RSS_MIB,
        storedHashesMs: Math.round(hashMs),
        libReevaluationMs: Math.round(reevalMs),
        libReevaluationGenerateMs: Math.round(reGenMs),
        libReevaluationPlanMs: Math.round(planMs),
        fingerprintSkipMs: Number(fingerprintMs.toFixed(1)),
        fingerprintSkipped: skipped,
        libLabelChangeMs: Math.round(changeMs),
        libClusterAddedMs: Math.round(addMs),
        libLabelChangeUpdates: plan2.update.length,
        hubCreateToStoredMs: hub?.hubCreateToStoredMs ?? null,
        targetHubCreateToStoredMs: TARGET_CREATE_TO_STORED_MS,
        hubAppsStoredMs: hub?.hubAppsStoredMs ?? null,
        reevaluationMs: hub?.reevaluationMs ?? null,
        targetReevaluationMs: TARGET_HUB_REEVALUATION_MS,
        refreshToEvaluatedMs: hub?.refreshToEvaluatedMs ?? null,
        reevaluationChanges: hub?.reevaluationChanges ?? null,
        labelChangeUpdates: hub?.labelChangeUpdates ?? null,
        labelChangeToStoredMs: hub?.labelChangeToStoredMs ?? null,
        clustersRegisteredMs: hub?.clustersRegisteredMs ?? null,
        hubRssBytes: hub?.hubRssBytes ?? null,
        pass,
      }) + '\n',
    );
    if (!Object.values(pass).every(Boolean)) process.exitCode = 1;
  } finally {
    await removeWorkDir(work);
  }
}

runBench('appset-generate', main);
