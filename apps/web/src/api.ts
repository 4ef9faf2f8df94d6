// The hub's REST API as the console uses it. Types come from the hub's own sources (type-only
// imports, erased at build), so a change of shape there fails the console's type check.
export type {
  FleetApp,
  FleetCell,
  FleetCluster,
  FleetView,
} from '../../hub/src/fleet/fleet.service';
export type { ConsoleEvent, ConsoleTopic } from '../../hub/src/fleet/fleet.feed';
export type {
  ApplicationView,
  ClusterStatusView,
} from '../../hub/src/applications/applications.service';
export type { AppDiff } from '../../hub/src/applications/app-diff.service';
export type { AppSetView } from '../../hub/src/appsets/appsets.service';
export type { ClusterView } from '../../hub/src/clusters/clusters.service';
export type { SessionView } from '../../hub/src/auth/sessions.service';
export type { ResourceState } from '../../hub/src/applications/app-target.entity';

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
 * A request to the hub with the session cookie. The `x-axle-console` header is what lets a
 * cookie-authenticated request change anything (the hub refuses it otherwise).
 */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; yaml?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = { 'x-axle-console': '1', accept: 'application/json' };
  let body: string | undefined;
  if (init.yaml !== undefined) {
    headers['content-type'] = 'application/yaml';
    body = init.yaml;
  } else if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  const res = await fetch(`/api/v1${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    credentials: 'same-origin',
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json ?? {}) as { message?: string | string[]; fields?: ApiError['fields'] };
    const message = Array.isArray(e.message) ? e.message.join('; ') : (e.message ?? res.statusText);
    if (res.status === 401 && path !== '/session') signedOut();
    throw new ApiError(res.status, message, e.fields ?? []);
  }
  return json as T;
}

export const enc = encodeURIComponent;
