import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DEADLINE_PER_INACTIVITY } from '../../../../libs/git/src/index.js';

/**
 * The hub's one typed configuration, built once at boot from the environment.
 * Every bad variable is reported at once, by name, before anything starts.
 */
const durationSeconds = z.coerce.number().int().positive().max(86_400);

/**
 * A JSON list in a variable, checked with `item`. Errors never quote the value (it may hold
 * tokens): "not valid JSON at position N", or the fields that are wrong.
 */
function jsonList<T extends z.ZodType>(item: T, shape: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx): z.output<T>[] => {
      if (!v) return [];
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch (e) {
        const at = /position (\d+)/.exec((e as Error).message)?.[1];
        ctx.addIssue({
          code: 'custom',
          message: `must be a JSON list of ${shape}: not valid JSON${at ? ` at position ${at}` : ''}`,
        });
        return z.NEVER;
      }
      const r = z.array(item).max(50).safeParse(parsed);
      if (!r.success) {
        const where = r.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ');
        ctx.addIssue({ code: 'custom', message: `must be a JSON list of ${shape}: ${where}` });
        return z.NEVER;
      }
      return r.data;
    });
}

/** A render plugin (like an Argo CD config management plugin). */
const pluginSchema = z
  .object({
    name: z.string().min(1).max(253),
    command: z.array(z.string().min(1)).min(1),
    timeoutSeconds: z.number().positive().max(3600).optional(),
  })
  .strict();

/** An ApplicationSet generator plugin (Argo CD's plugin generator), by name. */
const generatorPluginSchema = z
  .object({
    name: z.string().min(1).max(253),
    baseUrl: z.string().regex(/^https?:\/\//, 'must be an http(s):// URL'),
    token: z.string().max(4096).optional(),
    requestTimeoutSeconds: z.number().positive().max(600).optional(),
  })
  .strict();

/** A duck type for the clusterDecisionResource generator (Argo: a ConfigMap). */
const duckTypeSchema = z
  .object({
    name: z.string().min(1).max(253),
    apiVersion: z.string().regex(/^[^/]+\/[^/]+$/, 'must be group/version'),
    kind: z.string().min(1).max(253),
    statusListKey: z.string().min(1).optional(),
    matchKey: z.string().min(1),
  })
  .strict();

/**
 * How long an agent may be away (not connected) before its last report stops counting as the
 * cluster's state (`AXLE_NOTIFY_DISCONNECTED_SECONDS`'s default: the same grace after which
 * `on-agent-disconnected` fires).
 */
export const AGENT_AWAY_GRACE_SECONDS = 300;

const schema = z.object({
  AXLE_HTTP_HOST: z.string().default('127.0.0.1'),
  AXLE_HTTP_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  AXLE_GRPC_HOST: z.string().default('127.0.0.1'),
  AXLE_GRPC_PORT: z.coerce.number().int().min(0).max(65_535).default(9090),
  AXLE_GRPC_PUBLIC_HOST: z.string().optional(),
  AXLE_DATA_DIR: z.string().default('.axle'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  AXLE_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65_535).default(54320),
  AXLE_GIT_POLL_SECONDS: durationSeconds.default(60),
  AXLE_RESYNC_SECONDS: durationSeconds.default(300),
  AXLE_HEARTBEAT_SECONDS: durationSeconds.default(15),
  AXLE_GIT_TIMEOUT_SECONDS: durationSeconds.default(120),
  AXLE_GIT_DEADLINE_SECONDS: durationSeconds.optional(),
  AXLE_ADMIN_TOKEN: z
    .string()
    .max(200)
    .refine((t) => t === '' || t.length >= 20, 'must be at least 20 characters')
    .optional(),
  AXLE_SECRET_KEY: z.string().optional(),
  AXLE_SECRET_KEY_FILE: z.string().optional(),
  AXLE_WEBHOOK_SECRET: z.string().min(8).max(512).optional(),
  AXLE_HELM_PATH: z.string().optional(),
  AXLE_KUSTOMIZE_PATH: z.string().optional(),
  AXLE_KUBECTL_PATH: z.string().optional(),
  AXLE_RENDER_TIMEOUT_SECONDS: durationSeconds.default(120),
  AXLE_PLUGINS: jsonList(pluginSchema, '{name, command[], timeoutSeconds?}'),
  AXLE_GENERATOR_PLUGINS: jsonList(
    generatorPluginSchema,
    '{name, baseUrl, token?, requestTimeoutSeconds?}',
  ),
  AXLE_HUB_KUBECONFIG: z.string().optional(),
  AXLE_HUB_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name')
    .default('axle'),
  AXLE_DUCK_TYPES: jsonList(duckTypeSchema, '{name, apiVersion, kind, statusListKey?, matchKey}'),
  AXLE_AGENT_AUTH: z.enum(['mtls', 'token']).default('mtls'),
  AXLE_GRPC_ENROLL_PORT: z.coerce.number().int().min(0).max(65_535).default(9091),
  AXLE_GRPC_TLS_HOSTS: z.string().default(''),
  AXLE_CA_CERT_FILE: z.string().optional(),
  AXLE_CA_KEY_FILE: z.string().optional(),
  AXLE_AGENT_CERT_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 90)
    .default(24),
  AXLE_BOOTSTRAP_TOKEN_SECONDS: durationSeconds.default(3600),
  AXLE_AGENT_CREDENTIAL_CHECK_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
  AXLE_APPSET_MAX_DELETE_SHARE: z.coerce.number().min(0).max(1).default(0.5),
  AXLE_APPSET_MAX_APPLICATIONS: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  AXLE_APPSET_MAX_RENDER_SECONDS: z.coerce.number().int().min(1).max(3600).default(120),
  AXLE_RECONCILE_BATCH: z.coerce.number().int().min(1).max(100_000).default(10_000),
  AXLE_LEASE_SECONDS: z.coerce.number().int().min(3).max(600).default(15),
  AXLE_REPORT_FLUSH_MS: z.coerce.number().int().min(1).max(1000).default(50),
  AXLE_IN_CLUSTER: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be the name of a registered cluster')
    .max(63)
    .optional(),
  AXLE_NOTIFY_DISCONNECTED_SECONDS: z.coerce
    .number()
    .int()
    .min(5)
    .max(86_400)
    .default(AGENT_AWAY_GRACE_SECONDS),
  AXLE_NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(12),
  AXLE_NOTIFY_RETRY_SECONDS: z.coerce.number().min(0.1).max(600).default(2),
  AXLE_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});

/** The first executable named `name` on PATH, as a shell would find it. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The tools `npm install` builds into the checkout's `.cache/bin` (scripts/test-toolchain.sh
 * --render-tools): found from this module's directory, in the sources or in dist.
 */
function builtTool(name: string): string | undefined {
  let dir = import.meta.dirname;
  for (let i = 0; i < 7; i++) {
    const p = join(dir, '.cache', 'bin', name);
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export interface HubConfig {
  http: { host: string; port: number };
  /** publicHost: how agents reach the hub (install manifests); default the bind host. */
  grpc: { host: string; port: number; publicHost?: string };
  dataDir: string;
  /** External PostgreSQL; when absent the hub runs an embedded server under dataDir/pg. */
  databaseUrl?: string;
  embeddedPgPort: number;
  gitCacheDir: string;
  gitPollSeconds: number;
  resyncSeconds: number;
  heartbeatSeconds: number;
  /** Git is stopped after this long without output. */
  gitTimeoutSeconds: number;
  /** Wall-clock limit of one fetch, whatever git prints. */
  gitDeadlineSeconds: number;
  /** A bootstrap admin API token; when absent the hub writes one to <dataDir>/admin-token. */
  adminToken?: string;
  /** Key for secrets at rest (base64, 32 bytes), or a file holding it (created when missing). */
  secretKey?: string;
  secretKeyFile: string;
  /** Shared secret of git push webhooks (GitHub/Gitea HMAC, GitLab token); open when unset. */
  webhookSecret?: string;
  /**
   * How agents authenticate: `mtls` (default: one-time bootstrap token + CSR at the enrollment
   * port, then client certificates) or `token` (a long-lived bearer token per cluster).
   */
  agentAuth: 'mtls' | 'token';
  pki: {
    enrollPort: number;
    serverHosts: string[];
    caCertFile?: string;
    caKeyFile?: string;
    clientCertHours: number;
    bootstrapTokenSeconds: number;
  };
  /**
   * How often the credential of every live agent stream is checked again: a stream whose
   * certificate was revoked or has expired, or whose cluster was deleted, is closed (the stream
   * outlives the TLS handshake that checked the certificate).
   */
  credentialCheckSeconds: number;
  /**
   * The hub's own cluster, read (never written) for clusterDecisionResource generators: a
   * kubeconfig, the namespace, and the duck types by name.
   */
  hubKubeconfig?: string;
  hubNamespace: string;
  duckTypes: {
    name: string;
    apiVersion: string;
    kind: string;
    statusListKey?: string;
    matchKey: string;
  }[];
  /** Generator plugins: `configMapRef.name` of a plugin generator names one of these. */
  generatorPlugins: {
    name: string;
    baseUrl: string;
    token?: string;
    requestTimeoutSeconds?: number;
  }[];
  render: {
    tools: { helm?: string; kustomize?: string; kubectl?: string };
    plugins: { name: string; command: string[]; timeoutSeconds?: number }[];
    timeoutSeconds: number;
  };
  /**
   * The registered cluster that runs the hub: Argo CD's `in-cluster`, which destinations reach as
   * `name: in-cluster` or `server: https://kubernetes.default.svc`.
   */
  inCluster?: string;
  /** Deleting more than this share of an ApplicationSet's applications needs a confirmation. */
  appsetMaxDeleteShare: number;
  /** The most applications one ApplicationSet may generate; beyond it, it is refused whole. */
  appsetMaxApplications: number;
  /** Longest one ApplicationSet's applications may take to render (more: refused whole). */
  appsetMaxRenderSeconds: number;
  /** Applications claimed as one unit of reconcile work, and how long a replica's claim lasts. */
  reconcile: { batchSize: number; leaseSeconds: number };
  /** Longest an agent report waits in memory before it is written (write-behind). */
  reportFlushMs: number;
  /**
   * Notifications: an agent counts as disconnected after `disconnectedSeconds`; a delivery is
   * tried `maxAttempts` times, waiting `retrySeconds` × 2^attempt (at most 10 min) in between.
   */
  notify: { disconnectedSeconds: number; maxAttempts: number; retrySeconds: number };
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
}

export class ConfigError extends Error {}

export function loadHubConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  // A variable set to nothing (`AXLE_HTTP_PORT=`, as compose files and shells leave them) is
  // unset: its default applies. Read as a number it was 0, a random port, without a word.
  const set = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => !k.startsWith('AXLE_') || (v ?? '').trim() !== ''),
  );
  const parsed = schema.safeParse(set);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.AXLE_DATA_DIR);
  return {
    http: { host: e.AXLE_HTTP_HOST, port: e.AXLE_HTTP_PORT },
    grpc: { host: e.AXLE_GRPC_HOST, port: e.AXLE_GRPC_PORT, publicHost: e.AXLE_GRPC_PUBLIC_HOST },
    dataDir,
    databaseUrl: e.DATABASE_URL,
    embeddedPgPort: e.AXLE_EMBEDDED_PG_PORT,
    gitCacheDir: resolve(dataDir, 'git'),
    gitPollSeconds: e.AXLE_GIT_POLL_SECONDS,
    resyncSeconds: e.AXLE_RESYNC_SECONDS,
    heartbeatSeconds: e.AXLE_HEARTBEAT_SECONDS,
    gitTimeoutSeconds: e.AXLE_GIT_TIMEOUT_SECONDS,
    gitDeadlineSeconds:
      e.AXLE_GIT_DEADLINE_SECONDS ?? e.AXLE_GIT_TIMEOUT_SECONDS * DEADLINE_PER_INACTIVITY,
    appsetMaxDeleteShare: e.AXLE_APPSET_MAX_DELETE_SHARE,
    appsetMaxApplications: e.AXLE_APPSET_MAX_APPLICATIONS,
    appsetMaxRenderSeconds: e.AXLE_APPSET_MAX_RENDER_SECONDS,
    inCluster: e.AXLE_IN_CLUSTER,
    reconcile: { batchSize: e.AXLE_RECONCILE_BATCH, leaseSeconds: e.AXLE_LEASE_SECONDS },
    reportFlushMs: e.AXLE_REPORT_FLUSH_MS,
    notify: {
      disconnectedSeconds: e.AXLE_NOTIFY_DISCONNECTED_SECONDS,
      maxAttempts: e.AXLE_NOTIFY_MAX_ATTEMPTS,
      retrySeconds: e.AXLE_NOTIFY_RETRY_SECONDS,
    },
    agentAuth: e.AXLE_AGENT_AUTH,
    pki: {
      enrollPort: e.AXLE_GRPC_ENROLL_PORT,
      serverHosts: e.AXLE_GRPC_TLS_HOSTS.split(',')
        .map((h) => h.trim())
        .filter(Boolean),
      caCertFile: e.AXLE_CA_CERT_FILE,
      caKeyFile: e.AXLE_CA_KEY_FILE,
      clientCertHours: e.AXLE_AGENT_CERT_HOURS,
      bootstrapTokenSeconds: e.AXLE_BOOTSTRAP_TOKEN_SECONDS,
    },
    credentialCheckSeconds: e.AXLE_AGENT_CREDENTIAL_CHECK_SECONDS,
    generatorPlugins: e.AXLE_GENERATOR_PLUGINS,
    hubKubeconfig: e.AXLE_HUB_KUBECONFIG,
    hubNamespace: e.AXLE_HUB_NAMESPACE,
    duckTypes: e.AXLE_DUCK_TYPES,
    render: {
      tools: {
        helm: e.AXLE_HELM_PATH ?? onPath('helm', env) ?? builtTool('helm'),
        kustomize: e.AXLE_KUSTOMIZE_PATH ?? onPath('kustomize', env) ?? builtTool('kustomize'),
        kubectl: e.AXLE_KUBECTL_PATH ?? onPath('kubectl', env),
      },
      plugins: e.AXLE_PLUGINS,
      timeoutSeconds: e.AXLE_RENDER_TIMEOUT_SECONDS,
    },
    adminToken: e.AXLE_ADMIN_TOKEN || undefined,
    secretKey: e.AXLE_SECRET_KEY,
    secretKeyFile: resolve(e.AXLE_SECRET_KEY_FILE ?? resolve(dataDir, 'secret.key')),
    webhookSecret: e.AXLE_WEBHOOK_SECRET,
    logLevel: e.AXLE_LOG_LEVEL,
  };
}

export const HUB_CONFIG = Symbol('HUB_CONFIG');
