/**
 * Notification triggers, level-triggered: each check compares what is observed now with what was
 * last noticed for the same subject (stored per key) and says what to store and whether an event
 * fires. Detection therefore fires once per change, whichever replica looks and however often the
 * hub restarts. Pure: no I/O.
 */

export const TRIGGERS = [
  'on-sync-succeeded',
  'on-sync-failed',
  'on-health-degraded',
  'on-health-recovered',
  'on-drift-detected',
  'on-rollout-halted',
  'on-rollout-rolled-back',
  'on-deletion-held',
  'on-agent-disconnected',
  'on-certificate-expiring',
] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** What an event is about, as templates and subscription selectors see it. */
export interface EventContext {
  app?: { name: string; project: string; applicationSet: string | null };
  cluster?: { name: string; labels: Record<string, string> };
  appset?: { name: string; pendingDeletion?: string[] };
  rollout?: { kind: 'appset' | 'app'; name: string; status: string; step: number };
  revision?: string;
  sync?: string;
  health?: string;
  message?: string;
  /** Agent disconnected: last seen; certificate: its expiry. */
  since?: string;
}

export interface NotificationEvent extends EventContext {
  trigger: Trigger;
  /** Stable identity of the subject (`<app id>/<cluster id>`, a cluster id, …). */
  subject: string;
  /** Events of one group collapse into one message (an app's events on every cluster). */
  group: string;
  /** The observed state that fired the event. */
  value: string;
  at: string;
}

/** What a check decides: `value` undefined keeps what is stored, null forgets it. */
export interface Step {
  value?: string | null;
  trigger?: Trigger;
}

export interface Check {
  key: string;
  subject: string;
  group: string;
  context: EventContext;
  step(prev: string | undefined): Step;
  /** When the condition it fires on began (ms since the epoch), where that is known. */
  onset?: number;
}

export interface Transitions {
  writes: { key: string; value: string | null }[];
  events: NotificationEvent[];
}

/** Applies checks to what is stored: the state to write and the events that fire. */
export function transitions(
  checks: Check[],
  stored: ReadonlyMap<string, string>,
  at: Date,
): Transitions {
  const out: Transitions = { writes: [], events: [] };
  for (const c of checks) {
    const prev = stored.get(c.key);
    const s = c.step(prev);
    if (s.value !== undefined && s.value !== (prev ?? null))
      out.writes.push({ key: c.key, value: s.value });
    if (s.trigger) {
      out.events.push({
        ...c.context,
        trigger: s.trigger,
        subject: c.subject,
        group: c.group,
        value: s.value ?? prev ?? '',
        at: at.toISOString(),
      });
    }
  }
  return out;
}

// --- applications on clusters ------------------------------------------------------------------

export interface TargetObservation {
  appId: string;
  clusterId: string;
  /** When the target last changed (the database's clock). */
  updatedAt?: Date;
  app: { name: string; project: string; applicationSet: string | null };
  cluster: { name: string; labels: Record<string, string> };
  desiredGeneration: number;
  appliedGeneration: number;
  revision: string | null;
  sync: string;
  health: string;
  message: string;
  drifted: boolean;
  selfHeal: boolean;
  /** Observe-only: the agent compares and applies nothing (no sync to succeed). */
  observeOnly?: boolean;
  /**
   * The agent's last sync operation (phase Running, Succeeded or Failed; `retrying`: failed with
   * another attempt planned, not an outcome yet).
   */
  operation: {
    phase: string;
    generation: number | null;
    message: string;
    retrying?: boolean;
  } | null;
}

/** The outcome of the agent's sync of the desired generation, once it has one. */
function syncOutcome(t: TargetObservation): 'Succeeded' | 'Failed' | undefined {
  if (t.appliedGeneration < t.desiredGeneration || t.appliedGeneration === 0) return undefined;
  const op = t.operation;
  if (op && (op.generation === null || op.generation === t.appliedGeneration)) {
    if (op.phase === 'Running' || (op.phase === 'Failed' && op.retrying)) return undefined;
    if (op.phase === 'Succeeded' || op.phase === 'Failed') return op.phase;
  }
  // No operation to go by (an agent of before operations): in sync counts as applied; observe-only
  // applies nothing, so nothing succeeded.
  return t.sync === 'Synced' && !t.observeOnly ? 'Succeeded' : undefined;
}

export function targetChecks(t: TargetObservation): Check[] {
  const id = `${t.appId}/${t.clusterId}`;
  const context: EventContext = {
    app: t.app,
    cluster: t.cluster,
    revision: t.revision ?? '',
    sync: t.sync,
    health: t.health,
    message: (t.operation?.message || t.message).slice(0, 1000),
  };
  const base = { subject: id, group: t.appId, context };
  return [
    {
      ...base,
      key: `sync/${id}`,
      // Once per generation and outcome: a retry that succeeds after a failure fires again.
      step: (prev) => {
        const outcome = syncOutcome(t);
        if (!outcome) return {};
        const value = `${t.appliedGeneration}:${outcome}`;
        if (prev === value) return {};
        return { value, trigger: outcome === 'Succeeded' ? 'on-sync-succeeded' : 'on-sync-failed' };
      },
    },
    {
      ...base,
      key: `health/${id}`,
      step: (prev) => {
        // Degraded fires once per time it is entered: Degraded → Progressing → Degraded (a fix
        // that failed too) fires again. Recovered once Healthy after any of it.
        if (t.health === 'Degraded')
          return prev === 'Degraded' ? {} : { value: 'Degraded', trigger: 'on-health-degraded' };
        const was = prev === 'Degraded' || prev === 'Recovering';
        if (t.health === 'Healthy')
          return was ? { value: null, trigger: 'on-health-recovered' } : {};
        return prev === 'Degraded' ? { value: 'Recovering' } : {};
      },
    },
    {
      ...base,
      key: `drift/${id}`,
      // Self-heal repairs drift by itself: only drift that stays is news.
      step: (prev) => {
        if (t.drifted && !t.selfHeal)
          return prev ? {} : { value: String(t.appliedGeneration), trigger: 'on-drift-detected' };
        return !t.drifted && prev ? { value: null } : {};
      },
    },
  ];
}

// --- rollouts, ApplicationSets, clusters -------------------------------------------------------

export interface RolloutObservation {
  kind: 'appset' | 'app';
  ownerId: string;
  name: string;
  status: string;
  step: number;
  message: string;
  startedAt: string;
  /** Set for application rollouts. */
  app?: { name: string; project: string; applicationSet: string | null };
}

export function rolloutCheck(r: RolloutObservation): Check {
  return {
    key: `rollout/${r.kind}/${r.ownerId}`,
    subject: `${r.kind}/${r.ownerId}`,
    group: `${r.kind}/${r.ownerId}`,
    context: {
      ...(r.app ? { app: r.app } : {}),
      ...(r.kind === 'appset' ? { appset: { name: r.name } } : {}),
      rollout: { kind: r.kind, name: r.name, status: r.status, step: r.step + 1 },
      message: r.message.slice(0, 1000),
    },
    step: (prev) => {
      if (r.status !== 'Halted' && r.status !== 'RolledBack') return prev ? { value: null } : {};
      // Once per rollout (a new commit starts a new one) and status.
      const value = `${r.status}@${r.startedAt}`;
      if (prev === value) return {};
      return {
        value,
        trigger: r.status === 'Halted' ? 'on-rollout-halted' : 'on-rollout-rolled-back',
      };
    },
  };
}

export function deletionHeldCheck(a: { id: string; name: string; pending: string[] }): Check {
  const names = [...a.pending].sort();
  return {
    key: `deletion/${a.id}`,
    subject: a.id,
    group: a.id,
    context: {
      appset: { name: a.name, pendingDeletion: names.slice(0, 50) },
      message: `${names.length} application(s) wait for a deletion confirmation: axle appset confirm-deletion ${a.name}`,
    },
    step: (prev) => {
      if (names.length === 0) return prev ? { value: null } : {};
      const value = names.join(',').slice(0, 2000);
      return prev === value ? {} : { value, trigger: 'on-deletion-held' };
    },
  };
}

export interface ClusterObservation {
  id: string;
  name: string;
  labels: Record<string, string>;
  connected: boolean;
  lastSeenAt: Date | null;
  /** The newest certificate issued to its agent that is not revoked (mTLS only). */
  certificate: { serial: string; issuedAt: Date; notAfter: Date } | null;
}

/**
 * A certificate is near expiry once five sixths of its lifetime have passed: the agent renews
 * at two thirds, so by then renewal has been failing for half of its window.
 */
export function certificateNearExpiry(c: { issuedAt: Date; notAfter: Date }, now: Date): boolean {
  return now.getTime() >= nearExpirySince(c);
}

/** When a certificate becomes near expiry (ms since the epoch). */
function nearExpirySince(c: { issuedAt: Date; notAfter: Date }): number {
  const start = c.issuedAt.getTime();
  return start + ((c.notAfter.getTime() - start) * 5) / 6;
}

export function clusterChecks(
  c: ClusterObservation,
  now: Date,
  disconnectedAfterMs: number,
): Check[] {
  const cluster = { name: c.name, labels: c.labels };
  const down =
    !c.connected &&
    c.lastSeenAt !== null &&
    now.getTime() - c.lastSeenAt.getTime() >= disconnectedAfterMs;
  const cert = c.certificate;
  const expiring = cert !== null && certificateNearExpiry(cert, now);
  return [
    {
      key: `disconnected/${c.id}`,
      subject: c.id,
      group: `disconnected/${c.id}`,
      onset: down ? c.lastSeenAt!.getTime() + disconnectedAfterMs : undefined,
      context: {
        cluster,
        since: c.lastSeenAt?.toISOString(),
        message: `the agent of ${c.name} has not been connected since ${c.lastSeenAt?.toISOString()}`,
      },
      step: (prev) => {
        if (!down) return c.connected && prev ? { value: null } : {};
        const value = c.lastSeenAt!.toISOString();
        return prev === value ? {} : { value, trigger: 'on-agent-disconnected' };
      },
    },
    {
      key: `cert/${c.id}`,
      subject: c.id,
      group: `cert/${c.id}`,
      onset: expiring ? nearExpirySince(cert) : undefined,
      context: {
        cluster,
        since: cert?.notAfter.toISOString(),
        message: cert
          ? `the client certificate of ${c.name}'s agent (serial ${cert.serial}) expires at ${cert.notAfter.toISOString()} and was not renewed`
          : '',
      },
      step: (prev) => {
        if (!expiring) return prev ? { value: null } : {};
        return prev === cert.serial
          ? {}
          : { value: cert.serial, trigger: 'on-certificate-expiring' };
      },
    },
  ];
}
