import { describe, expect, it } from 'vitest';
import type {
  AckRow,
  EventRow,
  StatusRow,
  TargetsRepository,
} from '../applications/targets.repository.js';
import type { ClustersRepository, SeenRow } from '../clusters/clusters.repository.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ReplicaService } from '../replicas/replica.service.js';
import { StatusWriter } from './status-writer.js';

/** What PostgreSQL answers for a value it cannot take (here: a message of "bad"). */
const dataError = () => Object.assign(new Error('unsupported Unicode escape'), { code: '22P05' });

class FakeTargets {
  statuses: StatusRow[][] = [];
  acks: AckRow[][] = [];
  events: EventRow[][] = [];
  failNext = 0;
  /** Event inserts that fail with a connection error, by call number (from 1). */
  eventFailures = new Set<number>();
  eventCalls = 0;
  statusCalls = 0;
  /** Status writes in progress, and the most at once (writes take `statusDelayMs` when set). */
  running = 0;
  mostAtOnce = 0;
  statusDelayMs = 0;
  async writeStatuses(rows: StatusRow[]) {
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      if (this.statusDelayMs) await new Promise((r) => setTimeout(r, this.statusDelayMs));
      return await this.writeStatusesNow(rows);
    } finally {
      this.running--;
    }
  }
  /** Applications whose stored status is newer than any sent (the statement skips theirs). */
  newerStored = new Set<string>();
  writeStatusesNow(rows: StatusRow[]) {
    this.statusCalls++;
    if (this.failNext-- > 0) return Promise.reject(new Error('connection terminated'));
    if (rows.some((r) => r.message === 'bad')) return Promise.reject(dataError());
    const stored = rows.filter((r) => !this.newerStored.has(r.appId));
    this.statuses.push(stored);
    return Promise.resolve(stored.map(({ appId, clusterId }) => ({ appId, clusterId })));
  }
  writeAcks(rows: AckRow[]) {
    this.acks.push(rows);
    return Promise.resolve();
  }
  insertEvents(rows: EventRow[]) {
    if (this.eventFailures.has(++this.eventCalls))
      return Promise.reject(new Error('connection terminated'));
    if (rows.some((r) => r.message === 'bad')) return Promise.reject(dataError());
    this.events.push(rows);
    return Promise.resolve();
  }
}

class FakeClusters {
  seen: SeenRow[][] = [];
  recordSeen(_replica: string, rows: SeenRow[]) {
    this.seen.push(rows);
    return Promise.resolve();
  }
}

function writer(flushDelayMs = 20) {
  const targets = new FakeTargets();
  const clusters = new FakeClusters();
  const metrics = new MetricsService(
    { fleetCounts: () => Promise.resolve([]) } as never,
    { countByConnection: () => Promise.resolve([]) } as never,
    { depth: () => Promise.resolve({}) } as never,
    { countByStatus: () => Promise.resolve([]) } as never,
  );
  const w = new StatusWriter(
    targets as unknown as TargetsRepository,
    clusters as unknown as ClustersRepository,
    { id: 'replica-a' } as ReplicaService,
    metrics,
    { flushDelayMs },
  );
  return { w, targets, clusters, metrics };
}

/** Reports the database refused for their data, as counted in the metrics. */
const refusedCount = async (metrics: MetricsService) =>
  (await metrics.registry.getSingleMetric('axle_agent_reports_refused_total')?.get())?.values[0]
    .value;

/** `app-0000` … : names that sort as their numbers. */
const appNames = (n: number) =>
  Array.from({ length: n }, (_, i) => `app-${String(i).padStart(4, '0')}`);

const event = (app: string, message = ''): EventRow => ({
  appId: app,
  clusterId: 'c1',
  at: 1,
  type: 'Normal',
  reason: 'SyncSucceeded',
  message,
  generation: 1,
  offline: false,
});

const status = (
  app: string,
  generation: number,
  observedAt: number,
  sync = 'Synced',
): StatusRow => ({
  appId: app,
  clusterId: 'c1',
  generation,
  revision: 'r',
  sync: sync as StatusRow['sync'],
  health: 'Healthy',
  message: '',
  resources: [],
  observedAt,
  drifted: false,
  observeOnly: false,
  operation: null,
});

describe('StatusWriter', () => {
  it('writes reports in one batch within the delay, keeping the newest per app × cluster', async () => {
    const { w, targets } = writer(20);
    w.status(status('a', 2, 100));
    w.status(status('a', 1, 900)); // older generation: ignored
    w.status(status('a', 2, 50)); // older report of the same generation: ignored
    w.status(status('b', 1, 10, 'OutOfSync'));
    w.status(status('b', 1, 20, 'Synced'));
    w.ack({ appId: 'a', clusterId: 'c1', generation: 2 });
    w.ack({ appId: 'a', clusterId: 'c1', generation: 1 });
    w.ack({ appId: 'b', clusterId: 'c1', generation: 2 }); // newer than b's status
    w.ack({ appId: 'c', clusterId: 'c1', generation: 1 }); // no status
    expect(targets.statuses).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(targets.statuses).toHaveLength(1);
    expect(targets.statuses[0].map((s) => [s.appId, s.generation, s.observedAt, s.sync])).toEqual([
      ['a', 2, 100, 'Synced'],
      ['b', 1, 20, 'Synced'],
    ]);
    // a's acknowledgement goes with its status (of the same generation); the others on their own.
    expect(targets.statuses[0].map((s) => [s.appId, s.ack])).toEqual([
      ['a', 2],
      ['b', undefined],
    ]);
    expect(targets.acks).toEqual([
      [
        { appId: 'b', clusterId: 'c1', generation: 2 },
        { appId: 'c', clusterId: 'c1', generation: 1 },
      ],
    ]);
  });

  it('writes on its own the acknowledgement of a status not stored (refused, or older)', async () => {
    const { w, targets } = writer(10_000);
    targets.newerStored.add('c');
    for (const app of ['a', 'b', 'c']) w.ack({ appId: app, clusterId: 'c1', generation: 1 });
    w.status({ ...status('a', 1, 1), message: 'bad' }); // refused for its data
    w.status(status('b', 1, 1));
    w.status(status('c', 1, 1)); // a newer one is stored: skipped
    await w.flush();
    expect(targets.statuses.flat().map((s) => [s.appId, s.ack])).toEqual([['b', 1]]);
    expect(targets.acks).toEqual([
      [
        { appId: 'a', clusterId: 'c1', generation: 1 },
        { appId: 'c', clusterId: 'c1', generation: 1 },
      ],
    ]);
  });

  it('counts a refused report once when the write fails and is retried', async () => {
    const { w, targets, metrics } = writer(10_000);
    const apps = appNames(2000);
    for (const a of apps) w.status({ ...status(a, 1, 1), message: a === 'app-0001' ? 'bad' : '' });
    // The first part finds its bad row and is written; the second loses its connection once.
    const real = targets.writeStatusesNow.bind(targets);
    let dropped = false;
    targets.writeStatusesNow = (rows: StatusRow[]) => {
      if (!dropped && rows.some((r) => r.appId === 'app-1999')) {
        dropped = true;
        return Promise.reject(new Error('connection terminated'));
      }
      return real(rows);
    };
    await expect(w.flush()).rejects.toThrow(/connection terminated/);
    await w.flush();
    expect(await refusedCount(metrics)).toBe(1);
  });

  it('keeps reports across a failed write and writes them with the next one, unless newer ones came', async () => {
    const { w, targets } = writer(5);
    targets.failNext = 1;
    w.status(status('a', 1, 100));
    w.status(status('b', 1, 100));
    await w.flush().catch(() => undefined);
    expect(targets.statuses).toEqual([]);
    w.status(status('a', 2, 200));
    await w.flush();
    expect(targets.statuses[0].map((s) => [s.appId, s.generation]).sort()).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });

  it('writes everything buffered before the hub stops', async () => {
    const { w, targets, clusters } = writer(10_000);
    w.status(status('a', 1, 1));
    w.event([event('a')]);
    w.agentSeen({ clusterId: 'c1', connected: false, at: 5 });
    await w.beforeApplicationShutdown();
    expect(targets.statuses).toHaveLength(1);
    expect(targets.events).toHaveLength(1);
    expect(clusters.seen).toEqual([[{ clusterId: 'c1', connected: false, at: 5 }]]);
    expect(w.pending).toBe(0);
  });

  it('leaves out a report the database refuses for its data and writes the others', async () => {
    const { w, targets, metrics } = writer(10_000);
    for (let i = 0; i < 50; i++)
      w.status({ ...status(`app-${i}`, 1, 1), message: i === 17 ? 'bad' : '' });
    w.event([event('a'), event('b', 'bad'), event('c')]);
    await w.flush();
    expect(
      targets.statuses
        .flat()
        .map((s) => s.appId)
        .sort(),
    ).toEqual(
      Array.from({ length: 50 }, (_, i) => `app-${i}`)
        .filter((a) => a !== 'app-17')
        .sort(),
    );
    expect(
      targets.events
        .flat()
        .map((e) => e.appId)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(w.pending).toBe(0);
    expect(await refusedCount(metrics)).toBe(2);
  });

  it('gives back only the events not inserted when a write stops part-way', async () => {
    const { w, targets } = writer(10_000);
    const events = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((a) =>
      event(a, a === 'a' ? 'bad' : ''),
    );
    w.event(events);
    // The batch is split to find the bad row: [a] refused, [b] written, then the connection drops.
    targets.eventFailures.add(6);
    await w.flush().catch(() => undefined);
    const first = targets.events.flat().map((e) => e.appId);
    expect(first).toEqual(['b']);
    await w.flush();
    const all = targets.events.flat().map((e) => e.appId);
    expect(all.sort()).toEqual(['b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('waits before writing again after a failure, however much is buffered', async () => {
    const { w, targets } = writer(5);
    targets.failNext = 1_000_000;
    for (let i = 0; i < 6000; i++) w.status(status(`app-${i}`, 1, 1));
    await new Promise((r) => setTimeout(r, 50));
    for (let round = 0; round < 20; round++) {
      w.status(status(`late-${round}`, 1, 1)); // every report used to start a write at once
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(targets.statusCalls).toBe(2); // one write, of two parts
  });

  it('writes a large batch in two parts at once, each a range in target order', async () => {
    const { w, targets, metrics } = writer(10_000);
    targets.statusDelayMs = 10;
    const apps = appNames(3000);
    // Given out of order, with one row PostgreSQL refuses in each half.
    for (const a of [...apps].reverse())
      w.status({ ...status(a, 1, 1), message: a === 'app-0007' || a === 'app-2999' ? 'bad' : '' });
    await w.flush();
    expect(targets.mostAtOnce).toBe(2);
    const parts = targets.statuses.map((p) => p.map((s) => s.appId));
    // Every statement (the bad rows' halves too) lies wholly on one side of the split.
    for (const p of parts)
      expect(p.every((a) => a < 'app-1500') || p.every((a) => a >= 'app-1500')).toBe(true);
    expect(parts.flat().sort()).toEqual(apps.filter((a) => a !== 'app-0007' && a !== 'app-2999'));
    expect(await refusedCount(metrics)).toBe(2);
  });

  it('gives back every row of a batch when one of its parts fails, once both have ended', async () => {
    const { w, targets } = writer(10_000);
    targets.statusDelayMs = 10;
    targets.failNext = 1;
    for (let i = 0; i < 2000; i++) w.status(status(`app-${i}`, 1, 1));
    await expect(w.flush()).rejects.toThrow(/connection terminated/);
    expect(targets.running).toBe(0);
    expect(w.pending).toBe(2000);
    await w.flush();
    expect(new Set(targets.statuses.flat().map((s) => s.appId)).size).toBe(2000);
  });
});
