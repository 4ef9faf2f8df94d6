import { createHash } from 'node:crypto';
import { collapse, deliveryEvent, matches, type DeliveryEvent } from './messages.js';
import type { NewDelivery, SubscriptionRow } from './notifications.repository.js';
import type { NotificationEvent } from './triggers.js';

/** The newest stored delivery of a group, as the plan needs it. */
export interface GroupHead {
  id: number;
  status: string;
  attempts: number;
  leaseUntil: Date | null;
  createdAt: Date;
  event: DeliveryEvent;
}

export interface DeliveryPlan {
  inserts: NewDelivery[];
  merges: { id: number; event: DeliveryEvent; count: number }[];
}

export const groupKey = (subscriptionId: string, e: NotificationEvent) =>
  `${subscriptionId}|${e.trigger}|${e.group}`;

/** Events for each subscription that hears them, by group. */
export function route(
  events: NotificationEvent[],
  subs: SubscriptionRow[],
): Map<string, { sub: SubscriptionRow; events: NotificationEvent[] }> {
  const groups = new Map<string, { sub: SubscriptionRow; events: NotificationEvent[] }>();
  for (const e of events) {
    for (const sub of subs) {
      if (!sub.spec.triggers.includes(e.trigger) || !matches(sub.spec.selector, e)) continue;
      const k = groupKey(sub.id, e);
      const g = groups.get(k);
      if (g) g.events.push(e);
      else groups.set(k, { sub, events: [e] });
    }
  }
  return groups;
}

/**
 * Decides, per group, between folding new events into the group's delivery that has not been
 * attempted yet, and a new delivery. A new one waits `groupWaitSeconds` for others to join; when
 * the group already sent within `windowSeconds`, it waits for the window's end: a flapping app
 * sends one summary per window, not a message per flap.
 */
export function planDeliveries(
  groups: Map<string, { sub: SubscriptionRow; events: NotificationEvent[] }>,
  heads: ReadonlyMap<string, GroupHead>,
  now: Date,
): DeliveryPlan {
  const plan: DeliveryPlan = { inserts: [], merges: [] };
  for (const [k, { sub, events }] of groups) {
    const head = heads.get(k);
    const open =
      head?.status === 'Pending' &&
      head.attempts === 0 &&
      (head.leaseUntil === null || head.leaseUntil < now);
    if (head && open) {
      plan.merges.push({
        id: head.id,
        event: events.reduce(collapse, head.event),
        count: events.length,
      });
      continue;
    }
    let notBefore = now.getTime() + sub.spec.groupWaitSeconds * 1000;
    if (head && sub.spec.windowSeconds > 0)
      notBefore = Math.max(notBefore, head.createdAt.getTime() + sub.spec.windowSeconds * 1000);
    const [first, ...rest] = events;
    plan.inserts.push({
      idempotencyKey: createHash('sha256')
        .update(`${k}|${first.subject}|${first.value}|${first.at}`)
        .digest('hex')
        .slice(0, 40),
      groupKey: k,
      subscriptionId: sub.id,
      subscription: sub.name,
      destinationId: sub.destinationId,
      trigger: first.trigger,
      event: rest.reduce(collapse, deliveryEvent(first)),
      count: events.length,
      notBefore: new Date(notBefore),
    });
  }
  return plan;
}
