import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/ports.js';
import { runCli } from './cli.js';

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env });
  return { code, out, err };
}

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
