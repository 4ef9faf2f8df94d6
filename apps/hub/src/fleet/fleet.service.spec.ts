import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApplicationsRepository } from '../applications/applications.repository.js';
import type {
  ApplicationsService,
  ApplicationView,
  ClusterStatusView,
} from '../applications/applications.service.js';
import type { ClustersService, ClusterView } from '../clusters/clusters.service.js';
import { FleetService } from './fleet.service.js';

const cluster = (name: string, connected = true): ClusterView => ({
  name,
  labels: {},
  annotations: {},
  server: '',
  agent: { connected, version: null, lastSeenAt: null },
  createdAt: '',
});

const status = (c: string, over: Partial<ClusterStatusView> = {}) =>
  ({
    cluster: c,
    sync: 'Synced',
    health: 'Healthy',
    revision: 'r1',
    drifted: false,
    ...over,
  }) as ClusterStatusView;

const app = (name: string, clusters: ClusterStatusView[], conditions = []): ApplicationView => ({
  name,
  labels: {},
  spec: { project: 'default' } as ApplicationView['spec'],
  status: {
    sync: 'Synced',
    health: 'Healthy',
    revision: 'r1',
    conditions,
    clusters,
    autoSync: { enabled: true, suspended: null },
  },
  createdAt: '',
});

/** Applications and clusters as the hub's services give them, counting the reads. */
class Fleet {
  reads = 0;
  clusters = [cluster('east'), cluster('west', false)];
  apps = [app('a', [status('east'), status('west', { revision: 'r2', drifted: true })])];
  /** Resolves the next read when set (a read in progress while a change is heard). */
  gate?: Promise<void>;
  graceMs = 300_000;

  service(): FleetService {
    const applications = {
      agentGraceMs: this.graceMs,
      summaries: async (ids?: string[]) => {
        this.reads++;
        await this.gate;
        return this.apps.filter((a) => !ids || ids.includes(a.name));
      },
    } as unknown as ApplicationsService;
    const repo = {
      appSetNames: () => Promise.resolve(new Map([['a', 'set']])),
    } as unknown as ApplicationsRepository;
    const clusters = { list: () => Promise.resolve(this.clusters) } as unknown as ClustersService;
    return new FleetService(applications, repo, clusters);
  }
}

describe('FleetService', () => {
  it('encodes cells compactly, by cluster index, with revisions per application', async () => {
    const view = await new Fleet().service().view();
    expect(view.clusters.map((c) => [c.name, c.connected])).toEqual([
      ['east', true],
      ['west', false],
    ]);
    expect(view.apps).toEqual([
      {
        name: 'a',
        project: 'default',
        appSet: 'set',
        sync: 'Synced',
        health: 'Healthy',
        revision: 'r1',
        conditions: [],
        revisions: ['r1', 'r2'],
        cells: [
          [0, 'S', 'H', 0, 0],
          [1, 'S', 'H', 1, 1],
        ],
      },
    ]);
  });

  it('keeps the view, patches changed rows in, and reads again after an invalidation', async () => {
    const f = new Fleet();
    const s = f.service();
    const first = await s.json();
    expect(await s.json()).toBe(first);
    expect(f.reads).toBe(1);

    f.apps = [app('a', [status('east', { health: 'Degraded' })])];
    const changed = await s.some(['a']);
    s.patch(changed.clusterKey, changed.apps);
    expect(JSON.parse(await s.json()).apps[0].cells).toEqual([[0, 'S', 'D', 0, 0]]);
    expect(f.reads).toBe(2); // the rows of `a`, not the fleet

    s.invalidate();
    await s.view();
    expect(f.reads).toBe(3);
  });

  it('drops the kept view when a patched row is new or the clusters changed', async () => {
    const f = new Fleet();
    const s = f.service();
    const view = await s.view();
    s.patch(view.clusterKey, [{ ...view.apps[0], name: 'new' }]);
    await s.view();
    expect(f.reads).toBe(2);
    s.patch('another-key', view.apps);
    await s.view();
    expect(f.reads).toBe(3);
  });

  it('shares one read between concurrent requests and keeps none seen stale', async () => {
    const f = new Fleet();
    const s = f.service();
    let open!: () => void;
    f.gate = new Promise((r) => (open = r));
    const a = s.view();
    const b = s.view();
    // A change heard while the read runs: its result serves these requests but is not kept.
    s.invalidate();
    open();
    expect(await a).toBe(await b);
    expect(f.reads).toBe(1);
    f.gate = undefined;
    await s.view();
    expect(f.reads).toBe(2);
  });

  it('does not join a read that started before a change it may have missed', async () => {
    const f = new Fleet();
    const s = f.service();
    let open!: () => void;
    f.gate = new Promise((r) => (open = r));
    const before = s.view();
    s.invalidate();
    const after = s.view();
    open();
    await Promise.all([before, after]);
    expect(f.reads).toBe(2);
  });
});

describe('FleetService and agents away', () => {
  afterEach(() => vi.useRealTimers());

  it('the kept view is computed again once an away agent reaches the grace', async () => {
    vi.useFakeTimers();
    const fleet = new Fleet();
    const seen = new Date(Date.now() - 900).toISOString();
    fleet.clusters = [
      cluster('east'),
      { ...cluster('west', false), agent: { connected: false, version: null, lastSeenAt: seen } },
    ];
    fleet.graceMs = 1000;
    const service = fleet.service();
    let expired = 0;
    service.onExpiry(() => expired++);
    await service.view();
    await service.view();
    expect(fleet.reads).toBe(1);
    vi.advanceTimersByTime(90);
    expect(expired).toBe(0);
    expect(fleet.reads).toBe(1);
    vi.advanceTimersByTime(100);
    expect(expired).toBe(1);
    await service.view();
    expect(fleet.reads).toBe(2);
    service.onModuleDestroy();
  });
});
