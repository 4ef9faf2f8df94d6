import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClustersRepository } from '../../apps/hub/src/clusters/clusters.repository.js';
import { migratedDataSource } from '../support/hub-harness.js';

/**
 * The cluster inventory generators read is kept by each replica and read again only when the
 * inventory version moved: every change to what generators read raises it, whoever writes it,
 * and nothing else does (a heartbeat every 15 s per cluster must not).
 */
describe('cluster inventory version on PostgreSQL', () => {
  let ds: DataSource;
  let clusters: ClustersRepository;

  beforeAll(async () => {
    ds = await migratedDataSource();
    clusters = new ClustersRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  const add = async (labels: Record<string, string> = {}) => {
    const name = `c-${randomUUID().slice(0, 8)}`;
    const [{ id }] = await ds.query<{ id: string }[]>(
      `INSERT INTO clusters (name, token_hash, labels) VALUES ($1, $2, $3) RETURNING id`,
      [name, randomUUID(), JSON.stringify(labels)],
    );
    return { id, name };
  };

  it('reads the clusters again only after a change to what generators read', async () => {
    const a = await add({ env: 'prod' });
    const first = await clusters.inventory();
    expect(first.find((c) => c.name === a.name)?.labels).toEqual({ env: 'prod' });
    expect(await clusters.inventory()).toBe(first);

    // Heartbeats, connections and an agent version: the same rows.
    await clusters.recordSeen('replica-a', [
      { clusterId: a.id, connected: true, at: Date.now(), agentVersion: '1.2.3' },
    ]);
    await clusters.disconnectReplicas(['replica-a']);
    // Labels written as they were: nothing changed.
    await ds.query(`UPDATE clusters SET labels = labels WHERE id = $1`, [a.id]);
    expect(await clusters.inventory()).toBe(first);

    // Relabelled by hand, outside the hub's code: read again.
    await ds.query(`UPDATE clusters SET labels = '{"env":"staging"}' WHERE id = $1`, [a.id]);
    const relabelled = await clusters.inventory();
    expect(relabelled).not.toBe(first);
    expect(relabelled.find((c) => c.name === a.name)?.labels).toEqual({ env: 'staging' });

    await ds.query(`UPDATE clusters SET server = 'https://moved.example.com' WHERE id = $1`, [
      a.id,
    ]);
    const moved = await clusters.inventory();
    expect(moved.find((c) => c.name === a.name)?.server).toBe('https://moved.example.com');

    const b = await add();
    const added = await clusters.inventory();
    expect(added.map((c) => c.name)).toContain(b.name);

    await ds.query(`DELETE FROM clusters WHERE id = $1`, [b.id]);
    const deleted = await clusters.inventory();
    expect(deleted.map((c) => c.name)).not.toContain(b.name);
    expect(await clusters.inventory()).toBe(deleted);
  });

  it('sees a change committed between reading the version and the rows, on the next read at the latest', async () => {
    const a = await add({ tier: 'a' });
    const b = await add({ tier: 'a' });
    // A repository whose second query of a read (whichever it is) waits for a relabel committed
    // by someone else: read the other way round (rows, then version), the change would be
    // tagged as already read and never seen.
    let relabel: (() => Promise<unknown>) | undefined;
    let queries = 0;
    const spied = Object.create(ds) as DataSource;
    spied.query = (async (sql: string, params?: unknown[]) => {
      if (relabel && ++queries === 2) {
        const r = relabel;
        relabel = undefined;
        await r();
      }
      return ds.query(sql, params);
    }) as DataSource['query'];
    const repo = new ClustersRepository(spied);
    await repo.inventory();
    await ds.query(`UPDATE clusters SET labels = '{"tier":"b"}' WHERE id = $1`, [a.id]);
    queries = 0;
    relabel = () => ds.query(`UPDATE clusters SET labels = '{"tier":"b"}' WHERE id = $1`, [b.id]);
    await repo.inventory();
    expect(relabel).toBeUndefined();
    const after = await repo.inventory();
    expect(after.find((c) => c.name === a.name)?.labels).toEqual({ tier: 'b' });
    expect(after.find((c) => c.name === b.name)?.labels).toEqual({ tier: 'b' });
  });

  it('does not show what a transaction has not committed, and reads it once committed', async () => {
    const a = await add({ tier: 'a' });
    await clusters.inventory();
    const runner = ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query(`UPDATE clusters SET labels = '{"tier":"b"}' WHERE id = $1`, [a.id]);
      const during = await clusters.inventory();
      expect(during.find((c) => c.name === a.name)?.labels).toEqual({ tier: 'a' });
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    const after = await clusters.inventory();
    expect(after.find((c) => c.name === a.name)?.labels).toEqual({ tier: 'b' });
  });

  it('raises the version once per transaction, when it commits', async () => {
    const version = async () =>
      Number((await ds.query<{ v: string }[]>('SELECT version AS v FROM inventory_version'))[0].v);
    const before = await version();
    const runner = ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query(
        `INSERT INTO clusters (name, token_hash) SELECT 'batch-' || g, md5(g::text) FROM generate_series(1, 3) g`,
      );
      await runner.query(`UPDATE clusters SET labels = '{"x":"y"}' WHERE name = 'batch-1'`);
      // Not yet: the version moves with the changes, at the commit.
      expect(await version()).toBe(before);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    expect(await version()).toBe(before + 1);
    await ds.query(`UPDATE clusters SET labels = '{"x":"z"}' WHERE name = 'batch-2'`);
    expect(await version()).toBe(before + 2);
  });

  it('reads the clusters again after a truncation', async () => {
    const kept = await clusters.inventory();
    expect(kept.length).toBeGreaterThan(0);
    await ds.query('TRUNCATE clusters CASCADE');
    expect(await clusters.inventory()).toEqual([]);
  });

  it('shares frozen rows: a caller cannot change what the next one reads', async () => {
    await add({ team: 'x' });
    const rows = await clusters.inventory();
    const row = rows[0];
    expect(() => {
      (row.labels as Record<string, string>).team = 'y';
    }).toThrow(TypeError);
    expect(() => {
      (row as { name: string }).name = 'other';
    }).toThrow(TypeError);
  });
});
