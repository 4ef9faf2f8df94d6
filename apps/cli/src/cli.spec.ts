import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { fakeHub as startFakeHub, json, type FakeHub } from '../../../test/support/fake-hub.js';
import { freePort } from '../../../test/support/ports.js';
import { isLocalHub, runCli } from './cli.js';

/** No admin token lying around: an empty data directory unless the test gives one. */
const noData = mkdtempSync(join(tmpdir(), 'axle-cli-data-'));

async function run(args: string[], env: NodeJS.ProcessEnv = {}, file?: string) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    env: { AXLE_DATA_DIR: noData, ...env },
    ...(file !== undefined ? { readFile: () => file } : {}),
  });
  return { code, out, err };
}

const hubs: FakeHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

async function fakeHub(...args: Parameters<typeof startFakeHub>): Promise<FakeHub> {
  const hub = await startFakeHub(...args);
  hubs.push(hub);
  return hub;
}

describe('axle --server', () => {
  it('the flag wins over AXLE_SERVER', async () => {
    const hub = await fakeHub();
    const elsewhere = `http://127.0.0.1:${await freePort()}`;
    const r = await run(['--server', hub.url, 'cluster', 'list'], { AXLE_SERVER: elsewhere });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(hub.seen.map((s) => s.url)).toEqual(['/api/v1/clusters?limit=1000']);
  });

  it('the flag wins over AXLE_SERVER also when it names the default address', async () => {
    const hub = await fakeHub();
    const r = await run(['--server', 'http://127.0.0.1:8080', 'cluster', 'list'], {
      AXLE_SERVER: hub.url,
    });
    expect(hub.seen).toEqual([]);
    expect(r.code).not.toBe(0);
  });

  it('AXLE_SERVER is used without the flag', async () => {
    const hub = await fakeHub();
    const r = await run(['cluster', 'list'], { AXLE_SERVER: hub.url });
    expect(r.code).toBe(0);
    expect(hub.seen).toHaveLength(1);
  });
});

describe("the local hub's admin token file", () => {
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'axle-cli-data-'));
    writeFileSync(join(dir, 'admin-token'), 'axle_local_admin\n');
    return dir;
  };

  it('is not sent to a server other than the local hub', async () => {
    const hub = await fakeHub((_, res) => json(res, 401, { statusCode: 401, message: 'no' }));
    const r = await run(['--server', hub.url, 'cluster', 'list'], { AXLE_DATA_DIR: dataDir() });
    expect(hub.seen.map((s) => s.authorization)).toEqual([undefined]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('401 no (no token was sent:');
    expect(r.err).toContain('is sent only to the local hub (a loopback address, port 8080)');
    expect(r.err).toContain('give --token or AXLE_TOKEN');
  });

  it('is not sent to AXLE_SERVER elsewhere either', async () => {
    const hub = await fakeHub();
    const r = await run(['cluster', 'list'], { AXLE_DATA_DIR: dataDir(), AXLE_SERVER: hub.url });
    expect(r.code).toBe(0);
    expect(hub.seen.map((s) => s.authorization)).toEqual([undefined]);
  });

  it('is sent to the local hub, at the port it is configured with', async () => {
    const hub = await fakeHub();
    const env = { AXLE_DATA_DIR: dataDir(), AXLE_HTTP_PORT: String(hub.port) };
    await run(['--server', hub.url, 'cluster', 'list'], env);
    await run(['--server', `http://localhost:${hub.port}/`, 'cluster', 'list'], env);
    expect(hub.seen.map((s) => s.authorization)).toEqual([
      'Bearer axle_local_admin',
      'Bearer axle_local_admin',
    ]);
  });

  it('a token given goes to any server', async () => {
    const hub = await fakeHub();
    await run(['--server', hub.url, '--token', 'axle_flag', 'cluster', 'list'], {
      AXLE_DATA_DIR: dataDir(),
    });
    await run(['--server', hub.url, 'cluster', 'list'], {
      AXLE_DATA_DIR: dataDir(),
      AXLE_TOKEN: 'axle_env',
    });
    expect(hub.seen.map((s) => s.authorization)).toEqual(['Bearer axle_flag', 'Bearer axle_env']);
  });

  it('a 401 without any token says none was sent', async () => {
    const hub = await fakeHub((_, res) => json(res, 401, { statusCode: 401, message: 'no' }));
    const r = await run(['--server', hub.url, 'cluster', 'list']);
    expect(r.err).toBe('error: 401 no (no token was sent: give --token or AXLE_TOKEN)\n');
  });

  it.each([
    ['http://127.0.0.1:8080', {}, true],
    ['http://localhost:8080/', {}, true],
    ['http://[::1]:8080', {}, true],
    ['https://127.0.0.1:8080', {}, true],
    ['http://127.0.0.1:9000', {}, false],
    ['http://127.0.0.1:9000', { AXLE_HTTP_PORT: '9000' }, true],
    ['http://127.0.0.1:8080', { AXLE_HTTP_PORT: '9000' }, false],
    ['http://hub.example.com:8080', {}, false],
    ['http://hub.example.com:8080', { AXLE_HTTP_HOST: 'hub.example.com' }, true],
    ['http://hub.example.com', { AXLE_HTTP_HOST: 'hub.example.com', AXLE_HTTP_PORT: '80' }, true],
    ['http://127.0.0.1.example.com:8080', {}, false],
    ['http://user:pw@127.0.0.1:8080', {}, false],
    ['ftp://127.0.0.1:8080', {}, false],
    ['not a url', {}, false],
  ])('%s with %j is the local hub: %s', (server, env, local) => {
    expect(isLocalHub(server, env)).toBe(local);
  });
});

describe('-o json|yaml of commands that take several documents', () => {
  const two = `kind: ApplicationSet
metadata: {name: one}
---
kind: ApplicationSet
metadata: {name: two}
`;
  const created = (name: string) => ({
    name,
    warnings: [],
    applications: [],
    status: { conditions: [], applicationErrors: [], pendingDeletion: [] },
  });
  const preview = (create: string) => ({
    applications: [],
    plan: { create: [create], update: [], delete: [], unchanged: [] },
    pendingDeletion: [],
    errors: [],
    warnings: [],
  });
  const appsetHub = () =>
    fakeHub((req, res) => {
      const name = (JSON.parse(req.body) as { metadata: { name: string } }).metadata.name;
      if (name === 'bad') return json(res, 400, { statusCode: 400, message: 'bad one' });
      json(res, 200, req.url.endsWith('/dry-run') ? preview(name) : created(name));
    });

  it.each([[[]], [['--dry-run']]])(
    'appset create %j -o json prints one array',
    async (flags: string[]) => {
      const hub = await appsetHub();
      const r = await run(
        ['-s', hub.url, '-o', 'json', 'appset', 'create', '-f', 'x', ...flags],
        {},
        two,
      );
      expect(r.code).toBe(0);
      const out = JSON.parse(r.out) as unknown[];
      expect(out).toEqual(
        flags.length ? [preview('one'), preview('two')] : [created('one'), created('two')],
      );
    },
  );

  it.each([[[]], [['--dry-run']]])(
    'appset create %j -o yaml prints one YAML document, a list',
    async (flags: string[]) => {
      const hub = await appsetHub();
      const r = await run(
        ['-s', hub.url, '-o', 'yaml', 'appset', 'create', '-f', 'x', ...flags],
        {},
        two,
      );
      expect(r.code).toBe(0);
      expect(parseAllDocuments(r.out)).toHaveLength(1);
      expect(parse(r.out)).toEqual(
        flags.length ? [preview('one'), preview('two')] : [created('one'), created('two')],
      );
    },
  );

  it('appset create of one document prints it alone, as app create does', async () => {
    const hub = await appsetHub();
    const r = await run(
      ['-s', hub.url, '-o', 'json', 'appset', 'create', '-f', 'x'],
      {},
      'metadata: {name: one}\n',
    );
    expect(JSON.parse(r.out)).toEqual(created('one'));
  });

  it('appset create prints what was created before a document failed, then the error', async () => {
    const hub = await appsetHub();
    const r = await run(
      ['-s', hub.url, '-o', 'json', 'appset', 'create', '-f', 'x'],
      {},
      `${two}---\nmetadata: {name: bad}\n`,
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual([created('one'), created('two')]);
    expect(r.err).toBe('error: 400 bad one\n');
  });

  it('notify destination add -f with several documents prints one array', async () => {
    const hub = await fakeHub((req, res) => {
      const d = JSON.parse(req.body) as { name: string };
      json(res, 201, { name: d.name, type: 'webhook', config: {} });
    });
    const file = 'name: a\ntype: webhook\n---\nname: b\ntype: webhook\n';
    const r = await run(
      ['-s', hub.url, '-o', 'json', 'notify', 'destination', 'add', '-f', 'x'],
      {},
      file,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([
      { name: 'a', type: 'webhook', config: {} },
      { name: 'b', type: 'webhook', config: {} },
    ]);
    const y = await run(
      ['-s', hub.url, '-o', 'yaml', 'notify', 'destination', 'add', '-f', 'x'],
      {},
      file,
    );
    expect(parse(y.out)).toEqual([
      { name: 'a', type: 'webhook', config: {} },
      { name: 'b', type: 'webhook', config: {} },
    ]);
  });
});

describe('axle (offline commands)', () => {
  it('health -f prints one JSON line per object', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'axle-cli-'));
    const file = join(dir, 'objs.yaml');
    writeFileSync(
      file,
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
`,
    );
    const r = await run(['health', '-f', file, '-o', 'json']);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toEqual([
      {
        kind: 'Deployment',
        name: 'web',
        status: 'Progressing',
        message: 'Waiting for rollout to finish: 1 of 2 updated replicas are available...',
      },
      { kind: 'ConfigMap', name: 'cfg', status: 'Healthy', message: '' },
    ]);
  });

  it('reports a broken file with its name and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'axle-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [\n');
    const r = await run(['health', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.yaml:\d+: invalid YAML/);
  });

  it('says clearly when the hub cannot be reached', async () => {
    const server = `http://127.0.0.1:${await freePort()}`;
    const r = await run(['cluster', 'list'], { AXLE_SERVER: server });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot reach the hub at ${server}: ECONNREFUSED`);
  });

  it('refuses an unknown output format', async () => {
    const r = await run(['-o', 'xml', 'cluster', 'list']);
    expect(r.err).toContain('unknown output format "xml"');
  });
});

describe('axle app delete', () => {
  it('keeps the resources with --cascade=false, as argocd app delete does', async () => {
    const hub = await fakeHub((_, res) => {
      res.statusCode = 204;
      res.end();
    });
    const kept = await run(['--server', hub.url, 'app', 'delete', 'guestbook', '--cascade=false']);
    expect(kept).toMatchObject({
      code: 0,
      out: 'application "guestbook" deleted (its resources kept)\n',
    });
    const gone = await run(['--server', hub.url, 'app', 'delete', 'guestbook']);
    expect(gone.code).toBe(0);
    expect(hub.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'DELETE /api/v1/applications/guestbook?cascade=false',
      'DELETE /api/v1/applications/guestbook',
    ]);
    const bad = await run(['--server', hub.url, 'app', 'delete', 'guestbook', '--cascade=no']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--cascade: must be true or false, not "no"');
    expect(hub.seen).toHaveLength(2);
  });
});

describe('axle app get', () => {
  it("shows each cluster's agent: connected, away for how long, or never connected", async () => {
    const at = (ago: number) => new Date(Date.now() - ago).toISOString();
    const cluster = (name: string, over: object) => ({
      cluster: name,
      sync: 'Synced',
      health: 'Healthy',
      revision: 'c1c1c1c1c1c1c1c1',
      appliedGeneration: 3,
      desiredGeneration: 3,
      message: '',
      connected: true,
      lastSeenAt: at(5_000),
      ...over,
    });
    const hub = await fakeHub((req, res) =>
      req.url?.startsWith('/api/v1/applications?parent=guestbook')
        ? json(res, 200, [
            { name: 'guestbook-ui', status: { sync: 'OutOfSync', health: 'Healthy' } },
          ])
        : json(res, 200, {
            name: 'guestbook',
            spec: {},
            status: {
              sync: 'Unknown',
              health: 'Unknown',
              revision: 'c1c1c1c1c1c1c1c1',
              conditions: [],
              clusters: [
                cluster('east', {}),
                cluster('west', {
                  sync: 'Unknown',
                  health: 'Unknown',
                  connected: false,
                  lastSeenAt: at(5 * 60_000 + 10_000),
                  message: 'agent not connected since …',
                }),
                cluster('north', { connected: false, lastSeenAt: null }),
              ],
            },
          }),
    );
    const r = await run(['--server', hub.url, 'app', 'get', 'guestbook']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    const head = lines.findIndex((l) => l.startsWith('CLUSTER'));
    expect(lines[head]).toMatch(
      /^CLUSTER\s+SYNC\s+HEALTH\s+AGENT\s+REVISION\s+GENERATION\s+MESSAGE$/,
    );
    expect(lines[head + 1]).toMatch(/^east\s+Synced\s+Healthy\s+connected\s+c1c1c1c1c1c1\s+3\/3/);
    expect(lines[head + 2]).toMatch(
      /^west\s+Unknown\s+Unknown\s+away 5m\s+c1c1c1c1c1c1\s+3\/3\s+agent not connected since/,
    );
    expect(lines[head + 3]).toMatch(/^north\s+Synced\s+Healthy\s+never connected\s/);
    // App of apps: its children with their states.
    expect(r.out).toContain('child applications: guestbook-ui (OutOfSync, Healthy)\n');
  });
});
