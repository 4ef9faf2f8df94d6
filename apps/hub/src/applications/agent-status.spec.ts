import { describe, expect, it } from 'vitest';
import { AppTargetEntity } from './app-target.entity.js';
import type { ApplicationEntity } from './application.entity.js';
import { AGENT_AWAY_GRACE_SECONDS } from '../config/hub-config.js';
import { agentStatus, ApplicationsService, clusterStatus } from './applications.service.js';

const GRACE = AGENT_AWAY_GRACE_SECONDS * 1000;
const NOW = Date.parse('2026-12-06T12:00:00Z');
const REPORTED = '2026-12-01T09:00:00.000Z';

const target = (over: Partial<AppTargetEntity> = {}) =>
  Object.assign(new AppTargetEntity(), {
    appId: 'A',
    clusterId: 'C',
    desiredGeneration: 5,
    desiredBundleHash: 'B1',
    desiredRevision: 'c1c1c1c1c1c1c1',
    desiredNamespace: 'ns',
    desiredPolicy: { automated: false, prune: false, selfHeal: false },
    ackedGeneration: 5,
    appliedGeneration: 5,
    appliedRevision: 'c1c1c1c1c1c1c1',
    sync: 'Synced',
    health: 'Healthy',
    message: '',
    resources: [],
    drifted: false,
    observeOnly: false,
    operation: { phase: 'Succeeded', generation: 5 },
    lastReportAt: new Date(REPORTED),
    ...over,
  });

const away = (ms: number) => ({ connected: false, lastSeenAt: new Date(NOW - ms) });

describe('agentStatus', () => {
  it('a connected agent: its report stands, however old', () => {
    const v = agentStatus(
      clusterStatus(target(), 'east'),
      { connected: true, lastSeenAt: new Date(NOW - 5_000) },
      NOW,
      GRACE,
    );
    expect(v).toMatchObject({
      sync: 'Synced',
      health: 'Healthy',
      message: '',
      connected: true,
      lastSeenAt: new Date(NOW - 5_000).toISOString(),
      lastReportAt: REPORTED,
    });
  });

  it('an agent away briefly (a restart): its report stands, the view says it is not connected', () => {
    const v = agentStatus(clusterStatus(target(), 'east'), away(GRACE - 1000), NOW, GRACE);
    expect(v).toMatchObject({ sync: 'Synced', health: 'Healthy', message: '', connected: false });
    expect(v.lastSeenAt).toBe(new Date(NOW - GRACE + 1000).toISOString());
  });

  it('an agent away past the grace: Unknown, saying since when and what it last reported', () => {
    const since = new Date(NOW - GRACE).toISOString();
    const v = agentStatus(
      clusterStatus(target({ message: 'all good' }), 'east'),
      away(GRACE),
      NOW,
      GRACE,
    );
    expect(v).toMatchObject({
      sync: 'Unknown',
      health: 'Unknown',
      connected: false,
      lastSeenAt: since,
      lastReportAt: REPORTED,
      revision: 'c1c1c1c1c1c1c1',
      message: `agent not connected since ${since}; last reported Synced/Healthy at ${REPORTED}: all good`,
    });
  });

  it('away past the grace with a generation not applied: the message keeps what is pending', () => {
    const v = agentStatus(
      clusterStatus(target({ desiredGeneration: 6 }), 'east'),
      away(GRACE * 10),
      NOW,
      GRACE,
    );
    expect(v.sync).toBe('Unknown');
    expect(v.message).toMatch(
      /; last reported OutOfSync\/Healthy at .*: waiting for generation 6 \(acked 5, applied 5\)$/,
    );
  });

  it('an agent never heard from: nothing was reported to take as current, left as it is', () => {
    const v = agentStatus(
      clusterStatus(
        target({ appliedGeneration: 0, ackedGeneration: 0, lastReportAt: null }),
        'east',
      ),
      { connected: false, lastSeenAt: null },
      NOW,
      GRACE,
    );
    expect(v).toMatchObject({ sync: 'OutOfSync', connected: false, lastSeenAt: null });
  });

  it('leaves the view it is given as it is (views are shared by the list and the fleet)', () => {
    const view = clusterStatus(target(), 'east');
    const before = structuredClone(view);
    expect(agentStatus(view, away(GRACE * 2), NOW, GRACE).sync).toBe('Unknown');
    expect(view).toEqual(before);
  });
});

describe('ApplicationsService.get with an agent away', () => {
  function get(agents: { connected: boolean; lastSeenAt: Date | null }[], graceSeconds?: number) {
    const app = {
      id: 'A',
      name: 'guestbook',
      spec: {
        project: 'default',
        source: { repoURL: 'x', path: '.' },
        destination: { clusters: ['east', 'west'], namespace: 'ns' },
        syncPolicy: { automated: {} },
      },
      specVersion: 1,
      appSetId: null,
      autoSyncSuspended: null,
      createdAt: new Date(),
    } as unknown as ApplicationEntity;
    const render = { revision: 'c1c1c1c1c1c1c1', bundleHash: 'B1', specVersion: 1, conditions: [] };
    const names = ['east', 'west'];
    const apps = {
      findByName: () => Promise.resolve(app),
      renders: () => Promise.resolve(new Map([['A', render]])),
    };
    const targets = {
      statusRows: () =>
        Promise.resolve(
          names.map((cluster, i) => ({ target: target({ clusterId: `C${i}` }), cluster })),
        ),
    };
    const clusters = {
      agentsByNames: () => Promise.resolve(names.map((name, i) => ({ name, ...agents[i] }))),
    };
    const deps = { blockers: () => Promise.resolve(new Map()) };
    const config =
      graceSeconds === undefined ? undefined : { notify: { disconnectedSeconds: graceSeconds } };
    return new ApplicationsService(
      ...([
        {},
        apps,
        targets,
        clusters,
        {},
        {},
        {},
        {},
        deps,
        config,
      ] as unknown as ConstructorParameters<typeof ApplicationsService>),
    ).get('guestbook');
  }
  const live = { connected: true, lastSeenAt: new Date() };

  it('both agents connected: Synced and Healthy, as reported', async () => {
    const v = await get([live, live]);
    expect([v.status.sync, v.status.health]).toEqual(['Synced', 'Healthy']);
    expect(v.status.clusters.map((c) => c.connected)).toEqual([true, true]);
  });

  it('one agent gone for days: that cluster and the application are Unknown', async () => {
    const v = await get([
      live,
      { connected: false, lastSeenAt: new Date(Date.now() - 5 * 86_400_000) },
    ]);
    expect([v.status.sync, v.status.health]).toEqual(['Unknown', 'Unknown']);
    expect(v.status.clusters.map((c) => [c.cluster, c.sync, c.health, c.connected])).toEqual([
      ['east', 'Synced', 'Healthy', true],
      ['west', 'Unknown', 'Unknown', false],
    ]);
    expect(v.status.clusters[1].message).toMatch(
      /^agent not connected since \S+Z; last reported Synced\/Healthy at /,
    );
  });

  it('the grace is the configured AXLE_NOTIFY_DISCONNECTED_SECONDS', async () => {
    const gone = { connected: false, lastSeenAt: new Date(Date.now() - 30_000) };
    expect((await get([live, gone])).status.sync).toBe('Synced');
    expect((await get([live, gone], 20)).status.sync).toBe('Unknown');
  });
});
