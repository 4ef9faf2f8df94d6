import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback TCP proxy to a server, for tests that need to see or disturb a connection. */
export interface TcpProxy {
  /** `127.0.0.1:PORT` */
  address: string;
  port: number;
  /** Bytes passed from the server to the clients so far. */
  bytesToClient(): number;
  /** Stops passing the server's bytes on (the client sees a quiet stream); `resume` goes on. */
  stall(): void;
  resume(): void;
  /**
   * The connections so far vanish: nothing passes either way and nothing is closed (a NAT
   * forgetting the flow, a partition). New connections pass as usual.
   */
  vanish(): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) to `host:port`. */
export async function tcpProxy(port: number, host = '127.0.0.1'): Promise<TcpProxy> {
  let down = 0;
  const pairs: [Socket, Socket][] = [];
  const all = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    pairs.push([client, upstream]);
    all.add(client).add(upstream);
    upstream.on('data', (c: Buffer) => (down += c.length));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const own = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${own}`,
    port: own,
    bytesToClient: () => down,
    stall: () => pairs.forEach(([, upstream]) => upstream.pause()),
    resume: () => pairs.forEach(([, upstream]) => upstream.resume()),
    vanish: () => {
      for (const [client, upstream] of pairs.splice(0)) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close: async () => {
      for (const s of all) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
