import { createHmac } from 'node:crypto';
import {
  parseGoTemplate,
  executeGoTemplate,
  TemplateError,
  type ParsedTemplate,
} from '../../../../libs/templating/src/index.js';
import { globMatch } from '../../../../libs/glob/src/index.js';
import type { SubscriptionSpec } from './notification.schemas.js';
import type { EventContext, NotificationEvent, Trigger } from './triggers.js';

/**
 * Which subscription hears which event, what the message says, and how each destination wants
 * it. Pure: no I/O.
 */

export function matches(selector: SubscriptionSpec['selector'], e: EventContext): boolean {
  const any = (patterns: string[] | undefined, value: string | null | undefined) =>
    patterns === undefined ||
    (value !== undefined && value !== null && patterns.some((p) => globMatch(p, value)));
  if (!any(selector.projects, e.app?.project)) return false;
  if (!any(selector.applications, e.app?.name)) return false;
  if (!any(selector.applicationSets, e.app?.applicationSet ?? e.appset?.name)) return false;
  const labels = selector.clusterSelector?.matchLabels;
  if (labels) {
    if (!e.cluster) return false;
    for (const [k, v] of Object.entries(labels)) if (e.cluster.labels[k] !== v) return false;
  }
  return true;
}

/** What a stored delivery holds: the latest event and a short record of all it collapsed. */
export interface DeliveryEvent extends NotificationEvent {
  /** Clusters of the collapsed events, in order, at most MAX_LISTED. */
  clusters: string[];
}

export const MAX_LISTED = 50;

/** Folds a later event of the same group into a delivery. */
export function collapse(into: DeliveryEvent, e: NotificationEvent): DeliveryEvent {
  const clusters = [...into.clusters];
  if (e.cluster && !clusters.includes(e.cluster.name) && clusters.length < MAX_LISTED)
    clusters.push(e.cluster.name);
  return { ...into, ...e, clusters };
}

export function deliveryEvent(e: NotificationEvent): DeliveryEvent {
  return { ...e, clusters: e.cluster ? [e.cluster.name] : [] };
}

const DEFAULT_TITLES: Record<Trigger, string> = {
  'on-sync-succeeded': '{{.app.name}} synced {{.revisionShort}} on {{.where}}',
  'on-sync-failed': '{{.app.name}} failed to sync {{.revisionShort}} on {{.where}}',
  'on-health-degraded': '{{.app.name}} is Degraded on {{.where}}',
  'on-health-recovered': '{{.app.name}} is Healthy again on {{.where}}',
  'on-drift-detected': '{{.app.name}} drifted from git on {{.where}}',
  'on-rollout-halted': 'rollout of {{.rollout.name}} halted at step {{.rollout.step}}',
  'on-rollout-rolled-back': 'rollout of {{.rollout.name}} rolled back',
  'on-deletion-held':
    '{{.appset.name}}: deletion of {{len .appset.pendingDeletion}} application(s) held',
  'on-agent-disconnected': 'agent of {{.cluster.name}} disconnected',
  'on-certificate-expiring': "certificate of {{.cluster.name}}'s agent near expiry",
};

const DEFAULT_BODY =
  '{{.message}}{{if gt .count 1}}\n({{.count}} events from {{.firstAt}} to {{.lastAt}}){{end}}';

export interface Message {
  title: string;
  body: string;
}

/** The data templates see. */
export function templateData(
  d: { key: string; subscription: string; count: number; firstAt: Date; lastAt: Date },
  e: DeliveryEvent,
): Record<string, unknown> {
  const clusters = e.clusters;
  const more = d.count - clusters.length;
  const where =
    clusters.length === 0
      ? ''
      : `${clusters.slice(0, 5).join(', ')}${clusters.length > 5 || more > 0 ? ` and ${Math.max(clusters.length - 5, 0) + Math.max(more, 0)} more` : ''}`;
  return {
    idempotencyKey: d.key,
    trigger: e.trigger,
    subscription: d.subscription,
    count: d.count,
    firstAt: d.firstAt.toISOString(),
    lastAt: d.lastAt.toISOString(),
    app: e.app ?? null,
    cluster: e.cluster ?? null,
    clusters,
    where,
    appset: e.appset ?? null,
    rollout: e.rollout ?? null,
    revision: e.revision ?? '',
    revisionShort: (e.revision ?? '').slice(0, 8),
    sync: e.sync ?? '',
    health: e.health ?? '',
    message: e.message ?? '',
    since: e.since ?? '',
  };
}

const LIMITS = { maxOutputBytes: 64 * 1024, maxSteps: 100_000 };
const MAX_TITLE = 250;
const MAX_BODY = 8 * 1024;

const parsed = new Map<string, ParsedTemplate>();
function parse(text: string): ParsedTemplate {
  let t = parsed.get(text);
  if (!t) {
    t = parseGoTemplate(text, 'notification');
    if (parsed.size > 1000) parsed.clear();
    parsed.set(text, t);
  }
  return t;
}

export function renderMessage(
  template: SubscriptionSpec['template'],
  data: Record<string, unknown>,
): Message {
  const trigger = data.trigger as Trigger;
  const title = executeGoTemplate(parse(template.title ?? DEFAULT_TITLES[trigger]), data, {
    limits: LIMITS,
  });
  const body = executeGoTemplate(parse(template.body ?? DEFAULT_BODY), data, { limits: LIMITS });
  return { title: cut(title.trim(), MAX_TITLE), body: cut(body.trim(), MAX_BODY) };
}

/**
 * Renders a subscription's templates against a sample event of each of its triggers: a template
 * that cannot render is refused when it is stored, not at three in the morning.
 */
export function templateProblems(spec: SubscriptionSpec): { field: string; reason: string }[] {
  const problems: { field: string; reason: string }[] = [];
  for (const trigger of spec.triggers) {
    const data = templateData(
      { key: 'sample', subscription: spec.name, count: 2, firstAt: new Date(), lastAt: new Date() },
      sampleEvent(trigger),
    );
    for (const field of ['title', 'body'] as const) {
      const text = spec.template[field];
      if (text === undefined) continue;
      try {
        executeGoTemplate(parse(text), data, { limits: LIMITS });
      } catch (e) {
        const reason = e instanceof TemplateError ? e.message : (e as Error).message;
        if (!problems.some((p) => p.field === `template.${field}`))
          problems.push({ field: `template.${field}`, reason: `${reason} (trigger ${trigger})` });
      }
    }
  }
  return problems;
}

/**
 * A plausible event of a trigger, for `axle notify test` and template checks: with exactly the
 * fields that trigger's real events carry (cluster events have no application, application
 * events no ApplicationSet), so a template that reads a field its trigger lacks is refused.
 */
export function sampleEvent(trigger: Trigger): DeliveryEvent {
  const app = { name: 'guestbook', project: 'default', applicationSet: 'guestbooks' };
  const cluster = { name: 'prod-east', labels: { env: 'prod' } };
  const base = {
    trigger,
    subject: 'sample',
    group: 'sample',
    value: 'sample',
    at: new Date().toISOString(),
    message: 'a sample message from axle notify test',
  };
  switch (trigger) {
    case 'on-sync-succeeded':
    case 'on-sync-failed':
    case 'on-health-degraded':
    case 'on-health-recovered':
    case 'on-drift-detected':
      return {
        ...base,
        app,
        cluster,
        revision: '0123456789abcdef0123456789abcdef01234567',
        sync: 'Synced',
        health: trigger === 'on-health-degraded' ? 'Degraded' : 'Healthy',
        clusters: ['prod-east', 'prod-west'],
      };
    case 'on-rollout-halted':
    case 'on-rollout-rolled-back':
      return {
        ...base,
        appset: { name: 'guestbooks' },
        rollout: {
          kind: 'appset',
          name: 'guestbooks',
          status: trigger === 'on-rollout-halted' ? 'Halted' : 'RolledBack',
          step: 2,
        },
        clusters: [],
      };
    case 'on-deletion-held':
      return {
        ...base,
        appset: { name: 'guestbooks', pendingDeletion: ['guestbook-a', 'guestbook-b'] },
        clusters: [],
      };
    case 'on-agent-disconnected':
    case 'on-certificate-expiring':
      return { ...base, cluster, since: new Date().toISOString(), clusters: ['prod-east'] };
  }
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

// --- wire formats ------------------------------------------------------------------------------

export interface Outgoing {
  key: string;
  trigger: Trigger;
  message: Message;
  data: Record<string, unknown>;
}

/** The generic webhook's JSON body: the message, the event and the idempotency key. */
export function webhookBody(o: Outgoing, sentAt: Date): string {
  const { idempotencyKey, ...event } = o.data;
  return JSON.stringify({
    idempotencyKey,
    trigger: o.trigger,
    title: o.message.title,
    message: o.message.body,
    sentAt: sentAt.toISOString(),
    event,
  });
}

/** GitHub's convention: `sha256=` + hex HMAC-SHA256 of the exact body bytes. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Slack incoming webhook: text for notifications, blocks for the channel. */
export function slackBody(o: Outgoing): string {
  return JSON.stringify({
    text: `${o.message.title}\n${o.message.body}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: o.message.title.slice(0, 150) } },
      ...(o.message.body
        ? [{ type: 'section', text: { type: 'mrkdwn', text: o.message.body.slice(0, 3000) } }]
        : []),
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `axle · ${o.trigger} · ${o.key}` }],
      },
    ],
  });
}

/** Microsoft Teams (Workflows webhook): one Adaptive Card. */
export function teamsBody(o: Outgoing): string {
  const facts = [
    ['Trigger', o.trigger],
    ['Application', (o.data.app as { name?: string } | null)?.name],
    ['Clusters', o.data.where as string],
    ['Revision', o.data.revisionShort as string],
    ['Idempotency key', o.key],
  ].filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== '');
  return JSON.stringify({
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              size: 'Medium',
              weight: 'Bolder',
              text: o.message.title,
              wrap: true,
            },
            ...(o.message.body ? [{ type: 'TextBlock', text: o.message.body, wrap: true }] : []),
            { type: 'FactSet', facts: facts.map(([title, value]) => ({ title, value })) },
          ],
        },
      },
    ],
  });
}
