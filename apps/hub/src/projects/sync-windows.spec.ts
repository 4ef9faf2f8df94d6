import { describe, expect, it } from 'vitest';
import { goDurationMs, syncWindowSchema, SyncWindows, type SyncWindow } from './sync-windows.js';

const at = (iso: string) => new Date(iso);
const web = { app: 'web', namespace: 'shop', cluster: 'prod-eu' };

function windows(...ws: Partial<SyncWindow>[]): SyncWindows {
  return new SyncWindows(
    ws.map((w) =>
      syncWindowSchema.parse({
        kind: 'deny',
        schedule: '0 22 * * *',
        duration: '1h',
        applications: ['*'],
        ...w,
      }),
    ),
  );
}

describe('sync windows (Argo CD AppProject syncWindows)', () => {
  it('a deny window blocks automated syncs while open, and says until when', () => {
    const w = windows({ kind: 'deny', schedule: '0 22 * * *', duration: '1h' });
    expect(w.canSync(web, at('2026-12-05T21:59:00Z'), false)).toBe(true);
    expect(w.canSync(web, at('2026-12-05T22:00:00Z'), false)).toBe(false);
    expect(w.canSync(web, at('2026-12-05T22:59:59Z'), false)).toBe(false);
    expect(w.canSync(web, at('2026-12-05T23:00:00Z'), false)).toBe(true);
    expect(w.block(web, at('2026-12-05T22:30:00Z'), false)).toEqual({
      until: at('2026-12-05T23:00:00Z'),
      windows: ['deny 0 22 * * * 1h'],
    });
    expect(w.block(web, at('2026-12-05T12:00:00Z'), false)).toBeUndefined();
  });

  it('allow windows block outside themselves; manualSync lets a manual sync through', () => {
    const w = windows({ kind: 'allow', schedule: '0 6 * * 1-5', duration: '2h', manualSync: true });
    // Saturday: closed until Monday 06:00.
    expect(w.block(web, at('2026-12-05T12:00:00Z'), false)).toEqual({
      until: at('2026-12-07T06:00:00Z'),
      windows: ['allow 0 6 * * 1-5 2h'],
    });
    expect(w.canSync(web, at('2026-12-07T07:30:00Z'), false)).toBe(true);
    expect(w.canSync(web, at('2026-12-05T12:00:00Z'), true)).toBe(true);
    expect(
      windows({ kind: 'allow', schedule: '0 6 * * *', duration: '1h' }).canSync(
        web,
        at('2026-12-05T12:00:00Z'),
        true,
      ),
    ).toBe(false);
  });

  it('deny wins over allow; a manual sync passes a deny only if every open deny allows it', () => {
    const w = windows(
      { kind: 'allow', schedule: '0 0 * * *', duration: '24h' },
      { kind: 'deny', schedule: '0 22 * * *', duration: '1h', manualSync: true },
      { kind: 'deny', schedule: '30 22 * * *', duration: '10m' },
    );
    expect(w.canSync(web, at('2026-12-05T12:00:00Z'), false)).toBe(true);
    expect(w.canSync(web, at('2026-12-05T22:10:00Z'), false)).toBe(false);
    expect(w.canSync(web, at('2026-12-05T22:10:00Z'), true)).toBe(true);
    expect(w.canSync(web, at('2026-12-05T22:35:00Z'), true)).toBe(false);
  });

  it('matches by application, namespace or cluster glob; no matching window means no limit', () => {
    const w = windows({ applications: undefined, clusters: ['prod-*'] });
    const night = at('2026-12-05T22:30:00Z');
    expect(w.canSync(web, night, false)).toBe(false);
    expect(w.canSync({ ...web, cluster: 'dev-1' }, night, false)).toBe(true);
    const ns = windows({ applications: undefined, namespaces: ['shop'] });
    expect(ns.canSync(web, night, false)).toBe(false);
    expect(ns.canSync({ ...web, namespace: 'other' }, night, false)).toBe(true);
  });

  it('reads the schedule in its time zone', () => {
    const w = windows({ schedule: '0 22 * * *', duration: '1h', timeZone: 'Europe/Oslo' });
    // 22:00 in Oslo (UTC+1 in December) is 21:00 UTC.
    expect(w.canSync(web, at('2026-12-05T21:30:00Z'), false)).toBe(false);
    expect(w.canSync(web, at('2026-12-05T22:30:00Z'), false)).toBe(true);
  });

  it('refuses what Argo CD would not parse, by field', () => {
    const bad = syncWindowSchema.safeParse({
      kind: 'maybe',
      schedule: '* * *',
      duration: '1 hour',
      timeZone: 'Mars/Olympus',
    });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'duration',
      'kind',
      'schedule',
      'timeZone',
    ]);
    expect(
      syncWindowSchema.safeParse({ kind: 'deny', schedule: '0 25 * * *', duration: '1h' }).success,
    ).toBe(false);
    expect(goDurationMs('1h30m')).toBe(5_400_000);
    const long = syncWindowSchema.safeParse({
      kind: 'deny',
      schedule: '* * * * *',
      duration: '99999999999h',
    });
    expect(long.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['duration', 'must be more than 0 and at most 8760h (a year)'],
    ]);
  });

  it('answers an always-open window quickly, and once per instant for the same windows', () => {
    const w = windows({ kind: 'deny', schedule: '* * * * *', duration: '10m' });
    const now = at('2026-12-05T12:00:30Z');
    const t0 = performance.now();
    expect(w.block(web, now, false)).toEqual({ until: null, windows: ['deny * * * * * 10m'] });
    for (let i = 0; i < 10_000; i++) w.block({ ...web, app: `app-${i}` }, now, false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
