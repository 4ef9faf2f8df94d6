import type { PoolClient } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClustersRepository } from '../../apps/hub/src/clusters/clusters.repository.js';
import { migratedDataSource } from '../support/hub-harness.js';

/**
 * The web console hears about changed tables from PostgreSQL triggers (channel `axle_console`).
 * An agent's heartbeat (`last_seen_at` moved, nothing else) is not news: each one made every open
 * console refetch the whole fleet view.
 */
describe('console change notifications', () => {
  let ds: DataSource;
  let runner: QueryRunner;
  let heard: string[] = [];
  let repo: ClustersRepository;
  let id = '';

  beforeAll(async () => {
    ds = await migratedDataSource();
    repo = new ClustersRepository(ds);
    runner = ds.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    client.on('notification', (n) => {
      if (n.channel === 'axle_console') heard.push(n.payload ?? '');
    });
    await client.query('LISTEN axle_console');
    const rows: { id: string }[] = await ds.query(
      `INSERT INTO clusters (name, token_hash) VALUES ('edge', 'h') RETURNING id`,
    );
    id = rows[0].id;
  });

  afterAll(async () => {
    await runner?.release();
    await ds?.destroy();
  });

  /** What was heard after `write`, once a later marker notification came through. */
  async function after(write: () => Promise<unknown>): Promise<string[]> {
    heard = [];
    await write();
    await ds.query(`SELECT pg_notify('axle_console', 'marker')`);
    for (let i = 0; i < 100 && !heard.includes('marker'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(heard).toContain('marker');
    return heard.filter((p) => p !== 'marker');
  }

  it('says nothing when a heartbeat only moves last_seen_at', async () => {
    const seen = (connected: boolean, at: number) =>
      repo.recordSeen('replica-a', [{ clusterId: id, connected, at, agentVersion: '1.0.0' }]);
    await after(() => Promise.resolve()); // the insert's notification heard
    expect(await after(() => seen(true, Date.now() - 60_000))).toEqual(['clusters']);
    expect(await after(() => seen(true, Date.now() - 30_000))).toEqual([]);
    expect(await after(() => seen(true, Date.now()))).toEqual([]);
    // Disconnecting, a new agent version, and labels are news.
    expect(await after(() => seen(false, Date.now()))).toEqual(['clusters']);
    expect(
      await after(() =>
        repo.recordSeen('replica-a', [
          { clusterId: id, connected: false, at: Date.now(), agentVersion: '1.1.0' },
        ]),
      ),
    ).toEqual(['clusters']);
    expect(
      await after(() =>
        ds.query(`UPDATE clusters SET labels = '{"env":"prod"}' WHERE id = $1`, [id]),
      ),
    ).toEqual(['clusters']);
  });
});
