import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { DataSource } from 'typeorm';

type Handler = (payload: string) => void;

/** A PostgreSQL server process (pg_stat_activity's pid and backend_start). */
export interface ListenerBackend {
  pid: number;
  /** backend_start as the server prints it (text: a Date would lose its microseconds). */
  start: string;
  /** When this process got it (Date.now()). */
  since: number;
  /** Got on a reconnect (after the listening connection was lost), not at start. */
  reconnected: boolean;
}

/** The longest wait between attempts to get the listening connection back. */
const MAX_RECONNECT_DELAY_MS = 5000;

export interface NotifyBusOptions {
  /**
   * How often the listening connection is checked with a query, and how long that query may take
   * before the connection counts as lost. A listener only receives: without this, a connection
   * whose far end vanished without a reset (a NAT or load balancer forgetting it, a partition, a
   * failed-over primary's host gone) would be trusted for as long as TCP keepalive takes (minutes),
   * and this replica's agents would hear of no work meanwhile.
   */
  pingMs: number;
  pingTimeoutMs: number;
}

const DEFAULT_OPTIONS: NotifyBusOptions = { pingMs: 10_000, pingTimeoutMs: 5_000 };

/**
 * PostgreSQL LISTEN/NOTIFY as the hub's notification bus: whichever replica holds an agent's
 * stream hears that the agent has work. One dedicated connection listens; it reconnects with
 * backoff and, after reconnecting, tells subscribers to resynchronise (a notification may have
 * been missed while it was down).
 */
export class NotifyBus {
  private readonly log = new Logger('NotifyBus');
  private client?: pg.Client;
  private readonly handlers = new Map<string, Set<Handler>>();
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;

  private readonly reconnectListeners: (() => void)[] = [];
  private identity?: ListenerBackend;
  private started = false;
  private pingTimer?: NodeJS.Timeout;
  private pinging = false;

  constructor(
    private readonly url: string,
    private readonly ds: DataSource,
    private readonly opts: NotifyBusOptions = DEFAULT_OPTIONS,
  ) {}

  /** Called after the listener reconnects: notifications may have been missed meanwhile. */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async start(): Promise<void> {
    await this.connect();
    this.pingTimer = setInterval(() => void this.ping(), this.opts.pingMs);
    this.pingTimer.unref();
  }

  /** Checks the listening connection with a query; one that does not answer in time is lost. */
  private async ping(): Promise<void> {
    const client = this.client;
    if (!client || this.pinging || this.closed) return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.opts.pingTimeoutMs} ms`)),
            this.opts.pingTimeoutMs,
          );
        }),
      ]);
    } catch (e) {
      if (client === this.client) {
        this.log.warn(`listener connection lost: ${(e as Error).message}`);
        this.scheduleReconnect(250);
      }
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  /**
   * The server process behind the listening connection, and since when this bus has had it
   * (undefined while reconnecting). Replicas record it: a backend that is gone is a replica that
   * lost its connection, most often because it died.
   */
  backend(): ListenerBackend | undefined {
    return this.identity;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      // A server that does not answer is retried (with backoff), not waited for: neither while
      // connecting nor in the queries that set the connection up (LISTEN, its backend), which
      // nothing else would time out while it is not yet the one pinged.
      connectionTimeoutMillis: Math.max(this.opts.pingMs, 10_000),
      query_timeout: Math.max(this.opts.pingMs, 10_000),
    });
    client.on('notification', (n) => {
      for (const h of this.handlers.get(n.channel) ?? []) h(n.payload ?? '');
    });
    client.on('error', (e) => {
      if (this.client && client !== this.client) return; // one already given up
      this.log.warn(`listener connection lost: ${e.message}`);
      this.scheduleReconnect(1000);
    });
    let rows: { pid: number; start: string }[];
    try {
      await client.connect();
      for (const channel of this.handlers.keys())
        await client.query(`LISTEN ${quoteIdent(channel)}`);
      ({ rows } = await client.query<{ pid: number; start: string }>(
        'SELECT pid, backend_start::text AS start FROM pg_stat_activity WHERE pid = pg_backend_pid()',
      ));
    } catch (e) {
      discard(client); // half made: not left open beside the next attempt
      throw e;
    }
    this.identity = rows[0]
      ? {
          pid: rows[0].pid,
          start: rows[0].start,
          since: Date.now(),
          reconnected: this.started,
        }
      : undefined;
    this.started = true;
    this.client = client;
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.closed || this.reconnectTimer) return;
    const old = this.client;
    this.client = undefined;
    this.identity = undefined;
    if (old) discard(old);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().then(
        () => this.reconnectListeners.forEach((l) => l()),
        () => this.scheduleReconnect(Math.min(delayMs * 2, MAX_RECONNECT_DELAY_MS)),
      );
    }, delayMs);
  }

  async subscribe(channel: string, handler: Handler): Promise<void> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.client?.query(`LISTEN ${quoteIdent(channel)}`);
    }
    set.add(handler);
  }

  async publish(channel: string, payload: string): Promise<void> {
    await this.ds.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    await this.client?.end().catch(() => undefined);
  }
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** Closes a client at once: end() waits for the server's answer, which a vanished one never gives. */
function discard(client: pg.Client): void {
  (
    client as unknown as { connection?: { stream?: { destroy(): void } } }
  ).connection?.stream?.destroy();
  void client.end().catch(() => undefined);
}
