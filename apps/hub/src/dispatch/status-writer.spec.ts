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

class FakeTargets {
  statuses: StatusRow[][] = [];
  acks: AckRow[][] = [];
  events: EventRow[][] = [];
  failNext = 0;
  writeStatuses(rows: StatusRow[]) {
    if (this.failNext-- > 0) return Promise.reject(new Error('connection terminated'));
    this.statuses.push(rows);
    return Promise.resolve();
  }
  writeAcks(rows: AckRow[]) {
    this.acks.push(rows);
    return Promise.resolve();
  }
  insertEvents(rows: EventRow[]) {
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
  return { w, targets, clusters };
}

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
    expect(targets.statuses).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(targets.statuses).toHaveLength(1);
    expect(targets.statuses[0].map((s) => [s.appId, s.generation, s.observedAt, s.sync])).toEqual([
      ['a', 2, 100, 'Synced'],
      ['b', 1, 20, 'Synced'],
    ]);
    expect(targets.acks).toEqual([[{ appId: 'a', clusterId: 'c1', generation: 2 }]]);
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
    w.event([
      {
        appId: 'a',
        clusterId: 'c1',
        at: 1,
        type: 'Normal',
        reason: 'SyncSucceeded',
        message: '',
        generation: 1,
        offline: false,
      },
    ]);
    w.agentSeen({ clusterId: 'c1', connected: false, at: 5 });
    await w.beforeApplicationShutdown();
    expect(targets.statuses).toHaveLength(1);
    expect(targets.events).toHaveLength(1);
    expect(clusters.seen).toEqual([[{ clusterId: 'c1', connected: false, at: 5 }]]);
    expect(w.pending).toBe(0);
  });
});
