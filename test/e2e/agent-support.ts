// Helpers shared by the agent end-to-end suites (test/e2e/agent-*.e2e.ts).
import { randomUUID } from 'node:crypto';
import { request, type RequestOptions } from 'node:https';
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { Agent } from '../../apps/agent/src/agent.js';
import type { AgentConfig } from '../../apps/agent/src/agent-config.js';
import { compressBundle, makeBundle, type KubeObject } from '../../libs/manifests/src/index.js';
import {
  HealthStatus,
  SyncStatus,
  type AppStatus,
  type HubMessage,
  type SyncPolicy,
} from '../../libs/proto/gen/axle/agent/v1/agent.js';
import { agentCredentials, waitFor, type Registration } from '../support/hub-harness.js';
import type { TestCluster } from '../support/kube-cluster.js';

/**
 * Starts an agent with test-friendly settings. Without `hub` it dials a closed port, so it runs
 * autonomously and is driven with `agent.deliver(...)` (the same path as a hub's messages).
 */
export function startAgent(opts: {
  cluster: TestCluster;
  stateDir: string;
  hub?: string;
  token?: string;
  /** How the cluster was registered at the hub: enrols with mTLS when it is a kit. */
  registration?: Registration;
  name?: string;
  config?: Partial<AgentConfig>;
}): Agent {
  const credentials = agentCredentials(opts.registration, opts.token);
  const agent = new Agent({
    hubAddress: opts.hub ?? '127.0.0.1:1',
    ...credentials,
    token: credentials.mtls ? undefined : (credentials.token ?? 'axle_agent_not-connected'),
    cluster: opts.name ?? opts.cluster.name,
    stateDir: opts.stateDir,
    kubeconfig: opts.cluster.kubeconfigPath,
    fieldManager: 'axle',
    resyncSeconds: 3600,
    backoff: { baseMs: 100, capMs: 1000 },
    logLevel: 'warn',
    selfHeal: { delayMs: 500, maxDelayMs: 30_000 },
    ...opts.config,
  });
  agent.start();
  return agent;
}

export const newAppId = (): string => randomUUID();

/** waitFor for a synchronous condition (an agent's in-memory status). */
export function eventually<T>(
  what: string,
  fn: () => T | undefined | null | false,
  opts?: { timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  return waitFor(what, () => Promise.resolve(fn()), opts);
}

/** A Deploy message carrying `objects` as the bundle. */
export function deploy(opts: {
  appId: string;
  appName?: string;
  generation: number;
  objects: KubeObject[];
  namespace: string;
  policy?: Partial<SyncPolicy>;
}): HubMessage {
  const bundle = makeBundle(opts.objects);
  return {
    msg: {
      $case: 'deploy',
      value: {
        appId: opts.appId,
        appName: opts.appName ?? 'test-app',
        generation: opts.generation,
        revision: `rev-${opts.generation}`,
        bundleHash: bundle.hash,
        bundleGzip: compressBundle(bundle.json),
        namespace: opts.namespace,
        syncPolicy: { automated: true, prune: true, selfHeal: false, ...opts.policy },
      },
    },
  };
}

export function yamlObjects(text: string): KubeObject[] {
  return text
    .split(/^---$/m)
    .map((d) => parse(d) as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

export function objectApi(c: TestCluster): KubernetesObjectApi {
  const kc = new KubeConfig();
  kc.loadFromString(c.kubeconfig);
  return KubernetesObjectApi.makeApiClient(kc);
}

/** Reads an object; undefined when it does not exist. */
export async function readObject(
  c: TestCluster,
  ref: { apiVersion: string; kind: string; name: string; namespace?: string },
): Promise<KubeObject | undefined> {
  try {
    return (await objectApi(c).read({
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, namespace: ref.namespace },
    })) as unknown as KubeObject;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

/** A ConfigMap's `data[key]` as the cluster has it; undefined when the ConfigMap does not exist. */
export async function configMapValue(
  c: TestCluster,
  namespace: string,
  name: string,
  key = 'v',
): Promise<string | undefined> {
  const cm = await readObject(c, { apiVersion: 'v1', kind: 'ConfigMap', name, namespace });
  return (cm?.data as Record<string, string> | undefined)?.[key];
}

/** Reports a Deployment rolled out and Available, as its controller would. */
export async function markDeploymentAvailable(
  c: TestCluster,
  namespace: string,
  name: string,
  replicas = 1,
): Promise<void> {
  const d = (await readObject(c, { apiVersion: 'apps/v1', kind: 'Deployment', name, namespace }))!;
  await patchStatus(c, `/apis/apps/v1/namespaces/${namespace}/deployments/${name}/status`, {
    observedGeneration: (d.metadata as { generation?: number }).generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
  });
}

/** Someone else's change: a JSON merge patch under another field manager (like `kubectl edit`). */
export async function mergePatchAs(
  c: TestCluster,
  manager: string,
  ref: { apiVersion: string; kind: string; name: string; namespace?: string },
  patch: Record<string, unknown>,
): Promise<void> {
  await objectApi(c).patch(
    {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, namespace: ref.namespace },
      ...patch,
    },
    undefined,
    undefined,
    manager,
    undefined,
    PatchStrategy.MergePatch,
  );
}

/** Writes a Job's status as a controller would (Complete or Failed). */
export async function finishJob(
  c: TestCluster,
  namespace: string,
  name: string,
  outcome: 'Complete' | 'Failed',
): Promise<void> {
  const now = new Date().toISOString();
  const conditions =
    outcome === 'Complete'
      ? [
          { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now },
          { type: 'Complete', status: 'True', lastTransitionTime: now },
        ]
      : [
          {
            type: 'FailureTarget',
            status: 'True',
            lastTransitionTime: now,
            reason: 'BackoffLimitExceeded',
            message: 'failed',
          },
          {
            type: 'Failed',
            status: 'True',
            lastTransitionTime: now,
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ];
  const status: Record<string, unknown> = {
    conditions,
    startTime: now,
    ...(outcome === 'Complete' ? { completionTime: now, succeeded: 1 } : { failed: 1 }),
  };
  await patchStatus(c, `/apis/batch/v1/namespaces/${namespace}/jobs/${name}/status`, status);
}

/** Writes `status` through the status subresource (a JSON merge patch), as a controller would. */
export async function patchStatus(c: TestCluster, path: string, status: unknown): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(c.kubeconfig);
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const payload = JSON.stringify({ status });
  await new Promise<void>((resolve, reject) => {
    const req = request(
      `${kc.getCurrentCluster()!.server}${path}`,
      {
        method: 'PATCH',
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        headers: {
          ...(opts.headers as Record<string, string>),
          'content-type': 'application/merge-patch+json',
          'content-length': String(Buffer.byteLength(payload)),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          (res.statusCode ?? 0) < 300
            ? resolve()
            : reject(new Error(`PATCH ${path}: HTTP ${res.statusCode} ${text}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export const SYNC_NAME: Record<number, string> = {
  [SyncStatus.SYNC_STATUS_SYNCED]: 'Synced',
  [SyncStatus.SYNC_STATUS_OUT_OF_SYNC]: 'OutOfSync',
  [SyncStatus.SYNC_STATUS_UNKNOWN]: 'Unknown',
  [SyncStatus.SYNC_STATUS_UNSPECIFIED]: 'Unknown',
};

export const HEALTH_NAME: Record<number, string> = {
  [HealthStatus.HEALTH_STATUS_HEALTHY]: 'Healthy',
  [HealthStatus.HEALTH_STATUS_PROGRESSING]: 'Progressing',
  [HealthStatus.HEALTH_STATUS_DEGRADED]: 'Degraded',
  [HealthStatus.HEALTH_STATUS_SUSPENDED]: 'Suspended',
  [HealthStatus.HEALTH_STATUS_MISSING]: 'Missing',
  [HealthStatus.HEALTH_STATUS_UNKNOWN]: 'Unknown',
};

/** An agent's status of an app in the hub's vocabulary (sync/health as names). */
export function agentView(s: AppStatus | undefined) {
  if (!s) return undefined;
  return {
    ...s,
    sync: SYNC_NAME[s.sync],
    health: HEALTH_NAME[s.health],
    resources: s.resources.map((r) => ({
      ...r,
      sync: SYNC_NAME[r.sync],
      health: HEALTH_NAME[r.health],
    })),
  };
}

/** The API server's Prometheus metrics (GET /metrics as the cluster's admin). */
export function fetchMetrics(c: TestCluster): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${c.server}/metrics`,
      {
        ca: Buffer.from(c.caData, 'base64').toString('utf8'),
        headers: { Authorization: `Bearer ${c.token}` },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks).toString('utf8'))
            : reject(new Error(`GET /metrics: HTTP ${res.statusCode}`)),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('GET /metrics timed out')));
    req.on('error', reject);
    req.end();
  });
}
