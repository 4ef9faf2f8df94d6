import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { NotifyBus } from '../database/notify-bus.js';
import { FleetService, type FleetApp } from './fleet.service.js';

/** What the web console refetches when told so. */
export type ConsoleTopic = 'fleet' | 'applications' | 'clusters' | 'appsets' | 'audit' | 'rollouts';

export type ConsoleEvent =
  | { type: 'invalidate'; topics: ConsoleTopic[] }
  | { type: 'apps'; clusterKey: string; apps: FleetApp[] };

type Listener = (e: ConsoleEvent) => void;

/** Applications changed together beyond this many are refetched whole by the console. */
const MAX_ROWS_PUSHED = 200;
/** Changes arriving within this long are sent together. */
const GATHER_MS = 150;
/** The kept fleet view stays current this long after the last console closed its stream. */
const KEEP_WARM_MS = 10 * 60_000;

/**
 * What to refetch when a table changes. Changes of named applications travel as their rows
 * (`apps` events: the console refetches what it shows of those applications only); the
 * `applications` topic (every application page) is sent only when too many changed to name.
 */
const TOPICS_OF_TABLE: Record<string, ConsoleTopic[]> = {
  app_targets: [],
  app_renders: ['appsets'],
  applications: ['appsets'],
  clusters: ['fleet', 'clusters'],
  application_sets: ['appsets'],
  audit_events: ['audit'],
  rollouts: ['rollouts', 'appsets'],
};

/**
 * The web console's live feed. PostgreSQL triggers say which tables (and which applications)
 * changed, on whichever replica changed them; this replica gathers the notifications for 150 ms,
 * computes the changed applications' fleet rows once, patches them into the kept fleet view
 * and sends them to every open stream. Nothing is read once no console has been open for 10
 * minutes (the kept view is dropped instead).
 */
@Injectable()
export class FleetFeed implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('ConsoleFeed');
  private readonly listeners = new Set<Listener>();
  private readonly enders = new Set<() => void>();
  private topics = new Set<ConsoleTopic>();
  private appIds = new Set<string>();
  private allApps = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private lastListenerAt = 0;

  constructor(
    private readonly bus: NotifyBus,
    private readonly fleet: FleetService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.subscribe('axle_console', (payload) => this.heard(payload));
    // A notification may have been missed while the listener was away: refetch everything.
    this.bus.onReconnect(() => {
      this.fleet.invalidate();
      this.emit({ type: 'invalidate', topics: allTopics() });
    });
    // An agent away past the grace turns its cells Unknown without any table changing.
    this.fleet.onExpiry(() => this.emit({ type: 'invalidate', topics: ['fleet', 'applications'] }));
  }

  onModuleDestroy(): void {
    clearTimeout(this.timer);
    for (const end of [...this.enders]) end();
    this.listeners.clear();
    this.enders.clear();
  }

  get size(): number {
    return this.listeners.size;
  }

  /** `end` is called when the hub shuts down (an open stream would hold the server open). */
  subscribe(listener: Listener, end: () => void): () => void {
    this.listeners.add(listener);
    this.enders.add(end);
    return () => {
      this.listeners.delete(listener);
      this.enders.delete(end);
      this.lastListenerAt = Date.now();
    };
  }

  /** `table` or `table/OP:id,id,…` (an empty id list: too many to name). */
  private heard(payload: string): void {
    if (this.listeners.size === 0 && Date.now() - this.lastListenerAt > KEEP_WARM_MS) {
      // Nobody watching for a while: the kept fleet view is dropped rather than kept current.
      if (payload.split('/')[0].split(':')[0] in TOPICS_OF_TABLE) this.fleet.invalidate();
      return;
    }
    const colon = payload.indexOf(':');
    const [table, op] = (colon < 0 ? payload : payload.slice(0, colon)).split('/');
    for (const t of TOPICS_OF_TABLE[table] ?? []) this.topics.add(t);
    if (colon >= 0) {
      const ids = payload.slice(colon + 1);
      if (!ids) this.allApps = true;
      else for (const id of ids.split(',')) this.appIds.add(id);
      // An application added or deleted changes the rows themselves.
      if (table === 'applications' && op !== 'UPDATE') this.topics.add('fleet');
    }
    this.timer ??= setTimeout(() => void this.flush(), GATHER_MS);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.flushing) {
      this.timer = setTimeout(() => void this.flush(), GATHER_MS);
      return;
    }
    this.flushing = true;
    const topics = this.topics;
    const ids = [...this.appIds];
    const all = this.allApps || ids.length > MAX_ROWS_PUSHED;
    this.topics = new Set();
    this.appIds = new Set();
    this.allApps = false;
    try {
      if (all || topics.has('fleet')) {
        topics.add('fleet');
        if (all) topics.add('applications');
        this.fleet.invalidate();
      } else if (ids.length) {
        const rows = await this.fleet.some(ids);
        this.fleet.patch(rows.clusterKey, rows.apps);
        this.emit({ type: 'apps', ...rows });
      }
      if (topics.size) this.emit({ type: 'invalidate', topics: [...topics] });
    } catch (e) {
      this.fleet.invalidate();
      this.log.warn(`live update failed, asking consoles to refetch: ${(e as Error).message}`);
      this.emit({ type: 'invalidate', topics: allTopics() });
    } finally {
      this.flushing = false;
    }
  }

  private emit(e: ConsoleEvent): void {
    for (const l of this.listeners) l(e);
  }
}

function allTopics(): ConsoleTopic[] {
  return ['fleet', 'applications', 'clusters', 'appsets', 'audit', 'rollouts'];
}
