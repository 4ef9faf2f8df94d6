import { readFileSync } from 'node:fs';
import { defaultClusterKinds, patterns, type AllowList } from './allow-list.js';
import { resolve } from 'node:path';
import { DEFAULT_PRUNE_HOLD, type PruneHoldLimits } from './sync/prune-hold.js';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const schema = z.object({
  AXLE_HUB_ADDRESS: z
    .string()
    .regex(
      /^[\w.\-[\]:]+:\d+(,[\w.\-[\]:]+:\d+)*$/,
      'must be host:port, or several separated by commas (hub replicas)',
    ),
  AXLE_AGENT_TOKEN: z
    .string()
    .min(10, 'must be the token printed by `axle cluster add`')
    .optional(),
  AXLE_BOOTSTRAP_TOKEN: z.string().min(10).max(200).optional(),
  AXLE_HUB_CA_FILE: z.string().optional(),
  AXLE_HUB_CA: z.string().optional(),
  AXLE_HUB_ENROLL_ADDRESS: z
    .string()
    .regex(/^[\w.\-[\]:]+:\d+$/, 'must be host:port')
    .optional(),
  AXLE_AGENT_RENEW_CHECK_SECONDS: z.coerce.number().positive().max(86_400).default(60),
  AXLE_CLUSTER: z.string().min(1).max(63),
  AXLE_AGENT_STATE_DIR: z.string().default('/var/lib/axle-agent'),
  KUBECONFIG: z.string().optional(),
  AXLE_FIELD_MANAGER: z.string().default('axle'),
  AXLE_AGENT_RESYNC_SECONDS: z.coerce.number().positive().max(86_400).default(60),
  AXLE_AGENT_DISCOVERY_SECONDS: z.coerce.number().min(5).max(86_400).default(300),
  AXLE_AGENT_BACKOFF_BASE_MS: z.coerce.number().int().positive().default(500),
  AXLE_AGENT_BACKOFF_CAP_MS: z.coerce.number().int().positive().default(30_000),
  AXLE_AGENT_OBSERVE_ONLY: bool.default(false),
  AXLE_AGENT_ALLOWED_NAMESPACES: z.string().optional(),
  AXLE_AGENT_ALLOWED_KINDS: z.string().optional(),
  AXLE_AGENT_DENIED_KINDS: z.string().optional(),
  AXLE_AGENT_ALLOWED_CLUSTER_KINDS: z.string().optional(),
  AXLE_AGENT_SELF_HEAL_DELAY_MS: z.coerce.number().int().nonnegative().default(1000),
  AXLE_AGENT_SELF_HEAL_MAX_DELAY_MS: z.coerce.number().int().positive().default(300_000),
  AXLE_AGENT_APPLY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(16),
  // The prune guard (see Pruner.pruneStep): a prune of more than this share of what an app runs,
  // and of at least AXLE_AGENT_PRUNE_HOLD_MIN objects, waits for a person's confirmation.
  AXLE_AGENT_PRUNE_HOLD_SHARE: z.coerce
    .number({ error: 'must be a number above 0 and at most 1 (1 turns the share rule off)' })
    .gt(0, 'must be above 0 and at most 1 (1 turns the share rule off)')
    .max(1, 'must be above 0 and at most 1 (1 turns the share rule off)')
    .default(DEFAULT_PRUNE_HOLD.share),
  AXLE_AGENT_PRUNE_HOLD_MIN: z.coerce
    .number({ error: 'must be a whole number of objects, 1 or more' })
    .int('must be a whole number of objects, 1 or more')
    .min(1, 'must be a whole number of objects, 1 or more')
    .default(DEFAULT_PRUNE_HOLD.min),
  AXLE_AGENT_EVENT_BUFFER: z.coerce.number().int().min(10).max(100_000).default(500),
  AXLE_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});

export interface AgentConfig {
  /** host:port of the hub; several, comma-separated, are tried in turn (hub replicas). */
  hubAddress: string;
  /** Bearer token (hub with AXLE_AGENT_AUTH=token). Without it the agent uses mTLS. */
  token?: string;
  /** mTLS: the hub CA, where to enroll, and the one-time bootstrap token (until enrolled). */
  mtls?: {
    caPem: string;
    enrollAddress: string;
    bootstrapToken?: string;
    renewCheckSeconds?: number;
  };
  cluster: string;
  stateDir: string;
  /** Path to a kubeconfig; in-cluster service account credentials when absent. */
  kubeconfig?: string;
  fieldManager: string;
  resyncSeconds: number;
  /**
   * How often the agent reads the API server's discovery again to tell the hub what it serves
   * (for Helm's .Capabilities). Default 300; also soon after it applies a CRD or APIService.
   */
  discoverySeconds?: number;
  backoff: { baseMs: number; capMs: number };
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  /** What this cluster lets any app deploy, whatever the hub sends. Default: everything. */
  allowList?: AllowList;
  /** Report differences only, for every app: apply, prune and heal nothing. Default false. */
  observeOnly?: boolean;
  /**
   * Self-heal backoff: the first heal waits `delayMs` after drift is seen; each further heal of
   * the same app waits ×3 longer (at most `maxDelayMs`) until the app stayed in sync that long.
   */
  selfHeal?: { delayMs: number; maxDelayMs: number };
  /** Objects applied at once within a wave. Default 8. */
  applyConcurrency?: number;
  /** Events kept while the hub is unreachable. Default 500. */
  eventBuffer?: number;
  /**
   * When a sync's prune is held for a person's confirmation instead of deleting (see
   * PruneHoldLimits). Default: more than half of what the app runs, and at least 5 objects.
   */
  pruneHold?: PruneHoldLimits;
}

function allowListOf(e: z.infer<typeof schema>): AllowList {
  const namespaces = patterns(e.AXLE_AGENT_ALLOWED_NAMESPACES, ['*']);
  return {
    namespaces,
    allowedKinds: patterns(e.AXLE_AGENT_ALLOWED_KINDS, ['*']),
    deniedKinds: patterns(e.AXLE_AGENT_DENIED_KINDS, []),
    // Empty means none here (not the default): the variable set to nothing allows no kind.
    clusterKinds:
      e.AXLE_AGENT_ALLOWED_CLUSTER_KINDS === undefined
        ? defaultClusterKinds(namespaces)
        : patterns(e.AXLE_AGENT_ALLOWED_CLUSTER_KINDS, []),
  };
}

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const r = schema.safeParse(env);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid agent configuration:\n${lines.join('\n')}`);
  }
  const e = r.data;
  let mtls: AgentConfig['mtls'];
  if (!e.AXLE_AGENT_TOKEN) {
    const caPem =
      e.AXLE_HUB_CA ?? (e.AXLE_HUB_CA_FILE ? readFileSync(e.AXLE_HUB_CA_FILE, 'utf8') : undefined);
    if (!caPem) {
      throw new Error(
        'invalid agent configuration:\n  AXLE_HUB_CA_FILE: required for mTLS (or set AXLE_AGENT_TOKEN for token auth)',
      );
    }
    const first = e.AXLE_HUB_ADDRESS.split(',')[0];
    const host = first.slice(0, first.lastIndexOf(':'));
    mtls = {
      caPem,
      enrollAddress: e.AXLE_HUB_ENROLL_ADDRESS ?? `${host}:9091`,
      bootstrapToken: e.AXLE_BOOTSTRAP_TOKEN,
      renewCheckSeconds: e.AXLE_AGENT_RENEW_CHECK_SECONDS,
    };
  }
  return {
    hubAddress: e.AXLE_HUB_ADDRESS,
    token: e.AXLE_AGENT_TOKEN,
    mtls,
    cluster: e.AXLE_CLUSTER,
    stateDir: resolve(e.AXLE_AGENT_STATE_DIR),
    kubeconfig: e.KUBECONFIG,
    fieldManager: e.AXLE_FIELD_MANAGER,
    resyncSeconds: e.AXLE_AGENT_RESYNC_SECONDS,
    discoverySeconds: e.AXLE_AGENT_DISCOVERY_SECONDS,
    backoff: { baseMs: e.AXLE_AGENT_BACKOFF_BASE_MS, capMs: e.AXLE_AGENT_BACKOFF_CAP_MS },
    logLevel: e.AXLE_LOG_LEVEL,
    observeOnly: e.AXLE_AGENT_OBSERVE_ONLY,
    allowList: allowListOf(e),
    selfHeal: {
      delayMs: e.AXLE_AGENT_SELF_HEAL_DELAY_MS,
      maxDelayMs: e.AXLE_AGENT_SELF_HEAL_MAX_DELAY_MS,
    },
    applyConcurrency: e.AXLE_AGENT_APPLY_CONCURRENCY,
    eventBuffer: e.AXLE_AGENT_EVENT_BUFFER,
    pruneHold: { share: e.AXLE_AGENT_PRUNE_HOLD_SHARE, min: e.AXLE_AGENT_PRUNE_HOLD_MIN },
  };
}

export const AGENT_CONFIG = Symbol('AGENT_CONFIG');
