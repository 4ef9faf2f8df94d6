/**
 * Benchmark: the agent applying a 500-resource app versus `kubectl apply --server-side` of the same
 * manifests, on the same (real, local) kube-apiserver, each into its own fresh namespace.
 *
 * The agent is measured from the Deploy message to its status reporting the operation Succeeded
 * and every resource Synced (it applies, then reads everything back for status). kubectl is
 * measured as a process run. Both are warmed up first (discovery caches).
 *
 * Like for like: kubectl --validate=false (no client-side schema download; the API server ignores
 * unknown fields) against an app with Argo CD's `Validate=false`. Target: agent / kubectl ≤ 0.5 for
 * the first apply into a fresh namespace (`ratio`; the medians of 3 rounds each, alternating). Then the same manifests again as a new generation (`ratioAgain`: the
 * agent leaves objects whose content did not change and that still match alone), and, for the
 * record, both with their default validation (the agent: the API server refuses unknown fields;
 * kubectl: that plus its client-side schema validation). Prints PASS/MISS, then one JSON line;
 * exits 1 when the target is missed (or kubectl is missing: nothing to compare with).
 *
 *   npm run bench:apply
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { Agent } from '../apps/agent/src/agent.js';
import { compressBundle, makeBundle, type KubeObject } from '../libs/manifests/src/index.js';
import { SyncStatus } from '../libs/proto/gen/axle/agent/v1/agent.js';
import { startTestClusters } from '../test/support/kube-cluster.js';
import { cpuBetween, processCpu, runBench, removeWorkDir } from './support.js';

const RESOURCES = 500;
const TARGET_RATIO = 0.5;
const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const log = (s: string) => process.stdout.write(`agent-apply: ${s}\n`);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** 500 objects of the kinds apps are made of (no controllers needed for them to be healthy). */
function manifests(count: number): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < count; i++) {
    const name = `obj-${String(i).padStart(4, '0')}`;
    switch (i % 5) {
      case 0:
      case 1:
        out.push({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, labels: { app: 'bench', tier: `t${i % 7}` } },
          data: {
            index: String(i),
            payload: 'x'.repeat(200),
            'settings.yaml': 'a: 1\nb: [1, 2, 3]\n',
          },
        });
        break;
      case 2:
        out.push({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, labels: { app: 'bench' } },
          type: 'Opaque',
          stringData: { password: `secret-${i}` },
        });
        break;
      case 3:
        out.push({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name, labels: { app: 'bench' } },
          // Headless: the test cluster's service range (a /24) cannot hold 300 ClusterIPs.
          spec: {
            clusterIP: 'None',
            selector: { app: name },
            ports: [
              { name: 'http', port: 80, targetPort: 8080 },
              { name: 'metrics', port: 9090 },
            ],
          },
        });
        break;
      default:
        out.push({
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name, labels: { app: 'bench' }, annotations: { 'bench/index': String(i) } },
        });
    }
  }
  return out;
}

function findKubectl(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    const p = join(dir, 'kubectl');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(performance.now() - t0);
    });
  });
}

async function agentApply(
  agent: Agent,
  namespace: string,
  objects: KubeObject[],
  generation: number,
  appId: string,
  syncOptions: string[] = [],
) {
  const bundle = makeBundle(objects);
  const t0 = performance.now();
  await agent.deliver({
    msg: {
      $case: 'deploy',
      value: {
        appId,
        appName: namespace,
        generation,
        revision: `bench-${generation}`,
        bundleHash: bundle.hash,
        bundleGzip: compressBundle(bundle.json),
        namespace,
        syncPolicy: {
          automated: true,
          prune: true,
          selfHeal: false,
          syncOptions: { items: syncOptions },
        },
      },
    },
  });
  for (;;) {
    await agent.idle();
    const s = agent.status(appId);
    if (s?.generation === generation && s.operation?.phase === 'Succeeded') {
      if (s.sync !== SyncStatus.SYNC_STATUS_SYNCED || s.resources.length !== objects.length) {
        throw new Error(
          `agent reported ${s.sync} with ${s.resources.length} resources: ${s.message}`,
        );
      }
      return performance.now() - t0;
    }
    if (s?.operation?.phase === 'Failed')
      throw new Error(`agent sync failed: ${s.operation.message}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main(): Promise<void> {
  const kubectl = findKubectl();
  const work = await mkdtemp(join(tmpdir(), 'axle-bench-apply-'));
  const envs = await startTestClusters({ count: 1, names: ['bench'] });
  const cluster = envs.clusters[0];
  const agent = new Agent({
    hubAddress: '127.0.0.1:1', // no hub: the agent runs on its own, driven with deliver()
    token: 'axle_agent_bench-no-hub',
    cluster: 'bench',
    stateDir: join(work, 'agent'),
    kubeconfig: cluster.kubeconfigPath,
    fieldManager: 'axle',
    resyncSeconds: 3600,
    backoff: { baseMs: 60_000, capMs: 60_000 },
    logLevel: 'error',
  });
  const { Logger } = await import('@nestjs/common');
  Logger.overrideLogger(['error']);
  agent.start();
  try {
    const objects = manifests(RESOURCES);
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HOME: work };
    const write = async (file: string, ns: string, objs: KubeObject[]) => {
      const docs = objs.map((o) => stringify({ ...o, metadata: { ...o.metadata, namespace: ns } }));
      await writeFile(file, docs.join('---\n'));
      return file;
    };
    // Warm-up: discovery on both sides, namespaces created up front for both.
    await agentApply(agent, 'warm-agent', objects.slice(0, 5), 1, randomUUID());
    if (!kubectl) throw new Error('kubectl not found (PATH, /usr/bin): nothing to compare with');
    const namespaces = ['warm-kubectl', 'bench-kubectl-v'];
    for (let r = 0; r < ROUNDS; r++) namespaces.push(`bench-kubectl-${r}`);
    for (const ns of namespaces) await run(kubectl, ['create', 'namespace', ns], env);
    const apply = ['apply', '--server-side', '--field-manager=bench'];
    const warm = await write(join(work, 'warm.yaml'), 'warm-kubectl', objects.slice(0, 5));
    await run(kubectl, [...apply, '--validate=false', '-f', warm], env);
    // First applies into fresh namespaces, ROUNDS times on each side, alternating; medians compared.
    const kubectlRuns: number[] = [];
    const agentRuns: number[] = [];
    const noValidate = ['Validate=false'];
    let kubectlCpu: Record<string, number> = {};
    let agentCpu: Record<string, number> = {};
    let file = '';
    let appId = '';
    for (let r = 0; r < ROUNDS; r++) {
      file = await write(join(work, `bench-${r}.yaml`), `bench-kubectl-${r}`, objects);
      let cpu = processCpu();
      kubectlRuns.push(await run(kubectl, [...apply, '--validate=false', '-f', file], env));
      kubectlCpu = cpuBetween(cpu, (cpu = processCpu()));
      appId = randomUUID();
      agentRuns.push(await agentApply(agent, `bench-agent-${r}`, objects, 1, appId, noValidate));
      agentCpu = cpuBetween(cpu, processCpu(), { [process.pid]: 'agent' });
    }
    const kubectlFirst = median(kubectlRuns);
    const agentFirst = median(agentRuns);
    const kubectlAgain = await run(kubectl, [...apply, '--validate=false', '-f', file], env);
    // kubectl's default: client-side validation against the OpenAPI schema, then Strict.
    const fileV = await write(join(work, 'bench-v.yaml'), 'bench-kubectl-v', objects);
    const kubectlValidating = await run(kubectl, [...apply, '-f', fileV], env);

    // The same manifests again as a new generation (what a commit that changes nothing costs).
    const agentAgain = await agentApply(
      agent,
      `bench-agent-${ROUNDS - 1}`,
      objects,
      2,
      appId,
      noValidate,
    );
    // The agent's default: the API server refuses unknown fields (Strict).
    const agentValidating = await agentApply(agent, 'bench-agent-v', objects, 1, randomUUID());

    const ms = (v: number) => `${Math.round(v)} ms`;
    const ratio = agentFirst / kubectlFirst;
    const ratioAgain = agentAgain / kubectlAgain;
    const ratioValidating = agentValidating / kubectlValidating;
    log(
      `${RESOURCES} resources, first apply, no validation (median of ${ROUNDS}): agent (Validate=false) ` +
        `${ms(agentFirst)} [${agentRuns.map(ms).join(', ')}], kubectl --server-side --validate=false ` +
        `${ms(kubectlFirst)} [${kubectlRuns.map(ms).join(', ')}]`,
    );
    log(
      `      CPU (ms), last round: kubectl's run ${JSON.stringify(kubectlCpu)}, the agent's ${JSON.stringify(agentCpu)}`,
    );
    log(
      `${verdict(ratio <= TARGET_RATIO)} agent/kubectl ratio (first apply) ${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO})`,
    );
    log(
      `      same manifests again: agent ${ms(agentAgain)}, kubectl ${ms(kubectlAgain)}: ratio ${ratioAgain.toFixed(2)}`,
    );
    log(
      `      default validation: agent (Strict) ${ms(agentValidating)}, kubectl ${ms(kubectlValidating)}: ratio ${ratioValidating.toFixed(2)}`,
    );
    process.stdout.write(
      `${JSON.stringify({
        bench: 'agent-apply',
        resources: RESOURCES,
        agentFirstMs: Math.round(agentFirst),
        agentAgainMs: Math.round(agentAgain),
        agentValidatingMs: Math.round(agentValidating),
        kubectlFirstMs: Math.round(kubectlFirst),
        agentRunsMs: agentRuns.map(Math.round),
        kubectlRunsMs: kubectlRuns.map(Math.round),
        kubectlAgainMs: Math.round(kubectlAgain),
        kubectlValidatingMs: Math.round(kubectlValidating),
        ratio: Number(ratio.toFixed(3)),
        ratioAgain: Number(ratioAgain.toFixed(3)),
        ratioValidating: Number(ratioValidating.toFixed(3)),
        target: TARGET_RATIO,
        pass: ratio <= TARGET_RATIO,
      })}\n`,
    );
    if (ratio > TARGET_RATIO) process.exitCode = 1;
  } finally {
    await agent.stop();
    await envs.stop();
    await removeWorkDir(work);
  }
}

runBench('agent-apply', main);
