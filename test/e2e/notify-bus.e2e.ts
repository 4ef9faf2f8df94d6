import { createServer, connect, type Server, type Socket } from 'node:net';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource } from '../../apps/hub/src/database/data-source.js';
import { NotifyBus } from '../../apps/hub/src/database/notify-bus.js';
import { createTestDatabase, waitFor } from '../support/hub-harness.js';

/**
 * A TCP proxy whose connections so far can be made to vanish: nothing passes either way and
 * nothing is closed (a NAT forgetting the flow, a partition). New connections pass as usual.
 */
async function vanishingProxy(port: number) {
  const pairs: Socket[][] = [];
  const all = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    pairs.push([client, upstream]);
    all.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    vanish: () => {
      for (const [client, upstream] of pairs.splice(0)) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close: () => {
      for (const s of all) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('notification bus', () => {
  let ds: DataSource;
  let url: string;
  let proxy: Awaited<ReturnType<typeof vanishingProxy>>;
  let bus: NotifyBus | undefined;

  beforeAll(async () => {
    url = await createTestDatabase();
    ds = createDataSource(url);
    await ds.initialize();
    proxy = await vanishingProxy(Number(new URL(url).port));
  });

  afterAll(async () => {
    await bus?.stop();
    await proxy?.close();
    await ds?.destroy();
  });

  it('notices a listening connection that vanished without a reset, listens again and says so', async () => {
    const through = new URL(url);
    through.port = String(proxy.port);
    bus = new NotifyBus(through.toString(), ds, { pingMs: 300, pingTimeoutMs: 500 });
    const heard: string[] = [];
    let reconnects = 0;
    bus.onReconnect(() => reconnects++);
    await bus.start();
    await bus.subscribe('axle_test', (p) => heard.push(p));
    const before = bus.backend()!;
    await bus.publish('axle_test', 'one');
    await waitFor('the first notification', () => Promise.resolve(heard.includes('one')), {
      timeoutMs: 5_000,
    });

    proxy.vanish();
    await bus.publish('axle_test', 'lost'); // sent to a connection no longer there
    await waitFor('the listener to reconnect', () => Promise.resolve(reconnects === 1), {
      timeoutMs: 10_000,
    });
    expect(bus.backend()!.pid).not.toBe(before.pid);
    expect(heard).not.toContain('lost'); // which is why subscribers are told to resynchronise
    await bus.publish('axle_test', 'two');
    await waitFor('a notification after it', () => Promise.resolve(heard.includes('two')), {
      timeoutMs: 5_000,
    });
  });
});
