import { describe, expect, it } from 'vitest';
import type { ClustersRepository } from '../clusters/clusters.repository.js';
import type { ListenerBackend, NotifyBus } from '../database/notify-bus.js';
import type { WorkRepository } from '../work/work.repository.js';
import { BACKEND_TRUST_MS, ORPHAN_SWEEP_BEATS, ReplicaService } from './replica.service.js';
import type { ReplicasRepository } from './replicas.repository.js';

/** The server as the replicas table and pg_stat_activity show it. */
class FakeReplicas {
  /** replica id → its recorded backend key (`pid@start`). */
  recorded = new Map<string, string>();
  /** Backend keys the server runs. */
  running = new Set<string>();
  removed: string[] = [];

  heartbeat(): Promise<void> {
    return Promise.resolve();
  }
  removeStale(): Promise<string[]> {
    return Promise.resolve([]);
  }
  backendsGone(self: string): Promise<{ id: string; backend: string }[]> {
    return Promise.resolve(
      [...this.recorded]
        .filter(([id, b]) => id !== self && !this.running.has(b))
        .map(([id, backend]) => ({ id, backend })),
    );
  }
  removeGone(self: string, gone: { id: string; backend: string }[]): Promise<string[]> {
    const out = gone
      .filter((g) => g.id !== self && this.recorded.get(g.id) === g.backend)
      .filter((g) => !this.running.has(g.backend))
      .map((g) => g.id);
    for (const id of out) this.recorded.delete(id);
    this.removed.push(...out);
    return Promise.resolve(out);
  }
}

function replica(own: ListenerBackend | undefined) {
  const repo = new FakeReplicas();
  const released: string[][] = [];
  const disconnected: string[][] = [];
  const orphans = { leases: 0, clusters: 0, sweeps: 0 };
  const work = {
    releaseOwners: (ids: string[]) => (released.push(ids), Promise.resolve(1)),
    releaseOrphans: () => (orphans.sweeps++, Promise.resolve(orphans.leases)),
  } as unknown as WorkRepository;
  const clusters = {
    disconnectReplicas: (ids: string[]) => (disconnected.push(ids), Promise.resolve()),
    disconnectOrphans: () => Promise.resolve(orphans.clusters),
  } as unknown as ClustersRepository;
  const published: string[] = [];
  const bus = {
    backend: () => own,
    onReconnect: () => undefined,
    publish: (channel: string, kind: string) => (
      published.push(`${channel}:${kind}`),
      Promise.resolve()
    ),
  } as unknown as NotifyBus;
  const svc = new ReplicaService(repo as unknown as ReplicasRepository, work, clusters, bus);
  return { svc, repo, released, disconnected, published, orphans, sweep: () => svc['beat']() };
}

const started = (ageMs: number, reconnected = false): ListenerBackend => ({
  pid: 1,
  start: '2026-12-06 00:00:00.123456+00',
  since: Date.now() - ageMs,
  reconnected,
});

describe('ReplicaService: replicas whose backend is gone', () => {
  it('takes over a replica whose backend is gone at two sweeps in a row', async () => {
    const r = replica(started(0));
    r.repo.recorded.set('b', '7@t0');
    await r.sweep(); // gone once: a suspect
    expect(r.repo.removed).toEqual([]);
    await r.sweep(); // still gone, same backend
    expect(r.repo.removed).toEqual(['b']);
    expect(r.released).toEqual([['b']]);
    expect(r.disconnected).toEqual([['b']]);
    expect(r.published).toEqual(['axle_work:app', 'axle_work:appset']); // the others wake now
  });

  it('leaves a replica that recorded a new backend between the sweeps', async () => {
    const r = replica(started(0));
    r.repo.recorded.set('b', '7@t0');
    await r.sweep();
    r.repo.recorded.set('b', '8@t1'); // it reconnected
    r.repo.running.add('8@t1');
    await r.sweep();
    await r.sweep();
    expect(r.repo.removed).toEqual([]);
    expect(r.released).toEqual([]);
  });

  it('does not judge the others just after its own listener came back', async () => {
    const r = replica(started(1000, true));
    r.repo.recorded.set('b', '7@t0');
    await r.sweep();
    await r.sweep();
    expect(r.repo.removed).toEqual([]);
    const settled = replica(started(BACKEND_TRUST_MS + 1, true));
    settled.repo.recorded.set('b', '7@t0');
    await settled.sweep();
    await settled.sweep();
    expect(settled.repo.removed).toEqual(['b']);
  });

  it('judges nobody while its own listener is down', async () => {
    const r = replica(undefined);
    r.repo.recorded.set('b', '7@t0');
    await r.sweep();
    await r.sweep();
    expect(r.repo.removed).toEqual([]);
  });

  it('now and then frees what replicas no longer registered hold (a sweep that failed half-way)', async () => {
    const r = replica(started(0));
    r.orphans.leases = 3;
    for (let i = 1; i < ORPHAN_SWEEP_BEATS; i++) await r.sweep();
    expect(r.orphans.sweeps).toBe(0);
    await r.sweep();
    expect(r.orphans.sweeps).toBe(1);
    expect(r.published).toEqual(['axle_work:app', 'axle_work:appset']);
  });
});
