import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Registration } from '../support/hub-harness.js';
import type { TestCluster } from '../support/kube-cluster.js';

/** The agent as it runs in production: `node dist/apps/agent/src/main.js` (built by `npm test`). */
const MAIN = resolve('dist/apps/agent/src/main.js');

export interface AgentProcess {
  readonly cluster: string;
  /**
   * Starts it (again): the same state directory, so the same identity and desired state. Given
   * `hubAddress` (several, comma-separated: replicas), it dials that from now on.
   */
  start(hubAddress?: string): void;
  /** SIGKILL, no goodbye. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: frozen, its connections open but silent. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
  log(): string;
}

/** A real agent process enrolled with mTLS from its cluster's registration kit. */
export function agentProcess(opts: {
  hubAddress: string;
  registration: Registration;
  cluster: TestCluster;
  stateDir: string;
}): AgentProcess {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\``);
  const reg = opts.registration;
  if (!reg.bootstrapToken || !reg.caCertificate || !reg.enrollAddress)
    throw new Error('the chaos suite runs mTLS agents: the registration has no enrolment kit');
  let child: ChildProcess | undefined;
  let address = opts.hubAddress;
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString('utf8')).slice(-100_000);
  };
  const exited = () =>
    new Promise<void>((r) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) r();
      else child.once('exit', () => r());
    });
  const signal = async (s: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill(s);
    const t = setTimeout(() => child?.kill('SIGKILL'), 15_000);
    await exited();
    clearTimeout(t);
  };
  return {
    cluster: opts.cluster.name,
    start(hubAddress) {
      if (hubAddress) address = hubAddress;
      child = spawn(process.execPath, [MAIN], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          AXLE_HUB_ADDRESS: address,
          AXLE_HUB_ENROLL_ADDRESS: reg.enrollAddress,
          AXLE_BOOTSTRAP_TOKEN: reg.bootstrapToken,
          AXLE_HUB_CA: reg.caCertificate,
          AXLE_CLUSTER: opts.cluster.name,
          AXLE_AGENT_STATE_DIR: opts.stateDir,
          KUBECONFIG: opts.cluster.kubeconfigPath,
          AXLE_AGENT_RESYNC_SECONDS: '3600',
          AXLE_AGENT_BACKOFF_BASE_MS: '200',
          AXLE_AGENT_BACKOFF_CAP_MS: '2000',
          AXLE_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
    },
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    log: () => out,
  };
}
