// The hub's REST API through the client generated from its OpenAPI document
// (libs/api-client, `npm run api`): paths, parameters, bodies and responses are typed from it.
import createClient from 'openapi-fetch';
import type { paths, ResponseOf, Schemas } from '../../../libs/api-client/src/index.js';

export type FleetApp = Schemas['FleetApp'];
export type FleetCell = Schemas['FleetCell'];
export type FleetCluster = Schemas['FleetCluster'];
export type FleetView = Schemas['FleetView'];
export type ApplicationView = Schemas['ApplicationView'];
export type ClusterStatusView = Schemas['ClusterStatusView'];
export type ResourceState = Schemas['ResourceState'];
export type AppDiff = Schemas['AppDiff'];
export type AppSetView = Schemas['AppSetView'];
export type ClusterView = Schemas['ClusterView'];
/** Who the console acts as (the token's name and role). */
export type SessionView = ResponseOf<'/api/v1/session', 'get'>;
export type RolloutView = Schemas['RolloutView'];
export type HistoryEntry = ResponseOf<'/api/v1/applications/{name}/history', 'get'>[number];
export type AgentEvent = ResponseOf<'/api/v1/applications/{name}/events', 'get'>[number];
export type AuditEvent = ResponseOf<'/api/v1/events', 'get'>[number];
export type ClusterAdded = ResponseOf<'/api/v1/clusters', 'post'>;
export type DryRun = ResponseOf<'/api/v1/applicationsets/dry-run', 'post'>;

// Not in the OpenAPI document (server-sent events): what the live stream sends.
export type ConsoleTopic = 'fleet' | 'applications' | 'clusters' | 'appsets' | 'audit' | 'rollouts';
export type ConsoleEvent =
  | { type: 'invalidate'; topics: ConsoleTopic[] }
  | { type: 'apps'; clusterKey: string; apps: FleetApp[] };

/** An error the hub answered with: its status and message (and field errors, when given). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: { field: string; reason: string }[] = [],
  ) {
    super(message);
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when the hub says the session is gone (expired, revoked, signed out elsewhere). */
export function onSignedOut(l: Listener): () => void {
  signedOutListeners.add(l);
  return () => signedOutListeners.delete(l);
}

export function signedOut(): void {
  for (const l of signedOutListeners) l();
}

/**
 * The hub, with the session cookie. The `x-axle-console` header is what lets a
 * cookie-authenticated request change anything (the hub refuses it otherwise).
 */
export const hub = createClient<paths>({
  baseUrl: '',
  credentials: 'same-origin',
  headers: { 'x-axle-console': '1', accept: 'application/json' },
});

/** The response's data, or an ApiError with the hub's message (a 401 signs out). */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const e = (typeof error === 'object' && error ? error : {}) as {
    message?: string | string[];
    fields?: ApiError['fields'];
  };
  const message = Array.isArray(e.message)
    ? e.message.join('; ')
    : (e.message ?? (typeof error === 'string' && error ? error : response.statusText));
  if (response.status === 401 && !new URL(response.url).pathname.endsWith('/session')) signedOut();
  throw new ApiError(response.status, message, e.fields ?? []);
}

/** A YAML document as the request body (the hub takes application/yaml where it takes JSON). */
export const yamlBody = {
  bodySerializer: (body: unknown) => String(body),
  headers: { 'content-type': 'application/yaml' },
};

export const enc = encodeURIComponent;
