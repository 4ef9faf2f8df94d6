import { describe, expect, it } from 'vitest';
import { healDueAt, recordHeal, type HealState } from './self-heal.js';

describe('self-heal backoff', () => {
  const b = { delayMs: 1000, maxDelayMs: 60_000 };

  it('heals first after the delay, then three times slower while the fight goes on', () => {
    const s: HealState = { attempts: 0, lastHealAt: 0, driftSince: 0 };
    let now = 100_000;
    expect(healDueAt(s, now, b)).toBe(now + 1000);
    const dues: number[] = [];
    for (let i = 0; i < 6; i++) {
      now = healDueAt(s, now, b); // heal exactly when due
      recordHeal(s, now);
      now += 10; // someone changes it back at once
      dues.push(healDueAt(s, now, b) - s.lastHealAt);
    }
    expect(dues).toEqual([3000, 9000, 27_000, 60_000, 60_000, 60_000]);
  });

  it('keeps backing off when each heal runs a little later than due', () => {
    const s: HealState = { attempts: 0, lastHealAt: 0, driftSince: 0 };
    let now = 100_000;
    const dues: number[] = [];
    for (let i = 0; i < 7; i++) {
      now = healDueAt(s, now, b) + 5; // the timer fires late
      expect(healDueAt(s, now, b)).toBeLessThanOrEqual(now); // the pass it wakes heals
      recordHeal(s, now);
      now += 10; // someone changes it back at once
      dues.push(healDueAt(s, now, b) - s.lastHealAt);
    }
    expect(dues).toEqual([3000, 9000, 27_000, 60_000, 60_000, 60_000, 60_000]);
  });

  it('starts over after a calm period longer than the cap', () => {
    const s: HealState = { attempts: 4, lastHealAt: 1000, driftSince: 0 };
    const now = 1000 + 61_000;
    expect(healDueAt(s, now, b)).toBe(now + 1000);
    expect(s.attempts).toBe(0);
  });
});
