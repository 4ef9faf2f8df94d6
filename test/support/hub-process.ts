import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderToolPath } from './chart-repo.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY } from './hub-harness.js';
import { HUB_NODE_ARGS } from './hub-node-args.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** The hub as it runs in production: `node <HUB_NODE_ARGS> dist/apps/hub/src/main.js` (built by `npm test`). */
const MAIN = resolve('dist/apps/hub/src/main.js');

export interface HubProcess {
  child: ChildProcess;
  httpUrl: string;
  grpcAddress: string;
  /** Its replica id's prefix (`<host>-<pid>-`): how its leases and history rows are told apart. */
  pid: number;
  /** SIGKILL, no goodbye: what a crash looks like to the others. */
  kill(): Promise<void>;
  /** SIGTERM: a graceful stop. */
  stop(): Promise<void>;
  log(): string;
}

/**
 * Starts a hub in a process of its own (so that a test can kill it), on a test database, with
 * the test admin token and the real rendering tools.
 */
export async function startHubProcess(opts: {
  databaseUrl: string;
  dataDir: string;
  env?: Record<string, string>;
  /** Fixed ports (a hub restarted where its agents and clients expect it); free ones else. */
  ports?: { http: number; grpc: number };
}): Promise<HubProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\``);
  const { http, grpc } = opts.ports ?? { http: await freePort(), grpc: await freePort() };
  const child = spawn(process.execPath, [...HUB_NODE_ARGS, MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: opts.databaseUrl,
      AXLE_DATA_DIR: opts.dataDir,
      AXLE_HTTP_PORT: String(http),
      AXLE_GRPC_PORT: String(grpc),
      AXLE_GRPC_ENROLL_PORT: '0',
      AXLE_GIT_POLL_SECONDS: '3600',
      AXLE_RESYNC_SECONDS: '3600',
      AXLE_LOG_LEVEL: 'log',
      AXLE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      AXLE_SECRET_KEY: TEST_SECRET_KEY,
      AXLE_AGENT_AUTH: 'mtls',
      AXLE_HELM_PATH: renderToolPath('helm') ?? '',
      AXLE_KUSTOMIZE_PATH: renderToolPath('kustomize') ?? '',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString('utf8')).slice(-200_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const httpUrl = `http://127.0.0.1:${http}`;
  try {
    await waitFor(
      'the hub process to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}: ${out}`);
        const res = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        return res.status === 200;
      },
      { timeoutMs: 60_000 },
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };
  return {
    child,
    httpUrl,
    grpcAddress: `127.0.0.1:${grpc}`,
    pid: child.pid!,
    kill: () => stopWith('SIGKILL'),
    stop: () => stopWith('SIGTERM'),
    log: () => out,
  };
}
