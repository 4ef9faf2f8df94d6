import type { AgentEvent } from '../../../libs/proto/gen/axle/agent/v1/agent.js';

/**
 * What happened on the agent, bounded. Events are handed to the hub as they happen while the
 * agent is connected; while it is not, they wait here (oldest dropped beyond the bound, counted)
 * and go out after the next Welcome, marked `offline`.
 */
export class EventLog {
  private readonly recentEvents: AgentEvent[] = [];
  private unsent: AgentEvent[] = [];
  private droppedCount = 0;

  constructor(
    private readonly capacity = 500,
    private readonly maxMessageChars = 1000,
  ) {}

  record(e: Omit<AgentEvent, 'atUnixMs'> & { atUnixMs?: number }): AgentEvent {
    const ev: AgentEvent = {
      ...e,
      atUnixMs: e.atUnixMs ?? Date.now(),
      message: e.message.slice(0, this.maxMessageChars),
    };
    this.recentEvents.push(ev);
    if (this.recentEvents.length > this.capacity) this.recentEvents.shift();
    if (ev.offline) {
      this.unsent.push(ev);
      if (this.unsent.length > this.capacity) {
        this.unsent.shift();
        this.droppedCount++;
      }
    }
    return ev;
  }

  /** Takes what happened while disconnected (and how many were dropped). */
  takeUnsent(): { events: AgentEvent[]; dropped: number } {
    const out = { events: this.unsent, dropped: this.droppedCount };
    this.unsent = [];
    this.droppedCount = 0;
    return out;
  }

  /** Puts events back in front (sending them failed); the oldest that no longer fit are dropped. */
  giveBack(events: AgentEvent[], dropped: number): void {
    const all = [...events, ...this.unsent];
    const over = Math.max(0, all.length - this.capacity);
    this.unsent = all.slice(over);
    // Counted like drops in record(): the hub is told how many it will never see.
    this.droppedCount += dropped + over;
  }

  recent(appId?: string): AgentEvent[] {
    return appId ? this.recentEvents.filter((e) => e.appId === appId) : [...this.recentEvents];
  }
}
