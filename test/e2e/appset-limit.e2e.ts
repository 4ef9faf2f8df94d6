import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import { api, createTestDatabase, startTestHub, tempDir, waitFor } from '../support/hub-harness.js';

/**
 * AXLE_APPSET_MAX_APPLICATIONS on a stored ApplicationSet: the cluster inventory grows until the
 * clusters generator yields more applications than one ApplicationSet may have. The evaluation is
 * refused whole, with a condition naming the limit; the applications it generated before stay as
 * they are (none deleted, none changed); once the inventory shrinks again it carries on.
 */
describe('ApplicationSets over the application limit', () => {
  let hub: RunningHub;
  let repo: TestRepo;
  const cleanup: (() => Promise<void>)[] = [];

  const names = async () =>
    ((await api(hub).get('/api/v1/applications')).body as { name: string }[])
      .map((a) => a.name)
      .sort();
  const status = async () =>
    (await api(hub).get('/api/v1/applicationsets/per-cluster')).body.status as {
      conditions: { type: string; status: string; message: string }[];
    };
  const register = async (name: string) =>
    expect(
      (await api(hub).post('/api/v1/clusters', { name, labels: { fleet: 'limit' } })).status,
    ).toBe(201);

  beforeAll(async () => {
    const dir = await tempDir('axle-appset-limit-');
    cleanup.push(dir.remove);
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({
      'app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: limit\n',
    });
    hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: { AXLE_APPSET_MAX_APPLICATIONS: '3', AXLE_APPSET_MAX_RENDER_SECONDS: '1' },
    });
  });

  afterAll(async () => {
    await hub?.close();
    for (const c of cleanup.reverse()) await c();
  });

  it('refuses a grown inventory whole, keeps what it generated, and carries on when it shrinks', async () => {
    await register('limit-a');
    await register('limit-b');
    const created = await api(hub).post('/api/v1/applicationsets', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'per-cluster' },
      spec: {
        goTemplate: true,
        generators: [{ clusters: { selector: { matchLabels: { fleet: 'limit' } } } }],
        template: {
          metadata: { name: 'limit-{{.name}}' },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'HEAD', path: 'app' },
            destination: { name: '{{.name}}', namespace: 'limit' },
          },
        },
      },
    });
    expect(created.status).toBe(201);
    await waitFor('two applications', async () => (await names()).length === 2);
    const before = (await api(hub).get('/api/v1/applications/limit-limit-a')).body;

    // A third cluster: 3 applications, the limit; a fourth: over it.
    await register('limit-c');
    await waitFor('three applications', async () => (await names()).length === 3);
    await register('limit-d');
    const refused = await waitFor('the evaluation refused', async () => {
      const s = await status();
      const error = s.conditions.find((c) => c.type === 'ErrorOccurred' && c.status === 'True');
      return error?.message.includes('more than 3') ? error : false;
    });
    expect(refused.message).toMatch(
      /spec\.generators\[0\]: the generators produce 4 applications so far, more than 3.*AXLE_APPSET_MAX_APPLICATIONS/,
    );
    // The path is said once.
    expect(refused.message).not.toMatch(/spec\.generators\[0\]: spec\.generators\[0\]/);
    expect(await names()).toEqual(['limit-limit-a', 'limit-limit-b', 'limit-limit-c']);
    expect((await api(hub).get('/api/v1/applications/limit-limit-a')).body.spec).toEqual(
      before.spec,
    );

    // One cluster gone: within the limit again; the evaluation goes through.
    expect((await api(hub).delete('/api/v1/clusters/limit-d')).status).toBe(204);
    await waitFor('no error', async () =>
      (await status()).conditions.every((c) => c.type !== 'ErrorOccurred' || c.status === 'False'),
    );
    expect(await names()).toEqual(['limit-limit-a', 'limit-limit-b', 'limit-limit-c']);
  });

  it('refuses at creation an ApplicationSet whose applications take longer to render than allowed, and the hub answers meanwhile', async () => {
    // About 0.8 s of template work for each of three applications: well over 1 s in all.
    const busy = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [
        `busy-${i}`,
        '{{range until 690}}{{range until 690}}{{end}}{{end}}',
      ]),
    );
    const posting = api(hub).post('/api/v1/applicationsets', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'slow' },
      spec: {
        goTemplate: true,
        generators: [{ list: { elements: [{ n: '1' }, { n: '2' }, { n: '3' }] } }],
        template: {
          metadata: { name: 'slow-{{.n}}', annotations: busy },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'HEAD', path: 'app' },
            destination: { name: 'limit-a', namespace: 'limit' },
          },
        },
      },
    });
    // Rendering yields: the API answers while it runs.
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    expect((await api(hub).get('/api/v1/clusters')).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(500);
    const refused = await posting;
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /^invalid ApplicationSet: its applications take longer to render than one ApplicationSet may: spec\.generators\[0\]: rendering the applications took longer than 1 s \(\d rendered\).*\(AXLE_APPSET_MAX_RENDER_SECONDS\)$/,
    );
    expect((await api(hub).get('/api/v1/applicationsets/slow')).status).toBe(404);
  });
});
