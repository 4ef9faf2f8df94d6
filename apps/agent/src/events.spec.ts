import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from './agent-config.js';
import { EventLog } from './events.js';

const ev = (message: string, offline: boolean) => ({
  appId: 'a',
  type: 'Normal',
  reason: 'SelfHealed',
  message,
  offline,
  generation: 1,
});

describe('EventLog', () => {
  it('keeps offline events (bounded, counting drops) until taken, and recent ones', () => {
    const log = new EventLog(3, 10);
    log.record(ev('online', false));
    for (let i = 0; i < 5; i++) log.record(ev(`offline ${i}`, true));
    expect(log.recent().map((e) => e.message)).toEqual(['offline 2', 'offline 3', 'offline 4']);
    const { events, dropped } = log.takeUnsent();
    expect(events.map((e) => e.message)).toEqual(['offline 2', 'offline 3', 'offline 4']);
    expect(dropped).toBe(2);
    expect(log.takeUnsent()).toEqual({ events: [], dropped: 0 });
    log.giveBack(events, dropped);
    expect(log.takeUnsent().dropped).toBe(2);
    expect(log.record(ev('x'.repeat(50), true)).message).toHaveLength(10);
  });

  it('counts events given back that no longer fit as dropped', () => {
    const log = new EventLog(3, 100);
    for (const m of ['a', 'b', 'c', 'd']) log.record(ev(m, true));
    const taken = log.takeUnsent(); // b, c, d; a dropped
    log.record(ev('e', true)); // while the send was failing
    log.record(ev('f', true));
    log.giveBack(taken.events, taken.dropped); // b and c no longer fit
    const { events, dropped } = log.takeUnsent();
    expect(events.map((e) => e.message)).toEqual(['d', 'e', 'f']);
    expect(dropped).toBe(3);
  });
});

describe('agent configuration and wire policy', () => {
  it('reads the new settings with defaults and names bad ones', () => {
    const env = {
      AXLE_HUB_ADDRESS: 'hub:9090',
      AXLE_AGENT_TOKEN: 'axle_agent_0123456789',
      AXLE_CLUSTER: 'east',
    };
    const c = loadAgentConfig(env);
    expect(c).toMatchObject({
      observeOnly: false,
      selfHeal: { delayMs: 1000, maxDelayMs: 300_000 },
      applyConcurrency: 16,
      eventBuffer: 500,
    });
    expect(loadAgentConfig({ ...env, AXLE_AGENT_OBSERVE_ONLY: 'true' }).observeOnly).toBe(true);
    expect(() =>
      loadAgentConfig({
        ...env,
        AXLE_AGENT_OBSERVE_ONLY: 'maybe',
        AXLE_AGENT_APPLY_CONCURRENCY: '0',
      }),
    ).toThrow(/AXLE_AGENT_OBSERVE_ONLY: must be true or false[\s\S]*AXLE_AGENT_APPLY_CONCURRENCY/);
  });
});
