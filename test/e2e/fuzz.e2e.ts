import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { AgentGatewayClient } from '../../libs/proto/gen/axle/agent/v1/agent.js';
import {
  api,
  createTestDatabase,
  startTestHub,
  tempDir,
  TOKEN_AUTH,
} from '../support/hub-harness.js';

/** Deterministic PRNG (mulberry32): a failing case can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD_STRINGS = [
  '',
  ' ',
  'a'.repeat(70_000),
  '../../etc/passwd',
  '/abs/path',
  '{{ .x }}',
  '{{ range $i := until 100000000 }}x{{ end }}',
  '\u0000',
  '💥',
  'Robert"); DROP TABLE clusters;--',
  'UPPER',
  '-rf',
  '--upload-pack=touch /tmp/pwned',
];

function randomValue(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * (depth > 3 ? 5 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return Math.floor(r() * 2 ** 40) * (r() < 0.5 ? -1 : 1);
    case 3:
      return WEIRD_STRINGS[Math.floor(r() * WEIRD_STRINGS.length)];
    case 4:
      return Math.random()
        .toString(36)
        .slice(2, 2 + Math.floor(r() * 12));
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const keys = [
        'name',
        'labels',
        'source',
        'destination',
        'spec',
        'metadata',
        'repoURL',
        'path',
        'cluster',
        'clusters',
        'namespace',
        'generators',
        'template',
        'role',
        'x',
      ];
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 5); i > 0; i--)
        o[keys[Math.floor(r() * keys.length)]] = randomValue(r, depth + 1);
      return o;
    }
  }
}

/** Mutates a valid body: a field replaced, removed or added somewhere in the tree. */
function mutate(r: () => number, body: unknown): unknown {
  if (body === null || typeof body !== 'object' || r() < 0.3) return randomValue(r);
  const copy: Record<string, unknown> = Array.isArray(body) ? ([...body] as never) : { ...body };
  const keys = Object.keys(copy);
  const k = keys[Math.floor(r() * keys.length)] ?? 'x';
  const op = r();
  if (op < 0.2) delete copy[k];
  else if (op < 0.4) copy[`${k}_extra`] = randomValue(r);
  else copy[k] = mutate(r, copy[k]);
  return copy;
}

describe('bounded fuzzing of the REST bodies and the agent stream', () => {
  let hub: RunningHub;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir('axle-hub-fuzz-');
    hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: TOKEN_AUTH,
    });
  });
  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it('never answers a client error with a 5xx, and stores nothing invalid', async () => {
    const valid: Record<string, unknown> = {
      '/api/v1/clusters': { name: 'c', labels: { env: 'x' } },
      '/api/v1/applications': {
        name: 'a',
        source: { repoURL: 'file:///nowhere', targetRevision: 'main', path: 'p' },
        destination: { cluster: 'c', namespace: 'n' },
      },
      '/api/v1/applicationsets': {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'ApplicationSet',
        metadata: { name: 's' },
        spec: {
          generators: [{ list: { elements: [{ n: 'one' }] } }],
          template: {
            metadata: { name: '{{n}}' },
            spec: {
              project: 'default',
              source: { repoURL: 'file:///nowhere', path: 'x' },
              destination: { name: 'c', namespace: 'n' },
            },
          },
        },
      },
      '/api/v1/applicationsets/dry-run': { metadata: { name: 'd' }, spec: {} },
      '/api/v1/tokens': { name: 't', role: 'readonly' },
      '/api/v1/webhooks/git': { repoURL: 'file:///nowhere' },
    };
    const r = rng(20261123);
    const statuses = new Map<number, number>();
    const deadline = Date.now() + 20_000;
    let sent = 0;
    for (let i = 0; i < 600 && Date.now() < deadline; i++) {
      const paths = Object.keys(valid);
      const path = paths[Math.floor(r() * paths.length)];
      const body = mutate(r, valid[path]);
      const res = await api(hub).post(path, body);
      sent++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${path} ${JSON.stringify(body).slice(0, 300)}`).toBeLessThan(500);
    }
    // Malformed bodies at the parser level.
    for (const raw of [
      '{',
      '[1,2',
      '"str"',
      'null',
      '{"name":' + '['.repeat(5000),
      'x'.repeat(3 * 1024 * 1024),
    ]) {
      const res = await api(hub).postRaw('/api/v1/clusters', raw);
      expect(res.status, raw.slice(0, 40)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    // NUL (which PostgreSQL cannot store) in path parameters and queries: a client error.
    for (const path of [
      '/api/v1/clusters/a%00b',
      '/api/v1/applications/a%00b',
      '/api/v1/applications?after=%00',
      '/api/v1/events?name=%00',
    ]) {
      const res = await api(hub).get(path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
    expect(sent).toBeGreaterThan(100);
    // Whatever was accepted is valid; listing still works.
    for (const c of (await api(hub).get('/api/v1/clusters')).body)
      expect(c.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect((await api(hub).get('/api/v1/applications')).status).toBe(200);
    expect((await api(hub).get('/api/v1/applicationsets')).status).toBe(200);
    expect((await api(hub).get('/readyz')).status).toBe(200);
  });

  it('refuses bodies nested deeper than 100 levels with a 400 naming where, in JSON and YAML', async () => {
    // Written out as text: JSON.stringify itself runs out of stack at these depths.
    const nest = (depth: number) => `${'{"a":'.repeat(depth)}"leaf"${'}'.repeat(depth)}`;
    const deep = await api(hub).postRaw(
      '/api/v1/applications',
      `{"name":"deep","source":{"repoURL":"file:///nowhere","path":"p","helm":{"valuesObject":${nest(5000)}}},` +
        `"destination":{"cluster":"c","namespace":"n"}}`,
    );
    // Field names are reported up to 200 characters.
    const named = (path: string) => (path.length > 200 ? `${path.slice(0, 200)}…` : path);
    expect(deep.status).toBe(400);
    expect(deep.body.fields[0]).toEqual({
      field: named(`source.helm.valuesObject${'.a'.repeat(97)}`),
      reason: 'nested deeper than 100 levels',
    });
    expect((await api(hub).get('/api/v1/applications/deep')).status).toBe(404);
    const set = await api(hub).postRaw(
      '/api/v1/applicationsets',
      `{"metadata":{"name":"deep"},"spec":{"generators":[{"list":{"elements":[${nest(6000)}]}}],"template":{}}}`,
    );
    expect(set.status).toBe(400);
    // YAML, 150 levels in flow style: the YAML parser reads it (far deeper, it fails by itself).
    const yaml = `metadata: {name: deep}\nstatus: ${'{a: '.repeat(150)}1${'}'.repeat(150)}\n`;
    const fromYaml = await api(hub).postRaw('/api/v1/applicationsets', yaml, 'application/yaml');
    expect(fromYaml.status).toBe(400);
    expect(fromYaml.body.fields[0]).toEqual({
      field: named(`status${'.a'.repeat(99)}`),
      reason: 'nested deeper than 100 levels',
    });
    expect((await api(hub).get('/readyz')).status).toBe(200);
  });

  it('survives random and malformed agent messages', async () => {
    const reg = await api(hub).post('/api/v1/clusters', { name: 'fuzz-agent' });
    const token = reg.body.agentToken as string;
    const client = new AgentGatewayClient(hub.grpcAddress, credentials.createInsecure());
    const r = rng(7);
    try {
      for (let round = 0; round < 30; round++) {
        const md = new Metadata();
        md.set('authorization', `Bearer ${round % 5 === 0 ? 'axle_agent_wrong' : token}`);
        // Raw bytes straight onto the stream: the server must reject them, not crash.
        const call = client.makeBidiStreamRequest(
          '/axle.agent.v1.AgentGateway/Connect',
          (b: Buffer) => b,
          (b: Buffer) => b,
          md,
        );
        const ended = new Promise<void>((resolve) => {
          call.on('error', (_e: ServiceError) => resolve());
          call.on('end', () => resolve());
          call.on('close', () => resolve());
          call.on('data', () => undefined);
        });
        const n = 1 + Math.floor(r() * 4);
        for (let i = 0; i < n; i++) {
          const len = Math.floor(r() * 2048);
          call.write(Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256))));
        }
        call.end();
        await Promise.race([ended, new Promise((res) => setTimeout(res, 2000))]);
        call.cancel();
      }
    } finally {
      client.close();
    }
    expect((await api(hub).get('/readyz')).status).toBe(200);
    expect((await api(hub).get('/api/v1/clusters/fuzz-agent')).status).toBe(200);
  });
});
