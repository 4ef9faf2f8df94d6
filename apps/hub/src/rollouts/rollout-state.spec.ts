import { describe, expect, it } from 'vitest';
import { appPhase, type RolloutApp } from './rolling-sync.js';
import {
  contentKey,
  current,
  fresh,
  haltedBundles,
  recordSync,
  syncedAt,
} from './rollout-state.js';
import type { RolloutState } from './rollouts.repository.js';

const DEADLINE_MS = 60_000;

/** A unit on one cluster whose target runs `running` (applied), with that health. */
function unit(
  id: string,
  bundleHash: string | null,
  running: string,
  health: RolloutApp['targets'][number]['health'] = 'Healthy',
): RolloutApp {
  return {
    id,
    name: id,
    labels: {},
    bundleHash,
    key: bundleHash,
    clusters: ['c'],
    targets: [
      { clusterId: 'c', bundleHash: running, key: running, applied: true, health, failed: false },
    ],
  };
}

function halted(bundles: Record<string, string | null>): RolloutState {
  return { ...fresh(), status: 'Halted', haltedBundles: bundles };
}

describe('current: a halted rollout', () => {
  it('stays halted while a unit is not rendered at its new spec (null is no new render)', () => {
    // A spec edit that changes no bundle: the unit reads as not rendered until it is again.
    expect(
      current(halted({ a: 'bad', b: 'bad' }), [unit('a', null, 'bad'), unit('b', 'bad', 'bad')]),
    ).toBeUndefined();
    expect(
      current(halted({ a: 'bad', b: 'bad' }), [unit('a', 'bad', 'bad'), unit('b', 'bad', 'bad')]),
    ).toBeUndefined();
  });

  it('is released by a new render of a unit it knew, not by a unit added since', () => {
    expect(
      current(halted({ a: 'bad' }), [unit('a', 'bad', 'bad'), unit('new', 'x', 'x')]),
    ).toBeUndefined();
    const s = current(halted({ a: 'bad' }), [unit('a', 'fixed', 'bad')]);
    expect(s?.status).toBe('Progressing');
    expect(s?.haltedBundles).toBeNull();
  });
});

describe('haltedBundles', () => {
  it('records a unit being rendered again with the render last seen, so only a new one releases', () => {
    const key = (b: string) => contentKey(b, 'ns', { prune: false });
    const a = (bundle: string | null) => ({
      id: 'a',
      bundleHash: bundle,
      key: bundle && key(bundle),
    });
    const s = current(fresh(), [a('x'), { id: 'b', bundleHash: 'y', key: key('y') }])!;
    // Aborted while a's spec edit is being rendered (its bundle reads null).
    const bundles = haltedBundles(s, [a(null), { id: 'b', bundleHash: 'y', key: key('y') }]);
    expect(bundles).toEqual({ a: 'x', b: 'y' });
    const aborted: RolloutState = { ...s, status: 'Aborted', haltedBundles: bundles };
    expect(current(aborted, [a('x'), { id: 'b', bundleHash: 'y', key: key('y') }])).toBeUndefined();
    expect(current(aborted, [a('x2'), { id: 'b', bundleHash: 'y', key: key('y') }])?.status).toBe(
      'Progressing',
    );
  });
});

describe('current: renders', () => {
  it('keeps the gates while a unit is being rendered again, and when it comes back unchanged', () => {
    const units = [unit('a', 'v1', 'v1'), unit('b', 'v1', 'v0')];
    const s = current(fresh(), units)!;
    s.gates.promoted = [1];
    s.gates.doneAt = { 0: 123 };
    const during = current(s, [unit('a', null, 'v1'), units[1]])!;
    expect(during.gates.promoted).toEqual([1]);
    const after = current(during, units)!;
    expect(after.gates.promoted).toEqual([1]);
    expect(after.gates.doneAt).toEqual({ 0: 123 });
  });

  it('starts over on a new render, keeping what it synced and the units seen Done at theirs', () => {
    const s = current(fresh(), [unit('a', 'v1', 'v1'), unit('b', 'v1', 'v0')])!;
    recordSync(s, 'a', { at: 1_000, bundleHash: 'v1', from: {} });
    s.gates.reached = { a: 'v1' };
    s.gates.promoted = [1];
    const next = current(s, [unit('a', 'v1', 'v1'), unit('b', 'v2', 'v0')])!;
    expect(next.gates.promoted).toBeUndefined();
    expect(next.updated.a.bundleHash).toBe('v1');
    expect(next.gates.reached).toEqual({ a: 'v1' });
  });
});

describe('progress deadlines', () => {
  it('a unit seen Done is not failed on its old deadline after another unit is rendered anew', () => {
    const units = [unit('a', 'v1', 'v1'), unit('b', 'v1', 'v0')];
    let s = current(fresh(), units)!;
    recordSync(s, 'a', { at: 0, bundleHash: 'v1', from: {} });
    s.gates.reached = { a: 'v1' }; // the tick that saw it Done
    s = current(s, [units[0], unit('b', 'v2', 'v0')])!;
    // Later, a's pods restart: Progressing long after the deadline of its sync.
    const later = [unit('a', 'v1', 'v1', 'Progressing'), unit('b', 'v2', 'v0')];
    const at = syncedAt(s, later)('a');
    expect(at).toBeUndefined();
    expect(appPhase(later[0], at, DEADLINE_MS * 10, DEADLINE_MS)).not.toBe('Failed');
  });

  it('a unit synced again after a rollback and resume can fail again', () => {
    const s = current(fresh(), [unit('a', 'v1', 'v1')])!;
    recordSync(s, 'a', {
      at: 0,
      bundleHash: 'v1',
      from: { c: { bundleHash: 'v0', revision: 'r0' } },
    });
    s.gates.reached = { a: 'v1' };
    // Rolled back to v0, resumed, synced to v1 again: Degraded there this time.
    recordSync(s, 'a', {
      at: 5_000,
      bundleHash: 'v1',
      from: { c: { bundleHash: 'v0', revision: 'r0' } },
    });
    const now = [unit('a', 'v1', 'v1', 'Degraded')];
    const at = syncedAt(s, now)('a');
    expect(at).toBe(5_000);
    expect(appPhase(now[0], at, 6_000, DEADLINE_MS)).toBe('Failed');
  });
});
