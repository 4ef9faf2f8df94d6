import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { TestRepo } from '../support/git-repo.js';
import { api, createTestDatabase, startTestHub, tempDir, waitFor } from '../support/hub-harness.js';

const TOKEN = 'plugin-token-0123456789';

/** Starts the plugin process; resolves with its port once it listens. */
function startPlugin(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [resolve('test/support/generator-plugin-server.mjs')], {
    env: { PATH: process.env.PATH ?? '', PLUGIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((ok, fail) => {
    child.once('error', fail);
    child.stdout.once('data', (d: Buffer) => ok({ child, port: Number(d.toString().trim()) }));
  });
}

describe("Argo CD's plugin generator, over HTTP to a real plugin process", () => {
  let hub: RunningHub;
  let repo: TestRepo;
  let plugin: { child: ChildProcess; port: number };
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    plugin = await startPlugin();
    cleanup.push(() => {
      plugin.child.kill('SIGTERM');
      return Promise.resolve();
    });
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({ 'app/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' });
    const dir = await tempDir('axle-hub-plugin-');
    cleanup.push(dir.remove);
    const base = `http://127.0.0.1:${plugin.port}`;
    hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: {
        AXLE_GENERATOR_PLUGINS: JSON.stringify([
          { name: 'teams', baseUrl: base, token: TOKEN, requestTimeoutSeconds: 2 },
          { name: 'wrong-token', baseUrl: base, token: 'nope', requestTimeoutSeconds: 2 },
        ]),
      },
    });
    expect((await api(hub).post('/api/v1/clusters', { name: 'far' })).status).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
    for (const c of cleanup.reverse()) await c();
  });

  const appset = (name: string, plugin: string, parameters: Record<string, unknown>) => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: { name },
    spec: {
      goTemplate: true,
      generators: [
        {
          plugin: {
            configMapRef: { name: plugin },
            input: { parameters },
            values: { owner: 'team-{{.team}}' },
          },
        },
      ],
      template: {
        metadata: {
          name: '{{.appset}}-{{.team}}',
          labels: { owner: '{{.values.owner}}', region: '{{.generator.input.parameters.region}}' },
        },
        spec: {
          project: 'default',
          source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'app' },
          destination: { name: 'far', namespace: 'ns-{{.team}}-{{.replicas}}' },
        },
      },
    },
  });

  it('generates one application per parameter set the plugin answers', async () => {
    const r = await api(hub).post(
      '/api/v1/applicationsets',
      appset('teams', 'teams', { teams: ['pay', 'web'], region: 'eu' }),
    );
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    await waitFor('two applications', async () => {
      const s = (await api(hub).get('/api/v1/applicationsets/teams')).body;
      return s.applications.length === 2;
    });
    const pay = (await api(hub).get('/api/v1/applications/teams-pay')).body;
    // Numbers from the plugin are float64 to templates, as in Argo CD: 1 prints as 1.
    expect(pay.spec.destination).toEqual({ cluster: 'far', namespace: 'ns-pay-1' });
    const web = (await api(hub).get('/api/v1/applications/teams-web')).body;
    expect(web.spec.destination.namespace).toBe('ns-web-2');
  });

  it('reports a refused token and a plugin that does not answer in time, by generator', async () => {
    const bad = await api(hub).post(
      '/api/v1/applicationsets/dry-run',
      appset('bad', 'wrong-token', { teams: ['x'] }),
    );
    expect(bad.body.errors[0].message).toContain(
      'spec.generators[0].plugin: generator plugin "wrong-token": HTTP 401: bad token',
    );
    const slow = await api(hub).post(
      '/api/v1/applicationsets/dry-run',
      appset('slow', 'teams', { teams: ['x'], delayMs: 5000 }),
    );
    expect(slow.body.errors[0].message).toContain('no answer within 2 s');
    const unknown = await api(hub).post(
      '/api/v1/applicationsets/dry-run',
      appset('unknown', 'nosuch', { teams: ['x'] }),
    );
    expect(unknown.body.errors[0].message).toContain('no generator plugin "nosuch" is configured');
  });

  it('asks the plugin again every requeueAfterSeconds', async () => {
    const doc = appset('again', 'teams', { teams: ['ops'], region: 'us' }) as {
      spec: {
        generators: { plugin: Record<string, unknown> }[];
        template: { spec: { destination: { namespace: string } } };
      };
    };
    doc.spec.generators[0].plugin.requeueAfterSeconds = 1;
    doc.spec.template.spec.destination.namespace = 'ns-{{.team}}-call-{{.call}}';
    const created = await api(hub).post('/api/v1/applicationsets', doc);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const call = async () => {
      const a = (await api(hub).get('/api/v1/applications/again-ops')).body as {
        spec?: { destination: { namespace: string } };
      };
      return Number(/call-(\d+)$/.exec(a.spec?.destination.namespace ?? '')?.[1] ?? 0);
    };
    await waitFor('a first answer', async () => (await call()) > 0);
    const first = await call();
    // Nothing changed in git or the inventory: only the requeue asks again.
    await waitFor('asked again', async () => (await call()) >= first + 2, { timeoutMs: 20_000 });
  });
});
