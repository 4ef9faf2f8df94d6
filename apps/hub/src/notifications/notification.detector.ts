import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { NotifyBus } from '../database/notify-bus.js';
import type { Db } from '../database/sql.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { planDeliveries, route } from './outbox-plan.js';
import {
  BASELINE_KEY,
  DETECTOR_LOCK_KEY,
  NotificationsRepository,
  type SubscriptionRow,
} from './notifications.repository.js';
import {
  clusterChecks,
  deletionHeldCheck,
  rolloutCheck,
  targetChecks,
  transitions,
  type Check,
  type Trigger,
} from './triggers.js';

const TICK_MS = 1000;
/** Rollouts, ApplicationSets and clusters are looked at every this many ticks. */
const SLOW_EVERY = 3;
/** Targets are read again from a little before the newest change seen (late commits). */
const OVERLAP_MS = 5000;
/** Every so often, everything is read again and state of deleted subjects is forgotten. */
const FULL_SCAN_TICKS = 600;

/** Triggers about applications on clusters (read from every target: only while subscribed). */
const TARGET_TRIGGERS = new Set<Trigger>([
  'on-sync-succeeded',
  'on-sync-failed',
  'on-health-degraded',
  'on-health-recovered',
  'on-drift-detected',
]);
/** Present while target state is kept current (a subscription wants target triggers). */
const TARGETS_KEY = '#targets';
/** Triggers about clusters' agents (read from every cluster: only while subscribed). */
const CLUSTER_TRIGGERS = new Set<Trigger>(['on-agent-disconnected', 'on-certificate-expiring']);
/** Present while cluster state is kept current (a subscription wants cluster triggers). */
const CLUSTERS_KEY = '#clusters';

/** Channel on which a new outbox row wakes the senders of every replica. */
export const OUTBOX_CHANNEL = 'axle_notifications';

/**
 * Notices what is worth telling someone: compares what agents reported (targets), rollouts,
 * ApplicationSets and clusters with what was last noticed, and writes the events that fire, for
 * every subscription that hears them, into the outbox, in the transaction that stores what it
 * noticed. A hub killed at any point therefore neither loses nor repeats an event. Reads targets
 * incrementally (by their change time), the small tables in full.
 */
@Injectable()
export class NotificationDetector implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('Notifications');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private since: Date | undefined;
  private ticks = 0;

  constructor(
    private readonly repo: NotificationsRepository,
    private readonly bus: NotifyBus,
    private readonly metrics: MetricsService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  /**
   * The first look runs before the hub serves requests: on a new hub it records the baseline
   * before anything can happen that would be news.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.tick().catch((e: unknown) =>
      this.log.error(`detection failed: ${(e as Error).message}`),
    );
    this.timer = setInterval(() => {
      this.running ??= this.tick()
        .then(() => undefined)
        .catch((e: unknown) => this.log.error(`detection failed: ${(e as Error).message}`))
        .finally(() => (this.running = undefined));
    }, TICK_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One look; returns the number of deliveries written. */
  async tick(): Promise<number> {
    const tick = this.ticks++;
    const full = tick % FULL_SCAN_TICKS === 0;
    if (full && tick > 0) await this.repo.forgetOrphans();
    const slow = full || tick % SLOW_EVERY === 0;
    const result = await this.repo.transaction(async (db) => {
      if (!(await this.repo.tryLock(db, DETECTOR_LOCK_KEY))) return undefined;
      return this.detect(db, full ? undefined : this.since, slow);
    });
    // Another replica detects: should this one take over, it starts from where it left off
    // (older than needed, so still correct).
    if (!result) return 0;
    if (result.newest) this.since = new Date(result.newest.getTime() - OVERLAP_MS);
    if (result.written > 0) await this.bus.publish(OUTBOX_CHANNEL, '').catch(() => undefined);
    return result.written;
  }

  /**
   * Whether the state behind `key` (targets, clusters) is kept current: while a subscription asks
   * for one of `triggers`; otherwise reading it every few seconds (every target, every cluster)
   * would be for nothing. On the first look after it was not (`key` absent from `current`), a
   * baseline: returns the time up to which a condition found is recorded without firing (when the
   * listening subscriptions were made or last replaced; state kept from an earlier subscription
   * may be stale).
   */
  private async watching(
    db: Db,
    key: string,
    triggers: Set<Trigger>,
    subs: SubscriptionRow[],
    current: ReadonlyMap<string, unknown>,
    now: Date,
  ): Promise<{ on: false } | { on: true; quietUpTo?: number }> {
    const kept = current.has(key);
    const listening = subs.filter((s) => s.spec.triggers.some((t) => triggers.has(t)));
    if (listening.length === 0) {
      if (kept) await this.repo.writeState(db, [{ key, value: null }]);
      return { on: false };
    }
    if (kept) return { on: true };
    await this.repo.writeState(db, [{ key, value: now.toISOString() }]);
    return { on: true, quietUpTo: Math.min(...listening.map((s) => s.changedAt.getTime())) };
  }

  private async detect(
    db: Db,
    since: Date | undefined,
    slow: boolean,
  ): Promise<{ newest: Date | undefined; written: number }> {
    const now = await this.repo.now(db);
    // On the detection's own connection: deletions of subscriptions wait for it, holding theirs.
    const subs = await this.repo.subscriptions(undefined, db);
    const checks: Check[] = [];
    let newest: Date | undefined;
    const current = await this.repo.state(db, [TARGETS_KEY, CLUSTERS_KEY]);
    // A condition that began before the subscriptions listening for it is not news.
    const baseline = (quietUpTo: number | undefined, began: number | undefined) =>
      quietUpTo !== undefined && (began === undefined || began <= quietUpTo);
    const targets = await this.watching(db, TARGETS_KEY, TARGET_TRIGGERS, subs, current, now);
    if (targets.on) {
      const resumed = targets.quietUpTo !== undefined;
      const changed = await this.repo.targetsChangedSince(db, resumed ? undefined : since);
      // Where the next look starts: the newest change seen (after a full look at nothing, now).
      newest = changed.newest ?? (since === undefined || resumed ? now : undefined);
      for (const r of changed.rows) {
        const quietly = baseline(targets.quietUpTo, r.updatedAt?.getTime());
        checks.push(...targetChecks(r).map((c) => (quietly ? quietCheck(c) : c)));
      }
    }
    if (slow) {
      for (const r of await this.repo.rollouts(db)) checks.push(rolloutCheck(r));
      for (const a of await this.repo.appSetDeletions(db)) checks.push(deletionHeldCheck(a));
      const clusters = await this.watching(db, CLUSTERS_KEY, CLUSTER_TRIGGERS, subs, current, now);
      if (clusters.on) {
        const after = this.config.notify.disconnectedSeconds * 1000;
        for (const c of await this.repo.clusterObservations(db))
          for (const check of clusterChecks(c, now, after))
            checks.push(
              check.onset !== undefined && baseline(clusters.quietUpTo, check.onset)
                ? quietCheck(check)
                : check,
            );
      }
    }
    const stored = await this.repo.state(db, [BASELINE_KEY, ...checks.map((c) => c.key)]);
    const t = transitions(checks, stored, now);
    await this.repo.writeState(db, t.writes);
    if (!stored.has(BASELINE_KEY)) {
      // The very first look (a new hub, or one upgraded to notifications): what is already
      // there is the baseline, not news.
      await this.repo.writeState(db, [{ key: BASELINE_KEY, value: now.toISOString() }]);
      return { newest, written: 0 };
    }
    if (t.events.length === 0) return { newest, written: 0 };
    for (const e of t.events) this.metrics.notificationEvents.inc({ trigger: e.trigger });
    const groups = route(t.events, subs);
    if (groups.size === 0) return { newest, written: 0 };
    const heads = await this.repo.latestOfGroups(db, [...groups.keys()]);
    const plan = planDeliveries(groups, heads, now);
    await this.repo.mergeDeliveries(db, plan.merges);
    await this.repo.insertDeliveries(db, plan.inserts);
    return { newest, written: plan.inserts.length + plan.merges.length };
  }
}

/** A check that records its state without firing. */
function quietCheck(c: Check): Check {
  return {
    ...c,
    step: (prev) => {
      const step = c.step(prev);
      return step.value === undefined ? {} : { value: step.value };
    },
  };
}
