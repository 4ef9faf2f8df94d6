import { Logger } from '@nestjs/common';
import type { ClusterInfo } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';

/** Reads what the cluster's API server serves (KubeClient.serverCapabilities). */
export interface CapabilitiesSource {
  serverCapabilities(): Promise<ClusterInfo>;
}

export interface ClusterInfoOptions {
  /** How often discovery is read again while the hub listens. */
  intervalMs: number;
  /** How long after a change the agent applied (a CRD, an APIService) it is read again. */
  soonMs?: number;
}

/**
 * Tells a hub that understands it ("cluster-info" in Welcome.features) what this cluster's API
 * server serves: after every Welcome, then whenever a periodic read of discovery, or one soon
 * after the agent applied a CustomResourceDefinition or APIService, finds it changed; the
 * periodic read sends it anyway (the hub stores an unchanged report for the price of a hash). The
 * hub renders Helm charts and plugins for it. Nothing is queued while the stream is down: the
 * next Welcome sends the current state.
 */
export class ClusterInfoReporter {
  private readonly log = new Logger('Agent');
  private enabled = false;
  /** What the hub was last sent on this stream (JSON), undefined after a Welcome. */
  private lastSent: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Another read asked for while one runs (undefined: none), and whether it sends anyway. */
  private again: { force: boolean } | undefined;

  constructor(
    private readonly source: CapabilitiesSource,
    private readonly send: (info: ClusterInfo) => boolean,
    private readonly opts: ClusterInfoOptions,
  ) {}

  /** A hub welcomed this agent: whether it takes ClusterInfo. */
  welcomed(features: readonly string[]): void {
    this.enabled = features.includes('cluster-info');
    this.lastSent = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.enabled) return;
    // The periodic read sends even what did not change: a report the hub failed to store (its
    // database away for a moment) is not lost for good.
    this.timer = setInterval(() => void this.refresh(true), this.opts.intervalMs).unref();
    void this.refresh();
  }

  /** The agent changed what the server may serve: read discovery again shortly. */
  soon(): void {
    if (!this.enabled || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.refresh();
    }, this.opts.soonMs ?? 2000).unref();
  }

  stop(): void {
    this.enabled = false;
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
    this.timer = this.soonTimer = undefined;
  }

  /**
   * Reads discovery and sends it when it changed, or anyway with `force` (one read at a time;
   * resolves when done).
   */
  refresh(force = false): Promise<void> {
    if (this.running) {
      this.again = { force: force || (this.again?.force ?? false) };
      return this.running;
    }
    this.running = this.readAndSend(force).finally(() => {
      this.running = undefined;
      const again = this.again;
      this.again = undefined;
      if (again) void this.refresh(again.force);
    });
    return this.running;
  }

  private async readAndSend(force: boolean): Promise<void> {
    if (!this.enabled) return;
    let info: ClusterInfo;
    try {
      info = await this.source.serverCapabilities();
    } catch (e) {
      this.log.warn(`reading the API server's discovery failed: ${(e as Error).message}`);
      return;
    }
    const json = JSON.stringify(info);
    if (!this.enabled || (!force && json === this.lastSent)) return;
    if (this.send(info)) this.lastSent = json;
  }
}
