import { Logger } from '@nestjs/common';
import {
  credentials,
  Metadata,
  status as GrpcStatus,
  type ClientDuplexStream,
} from '@grpc/grpc-js';
import { backoffDelay } from '../../../libs/workqueue/src/backoff.js';
import {
  AgentGatewayClient,
  type AgentMessage,
  type HubMessage,
  type InventoryItem,
  type Welcome,
} from '../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { AgentIdentity } from './identity.js';

export const AGENT_VERSION = '0.1.0';
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** A connection that stayed up this long resets the backoff. */
const STABLE_AFTER_MS = 10_000;

export interface ConnectionHandlers {
  inventory(): InventoryItem[];
  /** Called for each hub message, strictly in order. */
  onMessage(msg: HubMessage): Promise<void>;
  /** Called when the hub has welcomed this agent (after every reconnect). */
  onWelcome(welcome: Welcome): void;
}

/** A stream that ended: why (the gRPC details or what ended it), its gRPC code, when, the how-many-th. */
export interface Disconnect {
  why: string;
  code?: GrpcStatus;
  at: number;
  count: number;
}

/**
 * The agent's outbound stream to the hub. Dials, says Hello with its inventory, and reconnects
 * with capped exponential backoff and full jitter for as long as it runs. Given several hub
 * addresses (replicas), it moves to the next one whenever a stream ends or cannot be opened.
 */
export class HubConnection {
  private readonly log = new Logger('HubConnection');
  private client: AgentGatewayClient | undefined;
  private call: ClientDuplexStream<AgentMessage, HubMessage> | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private welcomed = false;
  private readonly addresses: string[];
  private current = 0;

  private renewTimer: NodeJS.Timeout | undefined;
  private handlers!: ConnectionHandlers;

  constructor(
    address: string,
    private readonly auth: { token: string } | { identity: AgentIdentity; renewCheckMs: number },
    private readonly cluster: string,
    private readonly backoff: { baseMs: number; capMs: number },
  ) {
    this.addresses = address.split(',').filter(Boolean);
  }

  /** The hub address dialled now. */
  get address(): string {
    return this.addresses[this.current];
  }

  /** Moves on to the next hub address (when there are several). */
  private rotate(): void {
    if (this.addresses.length < 2) return;
    this.current = (this.current + 1) % this.addresses.length;
    this.client?.close();
    this.client = undefined;
  }

  /** The channel: plain with a bearer token, or TLS with the agent's client certificate. */
  private async ensureClient(): Promise<AgentGatewayClient> {
    if (this.client) return this.client;
    const creds =
      'token' in this.auth ? credentials.createInsecure() : await this.auth.identity.credentials();
    this.client = new AgentGatewayClient(this.address, creds, {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': this.backoff.baseMs,
      'grpc.max_reconnect_backoff_ms': this.backoff.capMs,
    });
    return this.client;
  }

  /** Renews the certificate when due and reconnects with it. */
  private async renew(): Promise<void> {
    if ('token' in this.auth || this.stopped) return;
    if (await this.auth.identity.renewIfDue(this.address)) {
      const old = this.client;
      this.client = undefined;
      this.call?.cancel();
      old?.close();
    }
  }

  get connected(): boolean {
    return this.welcomed;
  }

  /** How the last stream ended (why, gRPC code, when) and how many have ended so far. */
  get lastDisconnect(): Disconnect | undefined {
    return this.disconnect;
  }

  private disconnect: Disconnect | undefined;

  /** Dials, and keeps a stream open until stopped; `handlers` receive what the hub sends. */
  start(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
    this.dial();
    if (!('token' in this.auth)) {
      this.renewTimer = setInterval(
        () =>
          void this.renew().catch((e: unknown) =>
            this.log.warn(`certificate renewal failed: ${(e as Error).message}`),
          ),
        this.auth.renewCheckMs,
      );
      this.renewTimer.unref();
    }
  }

  /** Sends if connected; returns false when the message could not be sent now. */
  send(msg: AgentMessage): boolean {
    if (!this.call || !this.welcomed) return false;
    this.call.write(msg);
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.renewTimer);
    this.call?.cancel();
    this.call = undefined;
    this.client?.close();
  }

  private dial(): void {
    if (this.stopped) return;
    this.ensureClient().then(
      (client) => this.open(client),
      (e: unknown) => {
        // Enrollment failed (bad or spent bootstrap token, hub unreachable): try again later.
        const delay = backoffDelay(this.attempt++, this.backoff.baseMs, this.backoff.capMs);
        this.log.error(
          `cannot get a client certificate: ${(e as { details?: string }).details ?? (e as Error).message}; retrying in ${delay} ms`,
        );
        this.timer = setTimeout(() => this.dial(), delay);
      },
    );
  }

  private open(client: AgentGatewayClient): void {
    if (this.stopped) return;
    const md = new Metadata();
    if ('token' in this.auth) md.set('authorization', `Bearer ${this.auth.token}`);
    const call = client.connect(md);
    this.call = call;
    this.welcomed = false;
    const openedAt = Date.now();
    let chain = Promise.resolve();
    let ended = false;

    call.on('data', (msg: HubMessage) => {
      if (msg.msg?.$case === 'welcome') {
        this.welcomed = true;
        this.log.log(`connected to the hub as cluster "${msg.msg.value.cluster}"`);
        this.handlers.onWelcome(msg.msg.value);
        return;
      }
      chain = chain.then(() =>
        this.handlers
          .onMessage(msg)
          .catch((e: unknown) => this.log.error(`handling ${msg.msg?.$case}: ${String(e)}`)),
      );
    });
    const retry = (why: string, code?: GrpcStatus) => {
      if (ended) return;
      ended = true;
      this.welcomed = false;
      this.disconnect = { why, code, at: Date.now(), count: (this.disconnect?.count ?? 0) + 1 };
      if (this.call === call) this.call = undefined;
      if (this.stopped) return;
      if (Date.now() - openedAt > STABLE_AFTER_MS) this.attempt = 0;
      const delay = backoffDelay(this.attempt++, this.backoff.baseMs, this.backoff.capMs);
      this.rotate();
      const level =
        code === GrpcStatus.UNAUTHENTICATED || code === GrpcStatus.PERMISSION_DENIED
          ? 'error'
          : 'warn';
      this.log[level](`stream closed (${why}); reconnecting in ${delay} ms`);
      this.timer = setTimeout(() => this.dial(), delay);
    };
    call.on('error', (e: Error & { code?: GrpcStatus; details?: string }) =>
      retry(e.details || e.message, e.code),
    );
    call.on('end', () => retry('hub ended the stream'));
    call.on('close', () => retry('closed'));

    call.write({
      msg: {
        $case: 'hello',
        value: {
          cluster: this.cluster,
          agentVersion: AGENT_VERSION,
          inventory: this.handlers.inventory(),
        },
      },
    });
  }
}
