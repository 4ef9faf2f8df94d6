import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache, GitError } from './git-cache.js';

/** One pkt-line of git's protocol. */
function pkt(payload: string | Buffer): Buffer {
  const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}

/** The longest a trickling answer lasts: the server stops by itself even if a test does not. */
const TRICKLE_MAX_MS = 30_000;

/**
 * A loopback git smart HTTP server (protocol v0) that advertises one branch and, asked for a
 * pack, answers NAK and then only sideband progress (`remote: still working`) every 300 ms, or
 * (`silent`) nothing more.
 */
async function trickleServer(silent = false): Promise<{
  url: string;
  /** The Authorization header of every request. */
  authorization: (string | undefined)[];
  /** Resolves once every answer the server started has been hung up on. */
  hungUp(): Promise<void>;
  stop(): Promise<void>;
}> {
  const sha = 'a'.repeat(40);
  const open = new Set<ServerResponse>();
  const authorization: (string | undefined)[] = [];
  let allClosed: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    authorization.push(req.headers.authorization);
    if (req.url?.startsWith('/r.git/info/refs')) {
      res.setHeader('content-type', 'application/x-git-upload-pack-advertisement');
      res.end(
        Buffer.concat([
          pkt('# service=git-upload-pack\n'),
          Buffer.from('0000'),
          pkt(
            `${sha} HEAD\0multi_ack_detailed side-band-64k no-progress symref=HEAD:refs/heads/main\n`,
          ),
          pkt(`${sha} refs/heads/main\n`),
          Buffer.from('0000'),
        ]),
      );
      return;
    }
    req.resume();
    req.on('end', () => {
      open.add(res);
      res.setHeader('content-type', 'application/x-git-upload-pack-result');
      res.write(pkt('NAK\n'));
      const trickle = setInterval(
        () =>
          silent ||
          res.write(pkt(Buffer.concat([Buffer.from([2]), Buffer.from('still working\n')]))),
        300,
      );
      const cap = setTimeout(() => res.end(), TRICKLE_MAX_MS);
      res.on('close', () => {
        clearInterval(trickle);
        clearTimeout(cap);
        open.delete(res);
        if (open.size === 0) allClosed?.();
      });
    });
  });
  server.unref();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/r.git`,
    authorization,
    hungUp: () => (open.size === 0 ? Promise.resolve() : new Promise<void>((r) => (allClosed = r))),
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('GitCache against a server that keeps a fetch busy', () => {
  let server: Awaited<ReturnType<typeof trickleServer>>;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeEach(async () => {
    server = await trickleServer();
    dir = await tempDir('axle-gitdeadline-');
  });
  afterEach(async () => {
    await server.stop();
    await dir.remove();
  });

  it('stops git at the deadline although the server never goes silent', async () => {
    // Inactivity timeout 1 s, never reached (a message every 300 ms); deadline 5 × 1 s.
    const cache = new GitCache(dir.path, 1_000);
    const started = Date.now();
    const error = await cache.fetch(server.url).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(GitError);
    expect((error as Error).message).toBe(
      `fetching ${server.url} failed: not done within the 5 s deadline (git stopped)`,
    );
    expect(took).toBeGreaterThanOrEqual(4_900);
    expect(took).toBeLessThan(8_000);
    // Git really stopped: it hung up on the server.
    await server.hungUp();
  }, 20_000);

  it('names the repository without its credentials', async () => {
    const cache = new GitCache(dir.path, { inactivityMs: 1_000, deadlineMs: 1_500 }, 5_000, () =>
      Promise.resolve({ type: 'https', username: 'u', password: 'p' }),
    );
    const url = server.url.replace('http://', 'http://user:s3cret@');
    const error = await cache.fetch(url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe(
      `fetching ${server.url} failed: not done within the 1500 ms deadline (git stopped)`,
    );
    // Credentials from the lookup still travel as a header.
    expect(server.authorization).toContain(`Basic ${Buffer.from('u:p').toString('base64')}`);
    await server.hungUp();
  }, 20_000);

  it('still stops git after the inactivity timeout when the server goes silent', async () => {
    await server.stop();
    server = await trickleServer(true);
    const cache = new GitCache(dir.path, { inactivityMs: 1_000, deadlineMs: 10_000 });
    const started = Date.now();
    const error = await cache.fetch(server.url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(
      `fetching ${server.url} failed: git stopped: no output for 1000 ms`,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    await server.hungUp();
  }, 20_000);
});
