import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClustersRepository } from '../../apps/hub/src/clusters/clusters.repository.js';
import { ClustersService } from '../../apps/hub/src/clusters/clusters.service.js';
import { migratedDataSource } from '../support/hub-harness.js';

/**
 * `PATCH /api/v1/clusters/:name` at the same time as another PATCH, or as a replica recording the
 * agent's status, on a real PostgreSQL: nothing either wrote is lost.
 */
describe('cluster updates at the same time', () => {
  let ds: DataSource;
  let repo: ClustersRepository;
  let service: ClustersService;

  beforeAll(async () => {
    ds = await migratedDataSource();
    repo = new ClustersRepository(ds);
    service = new ClustersService(
      ds,
      repo,
      { record: () => Promise.resolve() } as never,
      { apps: () => Promise.resolve(), appsets: () => Promise.resolve() } as never,
    );
    await ds.query(`INSERT INTO clusters (name, token_hash) VALUES ('edge', 'h')`);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('keeps both of two PATCHes of different fields', async () => {
    for (let round = 0; round < 30; round++) {
      const labels = { round: String(round) };
      const annotations = { note: `round ${round}` };
      await Promise.all([
        service.update('edge', { labels }),
        service.update('edge', { annotations }),
        service.update('edge', { server: `https://edge-${round}` }),
      ]);
      const c = await service.get('edge');
      expect({ labels: c.labels, annotations: c.annotations, server: c.server }).toEqual({
        labels,
        annotations,
        server: `https://edge-${round}`,
      });
    }
  });

  it("keeps the agent's status recorded while a PATCH runs", async () => {
    const id = (await repo.findByName('edge'))!.id;
    for (let round = 0; round < 30; round++) {
      const connected = round % 2 === 0;
      const at = Date.now();
      const [view] = await Promise.all([
        service.update('edge', { labels: { round: String(round) } }),
        repo.recordSeen('replica-a', [{ clusterId: id, connected, at }]),
      ]);
      const c = await service.get('edge');
      expect(c.agent.connected).toBe(connected);
      expect(c.agent.lastSeenAt).toBe(new Date(at).toISOString());
      expect(c.labels).toEqual({ round: String(round) });
      expect(view.labels).toEqual({ round: String(round) });
    }
  });
});
