import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  registerAndStartAgent,
  startTestHub,
  tempDir,
  waitFor,
} from '../support/hub-harness.js';
import { configMapValue } from './agent-support.js';

/**
 * `DELETE /api/v1/applications/{name}?cascade=false` (`axle app delete --cascade=false`), as
 * Argo CD's non-cascading delete: the application goes, its resources stay in the cluster.
 */
describe('deleting an application without its resources', () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  let repo: TestRepo;
  let agent: Agent;
  let db: pg.Client;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({
      'keep/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\ndata:\n  v: "1"\n',
      'drop/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dropped\ndata:\n  v: "1"\n',
    });
    const dir = await tempDir('axle-hub-delete-keep-');
    cleanup.push(dir.remove);
    const databaseUrl = await createTestDatabase();
    hub = await startTestHub({ databaseUrl, dataDir: dir.path });
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    agent = await registerAndStartAgent(hub, { cluster: east, name: 'keep-east', cleanup });
    await waitFor('agent connected', () => Promise.resolve(agent.connected));
  });

  afterAll(async () => {
    await db?.end();
    await agent?.stop();
    await hub?.close();
    for (const c of cleanup) await c();
  });

  const create = async (name: string, path: string) => {
    const r = await api(hub).post('/api/v1/applications', {
      name,
      source: { repoURL: repo.fileUrl, targetRevision: 'HEAD', path },
      destination: { cluster: 'keep-east', namespace: 'delete-keep' },
      syncPolicy: { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] },
    });
    expect(r.status).toBe(201);
  };
  /** The agent acknowledged every removal (the hub forgets a removal note once it did). */
  const removalsDone = async () => (await db.query('SELECT 1 FROM app_removals')).rowCount === 0;

  it('keeps the resources with cascade=false and deletes them by default', async () => {
    await create('kept-app', 'keep');
    await create('dropped-app', 'drop');
    await waitFor(
      'both applied',
      async () =>
        (await configMapValue(east, 'delete-keep', 'kept')) === '1' &&
        (await configMapValue(east, 'delete-keep', 'dropped')) === '1',
    );
    expect((await api(hub).delete('/api/v1/applications/kept-app?cascade=maybe')).status).toBe(400);
    expect((await api(hub).delete('/api/v1/applications/kept-app?cascade=false')).status).toBe(204);
    expect((await api(hub).delete('/api/v1/applications/dropped-app')).status).toBe(204);
    await waitFor('the agent removed both', removalsDone);
    await waitFor(
      'the default deletion pruned its ConfigMap',
      async () => (await configMapValue(east, 'delete-keep', 'dropped')) === undefined,
    );
    expect(await configMapValue(east, 'delete-keep', 'kept')).toBe('1');
    expect((await api(hub).get('/api/v1/applications/kept-app')).status).toBe(404);
  });
});
