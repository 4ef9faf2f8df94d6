import { randomUUID } from 'node:crypto';
import { BadGatewayException, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound, ValidationFailed } from '../common/validation.js';
import { SecretBox } from '../secrets/secret-box.js';
import { renderMessage, sampleEvent, templateData, templateProblems } from './messages.js';
import type { CreateDestination, SubscriptionSpec } from './notification.schemas.js';
import { redactUrl as redact } from '../common/http-body.js';
import {
  DeliveryFailed,
  NotificationSender,
  type ResolvedDestination,
} from './notification.sender.js';
import {
  NotificationsRepository,
  type DeliveryRow,
  type DeliveryStatus,
  type DestinationRow,
} from './notifications.repository.js';
import { TRIGGERS, type Trigger } from './triggers.js';

export interface DestinationView {
  name: string;
  type: string;
  /** What is not secret; secret parts show as `<redacted>`, URLs of Slack and Teams as origins. */
  config: Record<string, unknown>;
  createdAt: string;
}

export interface SubscriptionView extends SubscriptionSpec {
  createdAt: string;
}

export interface DeliveryView {
  id: number;
  idempotencyKey: string;
  subscription: string;
  destination: string;
  trigger: string;
  subject: string;
  count: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string;
  createdAt: string;
  deliveredAt: string | null;
}

/** Splits a destination into what may be shown and what is sealed. */
function split(d: CreateDestination): { config: Record<string, unknown>; secret: object | null } {
  switch (d.type) {
    case 'webhook':
      // The URL may carry a token (query string, path): sealed, shown as its origin.
      return {
        config: {
          url: redact(d.url),
          timeoutSeconds: d.timeoutSeconds,
          signed: d.secret !== undefined,
          headers: Object.keys(d.headers ?? {}),
        },
        secret: { url: d.url, secret: d.secret, headers: d.headers },
      };
    case 'slack':
    case 'teams':
      return {
        config: { url: redact(d.url), timeoutSeconds: d.timeoutSeconds },
        secret: { url: d.url },
      };
    case 'email': {
      const { password, ...smtp } = d.smtp;
      return {
        config: { smtp, from: d.from, to: d.to, timeoutSeconds: d.timeoutSeconds },
        secret: password ? { password } : null,
      };
    }
  }
}

/** Destinations and subscriptions (API and CLI), `notify test`, and the outbox's view. */
@Injectable()
export class NotificationsService {
  constructor(
    private readonly repo: NotificationsRepository,
    private readonly box: SecretBox,
    private readonly sender: NotificationSender,
    private readonly audit: AuditService,
  ) {}

  async createDestination(d: CreateDestination): Promise<DestinationView> {
    const { config, secret } = split(d);
    try {
      await this.repo.insertDestination({
        name: d.name,
        type: d.type,
        config,
        secretSealed: secret ? this.box.seal(JSON.stringify(secret)) : null,
      });
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505')
        throw new Conflict(`destination "${d.name}" already exists`);
      throw e;
    }
    const v = destinationView(await this.destination(d.name));
    await this.audit.record(
      'notification.destination.create',
      'NotificationDestination',
      d.name,
      undefined,
      v,
    );
    return v;
  }

  async destinations(): Promise<DestinationView[]> {
    return (await this.repo.destinations()).map(destinationView);
  }

  async deleteDestination(name: string): Promise<void> {
    const r = await this.repo.deleteDestination(name);
    if (!r) throw new NotFound(`no destination "${name}"`);
    if ('users' in r)
      throw new Conflict(
        `destination "${name}" is used by subscription(s) ${r.users.join(', ')}: delete them first`,
      );
    await this.audit.record(
      'notification.destination.delete',
      'NotificationDestination',
      name,
      destinationView(r.deleted),
      undefined,
    );
  }

  /** Sends a sample message now (not through the outbox) and says whether it arrived. */
  async test(
    name: string,
    trigger: Trigger = 'on-sync-succeeded',
  ): Promise<{ delivered: true; idempotencyKey: string }> {
    if (!TRIGGERS.includes(trigger))
      throw new ValidationFailed('invalid trigger', [
        { field: 'trigger', reason: `must be one of ${TRIGGERS.join(', ')}` },
      ]);
    const d = await this.destination(name);
    const key = `test-${randomUUID()}`;
    const data = templateData(
      { key, subscription: 'axle-notify-test', count: 1, firstAt: new Date(), lastAt: new Date() },
      sampleEvent(trigger),
    );
    try {
      await this.sender.send(this.resolve(d), {
        key,
        trigger,
        message: renderMessage({}, data),
        data,
      });
    } catch (e) {
      if (e instanceof DeliveryFailed)
        throw new BadGatewayException(`destination ${name}: ${e.message}`);
      throw e;
    }
    return { delivered: true, idempotencyKey: key };
  }

  /** Creates or (with `replace`) replaces a subscription; its templates must render. */
  async applySubscription(
    spec: SubscriptionSpec,
    replace = true,
  ): Promise<{ subscription: SubscriptionView; created: boolean }> {
    const problems = templateProblems(spec);
    if (problems.length) throw new ValidationFailed('invalid subscription', problems);
    const r = await this.repo.writeSubscription(spec, replace);
    if (r === 'no-destination')
      throw new ValidationFailed('invalid subscription', [
        { field: 'destination', reason: `no destination "${spec.destination}"` },
      ]);
    if (r === 'exists') throw new Conflict(`subscription "${spec.name}" already exists`);
    const { created, before } = r;
    const after = await this.subscription(spec.name);
    await this.audit.record(
      created ? 'notification.subscription.create' : 'notification.subscription.update',
      'NotificationSubscription',
      spec.name,
      before,
      after,
    );
    return { subscription: after, created };
  }

  async subscriptions(): Promise<SubscriptionView[]> {
    return (await this.repo.subscriptions()).map((s) => ({
      ...s.spec,
      destination: s.destination,
      createdAt: s.createdAt.toISOString(),
    }));
  }

  async subscription(name: string): Promise<SubscriptionView> {
    const s = (await this.repo.subscriptions(name))[0];
    if (!s) throw new NotFound(`no subscription "${name}"`);
    return { ...s.spec, destination: s.destination, createdAt: s.createdAt.toISOString() };
  }

  async deleteSubscription(name: string): Promise<void> {
    const s = (await this.repo.subscriptions(name))[0];
    if (!s) throw new NotFound(`no subscription "${name}"`);
    if (!(await this.repo.deleteSubscription(s.id)))
      throw new ServiceUnavailableException(
        `subscription "${name}" was not deleted: the notification detector is still writing deliveries after 15 s; try again`,
      );
    await this.audit.record(
      'notification.subscription.delete',
      'NotificationSubscription',
      name,
      s.spec,
      undefined,
    );
  }

  async deliveries(q: {
    status?: DeliveryStatus;
    subscription?: string;
    limit?: number;
  }): Promise<DeliveryView[]> {
    const rows = await this.repo.deliveries({
      ...q,
      limit: Math.min(Math.max(q.limit ?? 100, 1), 1000),
    });
    return rows.map(deliveryView);
  }

  async retry(id: number): Promise<void> {
    if (!(await this.repo.retry(id)))
      throw new NotFound(
        `no dead delivery ${id} of a subscription that exists (only those can be retried)`,
      );
    await this.audit.record(
      'notification.delivery.retry',
      'NotificationDelivery',
      String(id),
      undefined,
      undefined,
    );
  }

  /** The destination with its secrets opened, for one send. */
  resolve(d: DestinationRow): ResolvedDestination {
    const secret = d.secretSealed
      ? (JSON.parse(this.box.open(d.secretSealed)) as Record<string, unknown>)
      : {};
    const c = d.config;
    switch (d.type) {
      case 'webhook':
        return {
          type: 'webhook',
          url: secret.url as string,
          secret: secret.secret as string | undefined,
          headers: secret.headers as Record<string, string> | undefined,
          timeoutSeconds: c.timeoutSeconds as number | undefined,
        };
      case 'slack':
      case 'teams':
        return {
          type: d.type,
          url: secret.url as string,
          timeoutSeconds: c.timeoutSeconds as number | undefined,
        };
      case 'email': {
        const smtp = c.smtp as Extract<ResolvedDestination, { type: 'email' }>['smtp'];
        return {
          type: 'email',
          smtp: { ...smtp, password: secret.password as string | undefined },
          from: c.from as string,
          to: c.to as string[],
          timeoutSeconds: c.timeoutSeconds as number | undefined,
        };
      }
    }
  }

  private async destination(name: string): Promise<DestinationRow> {
    const d = (await this.repo.destinations(name))[0];
    if (!d) throw new NotFound(`no destination "${name}"`);
    return d;
  }
}

function destinationView(d: DestinationRow): DestinationView {
  return { name: d.name, type: d.type, config: d.config, createdAt: d.createdAt.toISOString() };
}

function deliveryView(d: DeliveryRow): DeliveryView {
  return {
    id: d.id,
    idempotencyKey: d.idempotencyKey,
    subscription: d.subscription,
    destination: d.destination,
    trigger: d.trigger,
    subject:
      [d.event.app?.name, d.event.appset?.name, d.event.cluster?.name].filter(Boolean).join(' ') ||
      d.event.subject,
    count: d.count,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'Pending' ? d.nextAttemptAt.toISOString() : null,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
  };
}
