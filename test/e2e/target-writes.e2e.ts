import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationsRepository } from '../../apps/hub/src/applications/applications.repository.js';
import { TargetsRepository } from '../../apps/hub/src/applications/targets.repository.js';
import { ClustersRepository } from '../../apps/hub/src/clusters/clusters.repository.js';
import { StatusWriter } from '../../apps/hub/src/dispatch/status-writer.js';
import { MetricsService } from '../../apps/hub/src/metrics/metrics.service.js';
import type { ReplicaService } from '../../apps/hub/src/replicas/replica.service.js';
import { createDataSource } from '../../apps/hub/src/database/data-source.js';
import { migratedDataSource, waitFor } from '../support/hub-harness.js';

/**
 * Writes to application targets on a real PostgreSQL. What agents report, written behind: odd
 * text and out-of-range values that PostgreSQL refuses must not hold back the other reports, and a
 * replica the agent left must not take its cluster back. The one write a delivery makes: raising
 * a target past the generation its agent holds. A batch's desired state for a cluster deleted
 * meanwhile.
 */
describe('target writes on PostgreSQL', () => {
  let ds: DataSource;
  let targets: TargetsRepository;
  let clusters: ClustersRepository;

  beforeAll(async () => {
    ds = await migratedDataSource();
    targets = new TargetsRepository(ds);
    clusters = new ClustersRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  const writer = (replica: string) => {
    const metrics = new MetricsService(
      { fleetCounts: () => Promise.resolve([]) } as never,
      { countByConnection: () => Promise.resolve([]) } as never,
      { depth: () => Promise.resolve({}) } as never,
      { countByStatus: () => Promise.resolve([]) } as never,
    );
    const w = new StatusWriter(targets, clusters, { id: replica } as ReplicaService, metrics, {
      flushDelayMs: 10_000,
    });
    return { w, metrics };
  };

  async function cluster(id?: string): Promise<string> {
    const rows = await ds.query<{ id: string }[]>(
      `INSERT INTO clusters (id, name, token_hash) VALUES (coalesce($3::uuid, gen_random_uuid()), $1, $2)
       RETURNING id`,
      [`c-${randomUUID().slice(0, 8)}`, randomUUID(), id ?? null],
    );
    return rows[0].id;
  }

  async function target(clusterId: string, appId?: string): Promise<string> {
    const hash = `sha256:${randomUUID()}`;
    await ds.query(
      `INSERT INTO manifest_bundles (hash, content, size_bytes, object_count) VALUES ($1, '\\x00', 1, 0)`,
      [hash],
    );
    const [{ id }] = await ds.query<{ id: string }[]>(
      `INSERT INTO applications (id, name, spec) VALUES (coalesce($2::uuid, gen_random_uuid()), $1, '{}')
       RETURNING id`,
      [`app-${randomUUID().slice(0, 8)}`, appId ?? null],
    );
    await ds.query(
      `INSERT INTO app_targets (app_id, cluster_id, desired_generation, desired_bundle_hash,
                                desired_revision, desired_namespace, desired_policy)
       VALUES ($1, $2, 1, $3, 'r1', 'default', '{}')`,
      [id, clusterId, hash],
    );
    return id;
  }

  const report = (appId: string, clusterId: string, message: string, observedAt = Date.now()) => ({
    appId,
    clusterId,
    generation: 1,
    revision: 'r1',
    sync: 'Synced' as const,
    health: 'Healthy' as const,
    message,
    resources: [
      {
        group: '',
        version: 'v1',
        kind: 'ConfigMap',
        namespace: 'default',
        name: 'x',
        sync: 'Synced' as const,
        health: 'Healthy' as const,
        message: `half \ud83d`,
      },
    ],
    observedAt,
    drifted: false,
    observeOnly: false,
    operation: null,
  });

  it('stores text with NUL and broken characters, and leaves out only a report it cannot store', async () => {
    const c = await cluster();
    const [odd, fine, absurd] = [await target(c), await target(c), await target(c)];
    const { w, metrics } = writer('replica-a');
    w.status(report(odd, c, 'crashed: \u0000\u0000 binary'));
    w.status(report(fine, c, 'ok'));
    w.status(report(absurd, c, 'from the far future', 1e20)); // timestamp out of range
    w.event([
      {
        appId: odd,
        clusterId: c,
        at: Date.now(),
        type: 'Warning',
        reason: 'SyncFailed',
        message: 'nul \u0000 here',
        generation: 1,
        offline: false,
      },
      {
        appId: fine,
        clusterId: c,
        at: Date.now(),
        type: 'Normal',
        reason: 'SyncSucceeded',
        message: 'fine',
        generation: 1,
        offline: false,
      },
    ]);
    await w.flush();
    expect(w.pending).toBe(0);

    const rows = await ds.query<
      { app_id: string; message: string; sync: string; resources: { message: string }[] }[]
    >(`SELECT app_id, message, sync, resources FROM app_targets WHERE cluster_id = $1`, [c]);
    const by = new Map(rows.map((r) => [r.app_id, r]));
    expect(by.get(odd)).toMatchObject({ message: 'crashed: \ufffd\ufffd binary', sync: 'Synced' });
    expect(by.get(odd)!.resources[0].message).toBe('half \ufffd');
    expect(by.get(fine)).toMatchObject({ message: 'ok', sync: 'Synced' });
    expect(by.get(absurd)).toMatchObject({ message: '', sync: 'Unknown' }); // refused, left out
    const events = await ds.query<{ message: string }[]>(
      `SELECT message FROM app_events WHERE cluster_id = $1 ORDER BY message`,
      [c],
    );
    expect(events.map((e) => e.message)).toEqual(['fine', 'nul \ufffd here']);
    const refused = await metrics.registry
      .getSingleMetric('axle_agent_reports_refused_total')
      ?.get();
    expect(refused?.values[0].value).toBe(1);
  });

  it('stores an acknowledgement with its status, and on its own when the status is not stored', async () => {
    const c = await cluster();
    const [both, refused, older, alone] = [
      await target(c),
      await target(c),
      await target(c),
      await target(c),
    ];
    await ds.query(`UPDATE app_targets SET desired_generation = 3 WHERE cluster_id = $1`, [c]);
    // A newer report of generation 3 is already stored for `older` (acknowledged by nobody).
    await ds.query(
      `UPDATE app_targets SET applied_generation = 3, last_report_at = now() + interval '1 hour'
        WHERE app_id = $1`,
      [older],
    );
    const { w } = writer('replica-a');
    for (const app of [both, refused, older]) w.ack({ appId: app, clusterId: c, generation: 3 });
    w.status({ ...report(both, c, 'ok'), generation: 3 });
    w.status({ ...report(refused, c, 'far future', 1e20), generation: 3 }); // refused: out of range
    w.status({ ...report(older, c, 'older'), generation: 3 }); // skipped: older than the stored one
    // A status alone acknowledges nothing (the agent may hold a generation of a target removed
    // and added again, which this target's numbers do not describe).
    w.status({ ...report(alone, c, 'ok'), generation: 3 });
    await w.flush();
    const rows = await ds.query<{ app_id: string; acked: string; applied: string }[]>(
      `SELECT app_id, acked_generation AS acked, applied_generation AS applied
         FROM app_targets WHERE cluster_id = $1`,
      [c],
    );
    const by = new Map(rows.map((r) => [r.app_id, [Number(r.acked), Number(r.applied)]]));
    expect(by.get(both)).toEqual([3, 3]);
    expect(by.get(refused)).toEqual([3, 0]);
    expect(by.get(older)).toEqual([3, 3]);
    expect(by.get(alone)).toEqual([0, 3]);
  });

  it('does not let a late write from the replica an agent left take the cluster back', async () => {
    const c = await cluster();
    const a = writer('replica-a').w;
    const b = writer('replica-b').w;
    const t0 = Date.now();
    // replica-b holds the stream now; replica-a's heartbeat from before the move lands late.
    b.agentSeen({ clusterId: c, connected: true, at: t0 + 2000 });
    await b.flush();
    a.agentSeen({ clusterId: c, connected: true, at: t0 });
    await a.flush();
    a.agentSeen({ clusterId: c, connected: false, at: t0 + 3000 });
    await a.flush();
    const [row] = await ds.query<{ replica_id: string; connected: boolean }[]>(
      'SELECT replica_id, connected FROM clusters WHERE id = $1',
      [c],
    );
    expect(row).toEqual({ replica_id: 'replica-b', connected: true });
    // A later connected report from replica-a (the agent came back to it) does move it.
    a.agentSeen({ clusterId: c, connected: true, at: t0 + 4000 });
    await a.flush();
    const [moved] = await ds.query<{ replica_id: string }[]>(
      'SELECT replica_id FROM clusters WHERE id = $1',
      [c],
    );
    expect(moved.replica_id).toBe('replica-a');
    // replica-a is not registered (it died, and the sweep that removed it failed half-way):
    // the next sweep's repair disconnects what it held.
    expect(await clusters.disconnectOrphans()).toBeGreaterThanOrEqual(1);
    const [orphan] = await ds.query<{ replica_id: string | null; connected: boolean }[]>(
      'SELECT replica_id, connected FROM clusters WHERE id = $1',
      [c],
    );
    expect(orphan).toEqual({ replica_id: null, connected: false });
  });

  it('raises a target past the generation its agent holds only while it is as the round read it', async () => {
    const c = await cluster();
    const app = await target(c); // generation 1
    const [{ hash }] = await ds.query<{ hash: string }[]>(
      'SELECT desired_bundle_hash AS hash FROM app_targets WHERE app_id = $1',
      [app],
    );
    // A batch wrote generation 2 after the round read generation 1: no raise.
    await ds.query('UPDATE app_targets SET desired_generation = 2 WHERE app_id = $1', [app]);
    expect(
      await targets.raiseGeneration(c, { appId: app, generation: 1, bundleHash: hash }, 8),
    ).toBe(false);
    expect(
      await targets.raiseGeneration(c, { appId: app, generation: 2, bundleHash: hash }, 8),
    ).toBe(true);
    const [row] = await ds.query<{ g: string }[]>(
      'SELECT desired_generation AS g FROM app_targets WHERE app_id = $1',
      [app],
    );
    expect(Number(row.g)).toBe(8);
  });

  it("takes an agent's events only for applications the hub gave its cluster", async () => {
    const [mine, theirs] = [await cluster(), await cluster()];
    const own = await target(mine);
    const other = await target(theirs); // deployed to the other cluster only
    const gone = await target(mine);
    const event = (appId: string, message: string) => ({
      appId,
      clusterId: mine,
      at: Date.now(),
      type: 'Normal' as const,
      reason: 'Pruned',
      message,
      generation: 1,
      offline: false,
    });
    // A removal that just finished: no target, no note, but a desired state recorded for it.
    await ds.query(
      `INSERT INTO app_history (app_id, revision, bundle_hash, spec_version, clusters, replica, started_at, targets)
       VALUES ($1, 'r1', 'sha256:x', 1, 1, 'replica-a', now(), $2)`,
      [gone, JSON.stringify([{ c: mine, g: 1 }])],
    );
    await ds.query('DELETE FROM app_targets WHERE app_id = $1', [gone]);
    await targets.insertEvents([
      event(own, 'its own'),
      event(other, 'forged'),
      event(gone, 'after its removal'),
    ]);
    const rows = await ds.query<{ message: string }[]>(
      'SELECT message FROM app_events WHERE cluster_id = $1 ORDER BY message',
      [mine],
    );
    expect(rows.map((r) => r.message)).toEqual(['after its removal', 'its own']);
  });

  it('locks the targets a commit writes in two passes before either pass', async () => {
    const [c1, c2] = [await cluster(), await cluster()];
    const app = await target(c1);
    await ds.query(
      `INSERT INTO app_targets (app_id, cluster_id, desired_generation, desired_bundle_hash,
                                desired_revision, desired_namespace, desired_policy)
       SELECT app_id, $2, 1, desired_bundle_hash, 'r1', 'default', '{}' FROM app_targets
        WHERE app_id = $1`,
      [app, c2],
    );
    const other = ds.createQueryRunner();
    await other.connect();
    try {
      await ds.transaction(async (tx) => {
        // One to change, one to drop: both held before the first write.
        await targets.lockTargets(tx, [
          { appId: app, clusterId: c2 },
          { appId: app, clusterId: c1 },
          { appId: app, clusterId: randomUUID() }, // not there: nothing to lock
        ]);
        await other.startTransaction();
        for (const c of [c1, c2]) {
          await expect(
            other.query(
              'SELECT 1 FROM app_targets WHERE app_id = $1 AND cluster_id = $2 FOR UPDATE NOWAIT',
              [app, c],
            ),
          ).rejects.toThrow(/could not obtain lock/);
          await other.rollbackTransaction();
          await other.startTransaction();
        }
        await other.rollbackTransaction();
      });
    } finally {
      await other.release();
    }
  });

  it("skips a cluster deleted since the batch read it, and writes the other clusters' desired state", async () => {
    const [kept, deleted] = [await cluster(), await cluster()];
    const app = await target(kept);
    const [{ hash }] = await ds.query<{ hash: string }[]>(
      'SELECT desired_bundle_hash AS hash FROM app_targets WHERE app_id = $1',
      [app],
    );
    await ds.query('DELETE FROM clusters WHERE id = $1', [deleted]);
    const desired = (clusterId: string) => ({
      appId: app,
      clusterId,
      bundleHash: hash,
      revision: 'r2',
      namespace: 'default',
      policy: {},
    });
    const changed = await ds.transaction((tx) =>
      targets.upsertDesired(tx, [desired(kept), desired(deleted)] as never),
    );
    expect(changed.map((c) => c.clusterId)).toEqual([kept]);
    await ds.transaction((tx) => targets.removeTargets(tx, [{ appId: app, clusterId: deleted }]));
  });

  it('leaves a removal note for the target a batch added while the application was being deleted', async () => {
    const [first, added] = [await cluster(), await cluster()];
    const app = await target(first);
    const [{ hash }] = await ds.query<{ hash: string }[]>(
      'SELECT desired_bundle_hash AS hash FROM app_targets WHERE app_id = $1',
      [app],
    );
    const apps = new ApplicationsRepository(ds);
    // A batch, as ReconcileStore.commit writes: lock the application, add its target on a new
    // cluster, and hold the transaction open while the deletion starts.
    const batch = ds.createQueryRunner();
    await batch.connect();
    await batch.startTransaction();
    try {
      await apps.lockForBatch(batch.manager, [app]);
      expect(await apps.stillDispatching(batch.manager, [{ id: app, specVersion: 1 }])).toEqual(
        new Set([app]),
      );
      const changed = await targets.upsertDesired(batch.manager, [
        {
          appId: app,
          clusterId: added,
          bundleHash: hash,
          revision: 'r1',
          namespace: 'default',
          policy: {},
        } as never,
      ]);
      expect(changed.map((c) => c.clusterId)).toEqual([added]);
      const deletion = ds.transaction((tx) => apps.deleteWithNotes(tx, [app], true));
      // The deletion waits on the batch's lock (a backend of this database waiting for a lock).
      const until = Date.now() + 10_000;
      for (;;) {
        const [{ n }] = await ds.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (n > 0) break;
        if (Date.now() > until) throw new Error('the deletion never waited for the batch');
        await new Promise((r) => setTimeout(r, 20));
      }
      await batch.commitTransaction();
      const told = await deletion;
      expect(told.sort()).toEqual([first, added].sort());
    } finally {
      if (batch.isTransactionActive) await batch.rollbackTransaction();
      await batch.release();
    }
    const notes = await ds.query<{ cluster_id: string }[]>(
      'SELECT cluster_id FROM app_removals WHERE app_id = $1 ORDER BY cluster_id',
      [app],
    );
    expect(notes.map((r) => r.cluster_id)).toEqual([first, added].sort());
    expect(await ds.query('SELECT id FROM applications WHERE id = $1', [app])).toEqual([]);
  });

  it('gives a batch that locks an application after its deletion nothing to write', async () => {
    const c = await cluster();
    const app = await target(c);
    const apps = new ApplicationsRepository(ds);
    await ds.transaction((tx) => apps.deleteWithNotes(tx, [app], true));
    expect(
      await ds.transaction((tx) => apps.stillDispatching(tx, [{ id: app, specVersion: 1 }])),
    ).toEqual(new Set());
  });

  it('reads targets and removal notes of one moment for a delivery round', async () => {
    const c = await cluster();
    const app = await target(c);
    const apps = new ApplicationsRepository(ds);
    const seen = await targets.readSnapshot(async (db) => {
      const rows = await targets.allFor([c], db);
      // The application is deleted, keeping its resources, between the round's two reads.
      await ds.transaction((tx) => apps.deleteWithNotes(tx, [app], false));
      const notes = await targets.removalNotes([c], db);
      return { rows: rows.map((r) => r.appId), notes: notes.map((n) => n.appId) };
    });
    // Both from before the deletion: not the target gone and no note yet (a removal that prunes).
    expect(seen).toEqual({ rows: [app], notes: [] });
    expect(await targets.allFor([c])).toEqual([]);
    expect((await targets.removalNotes([c])).map((n) => [n.appId, n.prune])).toEqual([
      [app, false],
    ]);
  });

  it('counts targets for the metrics as the API shows them: Unknown while their agent is away past the grace', async () => {
    const GRACE_MS = 300_000;
    const counts = async () =>
      new Map(
        (await targets.fleetCounts(GRACE_MS)).map((r) => [`${r.sync}/${r.health}`, Number(r.n)]),
      );
    const before = await counts();
    const [away, back, connected, neverSeen] = [
      await cluster(),
      await cluster(),
      await cluster(),
      await cluster(),
    ];
    await ds.query(
      `UPDATE clusters SET connected = false, last_seen_at = now() - interval '10 minutes' WHERE id = $1`,
      [away],
    );
    await ds.query(
      `UPDATE clusters SET connected = false, last_seen_at = now() - interval '10 seconds' WHERE id = $1`,
      [back],
    );
    await ds.query(
      `UPDATE clusters SET connected = true, last_seen_at = now() - interval '1 hour' WHERE id = $1`,
      [connected],
    );
    for (const c of [away, away, back, connected, neverSeen]) await target(c);
    // Applied and reported Synced/Healthy, except one of the away cluster's (desired 1, applied 0).
    await ds.query(
      `UPDATE app_targets SET applied_generation = 1, sync = 'Synced', health = 'Healthy'
        WHERE cluster_id = ANY($1)`,
      [[back, connected, neverSeen]],
    );
    await ds.query(
      `UPDATE app_targets SET applied_generation = 1, sync = 'Synced', health = 'Healthy'
        WHERE app_id = (SELECT app_id FROM app_targets WHERE cluster_id = $1 LIMIT 1)`,
      [away],
    );
    const after = await counts();
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(delta('Unknown/Unknown')).toBe(2);
    expect(delta('Synced/Healthy')).toBe(3);
    expect([...after.values()].reduce((a, b) => a + b, 0)).toBe(
      [...before.values()].reduce((a, b) => a + b, 0) + 5,
    );
  });

  it('locks the targets and clusters it writes in key order, whatever plan PostgreSQL picks', async () => {
    // A second pool whose plans scan tables whole and hash-join (as a large write may be
    // planned): rows come out in the table's physical order, here the reverse of key order.
    const url = (ds.options as { url: string }).url;
    const scans = `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(
      '-c enable_indexscan=off -c enable_bitmapscan=off -c enable_nestloop=off -c enable_mergejoin=off',
    )}`;
    const seqDs = createDataSource(scans);
    await seqDs.initialize();
    const holder = new pg.Client({ connectionString: url });
    const other = new pg.Client({ connectionString: url });
    await holder.connect();
    await other.connect();
    try {
      const seqTargets = new TargetsRepository(seqDs);
      const seqClusters = new ClustersRepository(seqDs);
      const c = await cluster();
      const [lo, hi] = [randomUUID(), randomUUID()].sort();
      await target(c, hi); // first in the table
      await target(c, lo);
      const [cLo, cHi] = [randomUUID(), randomUUID()].sort();
      await cluster(cHi);
      await cluster(cLo);
      const seen = (connected: boolean) =>
        [cHi, cLo].map((clusterId) => ({ clusterId, connected, at: Date.now() }));
      const onTargets = 'SELECT 1 FROM app_targets WHERE app_id = $1 FOR UPDATE';
      const onClusters = 'SELECT 1 FROM clusters WHERE id = $1 FOR UPDATE';
      const writes: [string, string, [string, string], () => Promise<unknown>][] = [
        [
          'acked_generation =',
          onTargets,
          [lo, hi],
          () =>
            seqTargets.writeAcks([hi, lo].map((appId) => ({ appId, clusterId: c, generation: 1 }))),
        ],
        [
          'applied_generation =',
          onTargets,
          [lo, hi],
          () => seqTargets.writeStatuses([report(hi, c, 'b'), report(lo, c, 'a')]),
        ],
        [
          'last_seen_at =',
          onClusters,
          [cLo, cHi],
          () => seqClusters.recordSeen('gone', seen(true)),
        ],
        [
          'replica_id = ANY',
          onClusters,
          [cLo, cHi],
          () => seqClusters.disconnectReplicas(['gone']),
        ],
        [
          'last_seen_at =',
          onClusters,
          [cLo, cHi],
          () => seqClusters.recordSeen('gone', seen(true)),
        ],
        [
          'NOT EXISTS (SELECT 1 FROM hub_replicas',
          onClusters,
          [cLo, cHi],
          () => seqClusters.disconnectOrphans(),
        ],
      ];
      for (const [marker, lock, [first, second], write] of writes) {
        // The rows' newest versions in the table, the second in key order before the first (an
        // update writes a new version after the others): each write meets them in that order.
        const [table, key] = lock === onTargets ? ['app_targets', 'app_id'] : ['clusters', 'id'];
        for (const id of [second, first])
          await ds.query(`UPDATE ${table} SET ${key} = ${key} WHERE ${key} = $1`, [id]);
        // Someone holds the first row in key order: the write waits for it holding nothing else,
        // so a third party can take the other (in the table's order, the write would hold it).
        await holder.query('BEGIN');
        await holder.query(lock, [first]);
        const written = write().then(
          () => undefined,
          (e: unknown) => e,
        );
        await waitFor(
          `the write (${marker}) waiting for a lock`,
          async () => {
            const { rows } = await other.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND query LIKE $1`,
              [`%${marker}%`],
            );
            return rows[0].n > 0;
          },
          { timeoutMs: 10_000, intervalMs: 20 },
        );
        await other.query('BEGIN');
        const taken = await other.query(`${lock} NOWAIT`, [second]).then(
          () => true,
          () => false,
        );
        await other.query('ROLLBACK');
        await holder.query('COMMIT');
        expect(await written).toBeUndefined();
        expect(taken, marker).toBe(true);
      }
      const rows = await ds.query<{ acked_generation: string; applied_generation: string }[]>(
        'SELECT acked_generation, applied_generation FROM app_targets WHERE cluster_id = $1',
        [c],
      );
      expect(rows.map((r) => [Number(r.acked_generation), Number(r.applied_generation)])).toEqual([
        [1, 1],
        [1, 1],
      ]);
      const states = await ds.query<{ connected: boolean; replica_id: string | null }[]>(
        'SELECT connected, replica_id FROM clusters WHERE id = ANY($1::uuid[])',
        [[cLo, cHi]],
      );
      expect(states).toEqual([
        { connected: false, replica_id: null },
        { connected: false, replica_id: null },
      ]);
    } finally {
      await holder.end();
      await other.end();
      await seqDs.destroy();
    }
  });
});
