/**
 * Benchmark: the agent applying a 500-resource app versus `kubectl apply --server-side` of the same
 * manifests, on the same (real, local) kube-apiserver, each into its own fresh namespace.
 *
 * The agent is measured from the Deploy message to its status reporting the operation Succeeded
 * and every resource Synced (it applies, then reads everything back for status). kubectl is
 * measured as a process run. Both are warmed up first (discovery caches). A second round applies
 * the same manifests again (nothing changes) on both sides.
 *
 * Target: agent time / kubectl time ≤ 1.0 for the first apply. Prints PASS/MISS per target, then
 * one JSON line; exits 0 unless the benchmark itself cannot run. Without kubectl on PATH (or at
 * /usr/bin/kubectl) it says so and reports the agent's figures alone.
 *
 *   npm run bench:apply
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { Agent } from '../apps/agent/src/agent.js';
import { compressBundle, makeBundle, type KubeObject } from '../libs/manifests/src/index.js';
import { SyncStatus } from '../libs/proto/gen/axle/agent/v1/agent.js';
import { startTestClusters } from '../test/support/kube-cluster.js';

const RESOURCES = 500;
const TARGET_RATIO = 1.0;
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
        syncPolicy: { automated: true, prune: true, selfHeal: false },
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
    let kubectlFirst: number | undefined;
    let kubectlAgain: number | undefined;
    let kubectlNoValidate: number | undefined;
    if (kubectl) {
      for (const ns of ['warm-kubectl', 'bench-kubectl', 'bench-kubectl-nv']) {
        await run(kubectl, ['create', 'namespace', ns], env);
      }
      const warm = await write(join(work, 'warm.yaml'), 'warm-kubectl', objects.slice(0, 5));
      await run(kubectl, ['apply', '--server-side', '--field-manager=bench', '-f', warm], env);
      const file = await write(join(work, 'bench.yaml'), 'bench-kubectl', objects);
      const args = ['apply', '--server-side', '--field-manager=bench', '-f', file];
      kubectlFirst = await run(kubectl, args, env);
      kubectlAgain = await run(kubectl, args, env);
      // kubectl spends most of its time validating against the OpenAPI schema on the client;
      // without that it is much faster, so that figure is printed too.
      const nv = await write(join(work, 'bench-nv.yaml'), 'bench-kubectl-nv', objects);
      kubectlNoValidate = await run(
        kubectl,
        ['apply', '--server-side', '--field-manager=bench', '--validate=false', '-f', nv],
        env,
      );
    } else {
      log('kubectl not found (PATH, /usr/bin): reporting the agent alone');
    }
    const appId = randomUUID();
    const agentFirst = await agentApply(agent, 'bench-agent', objects, 1, appId);
    // The same manifests again as a new generation (what a re-sync costs).
    const agentAgain = await agentApply(agent, 'bench-agent', objects, 2, appId);

    const ms = (v: number | undefined) => (v === undefined ? 'n/a' : `${Math.round(v)} ms`);
    log(
      `${RESOURCES} resources, first apply: agent ${ms(agentFirst)}, kubectl --server-side ${ms(kubectlFirst)}`,
    );
    log(
      `same manifests again:             agent ${ms(agentAgain)}, kubectl --server-side ${ms(kubectlAgain)}`,
    );
    const ratio = kubectlFirst ? agentFirst / kubectlFirst : undefined;
    const ratioAgain = kubectlAgain ? agentAgain / kubectlAgain : undefined;
    if (ratio !== undefined) {
      log(
        `${verdict(ratio <= TARGET_RATIO)} agent/kubectl ratio (first apply) ${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO})`,
      );
      log(`      agent/kubectl ratio (again) ${ratioAgain!.toFixed(2)}`);
      log(
        `      agent/kubectl --validate=false ratio ${(agentFirst / kubectlNoValidate!).toFixed(2)}`,
      );
    }
    process.stdout.write(
      `${JSON.stringify({
        bench: 'agent-apply',
        resources: RESOURCES,
        agentFirstMs: Math.round(agentFirst),
        agentAgainMs: Math.round(agentAgain),
        kubectlFirstMs: kubectlFirst === undefined ? null : Math.round(kubectlFirst),
        kubectlAgainMs: kubectlAgain === undefined ? null : Math.round(kubectlAgain),
        kubectlNoValidateMs: kubectlNoValidate === undefined ? null : Math.round(kubectlNoValidate),
        ratio: ratio === undefined ? null : Number(ratio.toFixed(3)),
        ratioAgain: ratioAgain === undefined ? null : Number(ratioAgain.toFixed(3)),
        target: TARGET_RATIO,
      })}\n`,
    );
  } finally {
    await agent.stop();
    await envs.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`agent-apply: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
