import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { TemplateError } from '../../../../libs/templating/src/index.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { NotifyBus } from '../database/notify-bus.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { renderMessage, templateData } from './messages.js';
import { OUTBOX_CHANNEL } from './notification.detector.js';
import { DeliveryFailed, NotificationSender } from './notification.sender.js';
import { NotificationsRepository, type ClaimedDelivery } from './notifications.repository.js';
import { NotificationsService } from './notifications.service.js';

const TICK_MS = 1000;
/** Sends in flight per replica: a slow endpoint takes a slot, never the loop. */
const MAX_IN_FLIGHT = 16;
/** A claimed delivery is this replica's for this long (longer than any send may take). */
const LEASE_SECONDS = 75;
const MAX_BACKOFF_MS = 10 * 60_000;
/** At shutdown, sends in flight get this long; the others go back when their lease ends. */
const SHUTDOWN_GRACE_MS = 5000;
const TRIM_TICKS = 3600;

/** Wait before attempt `attempts + 1`: base × 2^(attempts-1), ±20 %, capped. */
export function backoffMs(baseSeconds: number, attempts: number, random = Math.random()): number {
  const exp = Math.min(baseSeconds * 1000 * 2 ** Math.max(attempts - 1, 0), MAX_BACKOFF_MS);
  return Math.round(exp * (0.8 + 0.4 * random));
}

/**
 * Delivers the outbox: claims due rows (SKIP LOCKED, leased, so each is sent by one replica at a
 * time), renders each message, sends it, and records delivered, a retry with backoff, or dead
 * (a permanent refusal, or too many attempts). At least once: a replica killed mid-send leaves the
 * row to be sent again when its lease ends, with the same idempotency key.
 */
@Injectable()
export class NotificationOutbox implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Notifications');
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private ticks = 0;

  constructor(
    private readonly repo: NotificationsRepository,
    private readonly service: NotificationsService,
    private readonly sender: NotificationSender,
    private readonly bus: NotifyBus,
    private readonly metrics: MetricsService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.subscribe(OUTBOX_CHANNEL, () => this.wake());
    this.timer = setInterval(() => {
      if (++this.ticks % TRIM_TICKS === 0) void this.repo.trim().catch(() => undefined);
      this.wake();
    }, TICK_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.pumping;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref()),
    ]);
  }

  private wake(): void {
    if (this.stopped) return;
    this.pumping ??= this.pump()
      .catch((e: unknown) => this.log.warn(`outbox: ${(e as Error).message}`))
      .finally(() => (this.pumping = undefined));
  }

  /** Claims what fits in the free slots and starts sending it. */
  async pump(): Promise<void> {
    const rows = await this.repo.claimDue(MAX_IN_FLIGHT - this.inFlight.size, LEASE_SECONDS);
    for (const row of rows) {
      const p = this.deliver(row)
        .catch((e: unknown) => this.log.error(`delivery ${row.id}: ${(e as Error).message}`))
        .finally(() => {
          this.inFlight.delete(p);
          this.wake();
        });
      this.inFlight.add(p);
    }
  }

  private async deliver(row: ClaimedDelivery): Promise<void> {
    // Its subscription is gone: nothing more is sent for it (the deletion drops its rows; these
    // were left by hubs that kept them).
    if (!row.spec) return this.repo.dropOrphan(row.id);
    const dest = await this.repo.destinationById(row.destinationId);
    if (!dest) return;
    const data = templateData(
      {
        key: row.idempotencyKey,
        subscription: row.subscription,
        count: row.count,
        firstAt: row.firstAt,
        lastAt: row.lastAt,
      },
      row.event,
    );
    let message;
    try {
      message = renderMessage(row.spec.template, data);
    } catch (e) {
      const reason = e instanceof TemplateError ? e.message : (e as Error).message;
      await this.repo.markFailed(row.id, `template: ${reason}`, null);
      this.metrics.notificationAttempts.inc({ type: dest.type, result: 'dead' });
      return;
    }
    // Its subscription may have been deleted since the claim (by any replica): then the row is
    // gone, and nothing more is sent for it.
    if (!(await this.repo.stillQueued(row.id))) return;
    try {
      await this.sender.send(this.service.resolve(dest), {
        key: row.idempotencyKey,
        trigger: row.event.trigger,
        message,
        data,
      });
      await this.repo.markDelivered(row.id);
      this.metrics.notificationAttempts.inc({ type: dest.type, result: 'delivered' });
    } catch (e) {
      const failed = e instanceof DeliveryFailed ? e : new DeliveryFailed((e as Error).message);
      const attempts = row.attempts + 1;
      const dead = failed.permanent || attempts >= this.config.notify.maxAttempts;
      const wait = Math.max(
        backoffMs(this.config.notify.retrySeconds, attempts),
        failed.retryAfterMs ?? 0,
      );
      await this.repo.markFailed(row.id, failed.message, dead ? null : new Date(Date.now() + wait));
      this.metrics.notificationAttempts.inc({ type: dest.type, result: dead ? 'dead' : 'retry' });
      const what = `${row.subscription} → ${dest.name} (${row.trigger}, attempt ${attempts})`;
      if (dead) this.log.warn(`dead letter: ${what}: ${failed.message}`);
      else this.log.debug(`retry in ${Math.round(wait / 1000)} s: ${what}: ${failed.message}`);
    }
  }
}
