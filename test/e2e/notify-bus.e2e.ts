import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource } from '../../apps/hub/src/database/data-source.js';
import { NotifyBus } from '../../apps/hub/src/database/notify-bus.js';
import { createTestDatabase, waitFor } from '../support/hub-harness.js';
import { tcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

describe('notification bus', () => {
  let ds: DataSource;
  let url: string;
  let proxy: TcpProxy;
  let bus: NotifyBus | undefined;

  beforeAll(async () => {
    url = await createTestDatabase();
    ds = createDataSource(url);
    await ds.initialize();
    proxy = await tcpProxy(Number(new URL(url).port));
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
