import pg from 'pg';
import { inject } from 'vitest';
import { Agent } from '../../apps/agent/src/agent.js';
import type { AgentConfig } from '../../apps/agent/src/agent-config.js';
import { loadHubConfig } from '../../apps/hub/src/config/hub-config.js';
import { createDataSource, migrateWithLock } from '../../apps/hub/src/database/data-source.js';
import { startHub, type RunningHub } from '../../apps/hub/src/hub.js';
import type { DataSource } from 'typeorm';
import type { TestCluster } from './kube-cluster.js';

export { tempDir } from './temp-dir.js';
import { tempDir as tempDirOf } from './temp-dir.js';
export { waitFor } from './wait.js';
import { renderToolPath } from './chart-repo.js';
import { waitFor } from './wait.js';

/** The admin API token every test hub is started with. */
export const TEST_ADMIN_TOKEN = 'axle_api_test-admin-token-0123456789';

/**
 * The key for secrets at rest of every test hub: replicas of one test share the CA sealed in
 * their database, as replicas of one deployment must (docs/deploy.md).
 */
export const TEST_SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

/** The hub env of the suites that exercise bearer-token agents (mTLS is the default). */
export const TOKEN_AUTH = { AXLE_AGENT_AUTH: 'token' };

/**
 * What `POST /api/v1/clusters` answered: with mTLS (the default) a one-time bootstrap token, the
 * hub CA and the enrolment address; with AXLE_AGENT_AUTH=token a bearer token.
 */
export interface Registration {
  agentToken?: string;
  bootstrapToken?: string;
  caCertificate?: string;
  enrollAddress?: string;
}

/** A fresh database on the shared embedded PostgreSQL; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const admin = inject('pgAdminUrl');
  const name = `axle_${Math.random().toString(36).slice(2, 10)}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return admin.replace(/\/postgres$/, `/${name}`);
}

/** A fresh, migrated database, for e2e of repositories without a hub; destroy it after. */
export async function migratedDataSource(): Promise<DataSource> {
  const ds = createDataSource(await createTestDatabase());
  await ds.initialize();
  await migrateWithLock(ds);
  return ds;
}

export async function startTestHub(opts: {
  databaseUrl: string;
  dataDir: string;
  grpcPort?: number;
  env?: Record<string, string>;
}): Promise<RunningHub> {
  const config = loadHubConfig({
    DATABASE_URL: opts.databaseUrl,
    AXLE_DATA_DIR: opts.dataDir,
    AXLE_HTTP_PORT: '0',
    AXLE_GRPC_PORT: String(opts.grpcPort ?? 0),
    AXLE_GIT_POLL_SECONDS: '3600',
    AXLE_RESYNC_SECONDS: '3600',
    AXLE_LOG_LEVEL: process.env.AXLE_TEST_LOG_LEVEL ?? 'warn',
    AXLE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    AXLE_SECRET_KEY: TEST_SECRET_KEY,
    // mTLS, the default: agents enrol with a bootstrap token (suites for token mode say so).
    AXLE_AGENT_AUTH: 'mtls',
    AXLE_GRPC_ENROLL_PORT: '0',
    // The real tools, as built by scripts/test-toolchain.sh (or found on PATH).
    AXLE_HELM_PATH: renderToolPath('helm'),
    AXLE_KUSTOMIZE_PATH: renderToolPath('kustomize'),
    ...opts.env,
  });
  return startHub(config);
}

/**
 * An agent's credentials from its cluster's registration: the mTLS enrolment kit when the hub
 * answered one, else the bearer token (`token` when given, else the registration's).
 */
export function agentCredentials(
  reg: Registration | undefined,
  token?: string,
): Pick<AgentConfig, 'token' | 'mtls'> {
  if (reg?.bootstrapToken && reg.caCertificate && reg.enrollAddress) {
    return {
      mtls: {
        bootstrapToken: reg.bootstrapToken,
        caPem: reg.caCertificate,
        enrollAddress: reg.enrollAddress,
        renewCheckSeconds: 1,
      },
    };
  }
  return { token: token ?? reg?.agentToken };
}

export function startTestAgent(opts: {
  hub: RunningHub | string;
  /** How the cluster was registered: enrols with mTLS, or uses the bearer token it carries. */
  registration?: Registration;
  token?: string;
  cluster: TestCluster;
  stateDir: string;
  resyncSeconds?: number;
  /** Cluster name as registered on the hub, when it differs from the test cluster's. */
  name?: string;
  /** The cluster's own allow-list (default: everything). */
  allowList?: AgentConfig['allowList'];
}): Agent {
  const config: AgentConfig = {
    hubAddress: typeof opts.hub === 'string' ? opts.hub : opts.hub.grpcAddress,
    ...agentCredentials(opts.registration, opts.token),
    allowList: opts.allowList,
    cluster: opts.name ?? opts.cluster.name,
    stateDir: opts.stateDir,
    kubeconfig: opts.cluster.kubeconfigPath,
    fieldManager: 'axle',
    resyncSeconds: opts.resyncSeconds ?? 3600,
    backoff: { baseMs: 100, capMs: 1000 },
    logLevel: 'warn',
  };
  const agent = new Agent(config);
  agent.start();
  return agent;
}

/**
 * Registers a cluster on the hub and starts its agent against `cluster` (the registered name
 * defaults to the test cluster's), in a state directory removed by `cleanup`.
 */
export async function registerAndStartAgent(
  hub: RunningHub,
  opts: {
    cluster: TestCluster;
    name?: string;
    labels?: Record<string, string>;
    cleanup: (() => Promise<void>)[];
  },
): Promise<Agent> {
  const name = opts.name ?? opts.cluster.name;
  const res = await api(hub).post('/api/v1/clusters', { name, labels: opts.labels ?? {} });
  if (res.status !== 201)
    throw new Error(`registering ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  const state = await tempDirOf(`axle-agent-${name}-`);
  opts.cleanup.push(state.remove);
  return startTestAgent({
    hub,
    registration: res.body as Registration,
    cluster: opts.cluster,
    name,
    stateDir: state.path,
  });
}

/** Minimal JSON client for the hub's REST API. */
export function api(hub: RunningHub | string, token: string | null = TEST_ADMIN_TOKEN) {
  const base = typeof hub === 'string' ? hub : hub.httpUrl;
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    raw?: string,
    type = 'application/json',
  ) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body !== undefined || raw !== undefined ? { 'content-type': type } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: raw ?? (body !== undefined ? JSON.stringify(body) : undefined),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    get: (p: string) => call('GET', p),
    post: (p: string, b?: unknown) => call('POST', p, b),
    postRaw: (p: string, raw: string, type?: string) => call('POST', p, undefined, raw, type),
    put: (p: string, b?: unknown) => call('PUT', p, b),
    delete: (p: string) => call('DELETE', p),
  };
}

/**
 * Waits until the rollout at `path` (`/api/v1/applicationsets/NAME/rollout` or
 * `/api/v1/applications/NAME/rollout`) has `status`; returns its view.
 */
export function waitForRollout(
  hub: RunningHub,
  path: string,
  status: string,
  timeoutMs = 30_000,
): Promise<{ status: string; message: string; steps: unknown[] }> {
  return waitFor(
    `rollout ${status}`,
    async () => {
      const r = (await api(hub).get(path)).body as { status: string; message: string; steps: [] };
      return r.status === status ? r : false;
    },
    { timeoutMs },
  );
}
