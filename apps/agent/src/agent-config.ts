import { resolve } from 'node:path';
import { z } from 'zod';

const schema = z.object({
  AXLE_HUB_ADDRESS: z.string().regex(/^[\w.\-[\]:]+:\d+$/, 'must be host:port'),
  AXLE_AGENT_TOKEN: z.string().min(10, 'must be the token printed by `axle cluster add`'),
  AXLE_CLUSTER: z.string().min(1).max(63),
  AXLE_AGENT_STATE_DIR: z.string().default('/var/lib/axle-agent'),
  KUBECONFIG: z.string().optional(),
  AXLE_FIELD_MANAGER: z.string().default('axle'),
  AXLE_AGENT_RESYNC_SECONDS: z.coerce.number().positive().max(86_400).default(60),
  AXLE_AGENT_BACKOFF_BASE_MS: z.coerce.number().int().positive().default(500),
  AXLE_AGENT_BACKOFF_CAP_MS: z.coerce.number().int().positive().default(30_000),
  AXLE_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});

export interface AgentConfig {
  hubAddress: string;
  token: string;
  cluster: string;
  stateDir: string;
  /** Path to a kubeconfig; in-cluster service account credentials when absent. */
  kubeconfig?: string;
  fieldManager: string;
  resyncSeconds: number;
  backoff: { baseMs: number; capMs: number };
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
}

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const r = schema.safeParse(env);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid agent configuration:\n${lines.join('\n')}`);
  }
  const e = r.data;
  return {
    hubAddress: e.AXLE_HUB_ADDRESS,
    token: e.AXLE_AGENT_TOKEN,
    cluster: e.AXLE_CLUSTER,
    stateDir: resolve(e.AXLE_AGENT_STATE_DIR),
    kubeconfig: e.KUBECONFIG,
    fieldManager: e.AXLE_FIELD_MANAGER,
    resyncSeconds: e.AXLE_AGENT_RESYNC_SECONDS,
    backoff: { baseMs: e.AXLE_AGENT_BACKOFF_BASE_MS, capMs: e.AXLE_AGENT_BACKOFF_CAP_MS },
    logLevel: e.AXLE_LOG_LEVEL,
  };
}

export const AGENT_CONFIG = Symbol('AGENT_CONFIG');
