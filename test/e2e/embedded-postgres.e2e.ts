import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, TEST_ADMIN_TOKEN, waitFor } from '../support/hub-harness.js';
import { freePort } from '../support/ports.js';
import { HUB_NODE_ARGS } from '../support/hub-node-args.js';

const MAIN = resolve('dist/apps/hub/src/main.js');

/**
 * `npm start` twice on one data directory: the second hub must refuse to start, saying why, and
 * must not touch the first hub's embedded PostgreSQL (it used to stop it on its way out).
 */
describe('a second hub on the same data directory', () => {
  const children: ChildProcess[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    for (const c of cleanup.reverse()) await c();
  });

  const hub = async (dataDir: string, pgPort: number) => {
    const http = await freePort();
    const child = spawn(process.execPath, [...HUB_NODE_ARGS, MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        AXLE_DATA_DIR: dataDir,
        AXLE_EMBEDDED_PG_PORT: String(pgPort),
        AXLE_HTTP_PORT: String(http),
        AXLE_GRPC_PORT: String(await freePort()),
        AXLE_GRPC_ENROLL_PORT: String(await freePort()),
        AXLE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        AXLE_GIT_POLL_SECONDS: '3600',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let log = '';
    child.stdout.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    return { child, url: `http://127.0.0.1:${http}`, log: () => log };
  };
  const ready = (url: string) =>
    fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );

  it('is refused with a reason, and the first hub keeps its database', async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\``).toBe(true);
    const dir = await tempDir('axle-two-hubs-');
    cleanup.push(dir.remove);
    // As root the server runs as `postgres`, which must reach the directory.
    chmodSync(dir.path, 0o755);
    const pgPort = await freePort();
    const first = await hub(dir.path, pgPort);
    await waitFor('the first hub ready', () => ready(first.url), { timeoutMs: 90_000 });

    const second = await hub(dir.path, await freePort());
    const code = await new Promise<number | null>((r) => second.child.once('exit', r));
    expect(code).not.toBe(0);
    expect(second.log()).toMatch(/already running \(pid \d+\): is another hub using this data/);

    // The first hub still reads and writes its database.
    expect(await ready(first.url)).toBe(true);
    const created = await fetch(`${first.url}/api/v1/clusters`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'still-here' }),
    });
    expect(created.status).toBe(201);

    // SIGTERM: the hub shuts down first (its last writes need the database), then its server.
    const exited = new Promise<number | null>((r) => first.child.once('exit', r));
    first.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(first.log()).not.toMatch(/terminating connection due to administrator command/);
    expect(existsSync(join(dir.path, 'pg', 'data', 'postmaster.pid'))).toBe(false);
  });

  it('says why it cannot start when another server holds its PostgreSQL port', async () => {
    const dir = await tempDir('axle-pg-port-');
    cleanup.push(dir.remove);
    chmodSync(dir.path, 0o755);
    const holder = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    try {
      const taken = (holder.address() as { port: number }).port;
      const h = await hub(dir.path, taken);
      const code = await new Promise<number | null>((r) => h.child.once('exit', r));
      expect(code).not.toBe(0);
      expect(h.log()).toContain(`the embedded PostgreSQL did not start on 127.0.0.1:${taken}`);
      expect(h.log()).toContain('Address already in use');
    } finally {
      holder.close();
    }
  });
});
