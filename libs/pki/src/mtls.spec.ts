// Real mutual-TLS handshakes over loopback: the certificates must be accepted by @grpc/grpc-js and
// Node's tls exactly as the hub and the agent will use them.
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createKeyAndCsr,
  issueServerCertificate,
  signClientCertificate,
  type CertificateAuthority,
} from './index.js';

const DEADLINE_MS = 5_000;
const identity = (b: Buffer): Buffer => b;

/** A hand-written service: one unary and one bidi method, raw bytes in and out. */
const probeService: grpc.ServiceDefinition = {
  whoAmI: {
    path: '/axle.test.Probe/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  chat: {
    path: '/axle.test.Probe/Chat',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const ProbeClient = grpc.makeGenericClientConstructor(probeService, 'Probe');

interface Creds {
  keyPem: string;
  certPem: string;
}

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let server: Creds; // SANs: localhost, 127.0.0.1
let dnsOnlyServer: Creds; // SAN: axle-hub.example
let client: Creds; // CN=cluster-a, from `ca`
let foreignClient: Creds; // CN=cluster-a, from `otherCa`

async function clientCert(authority: CertificateAuthority, cn: string): Promise<Creds> {
  const { keyPem, csrPem } = await createKeyAndCsr({ commonName: cn });
  const { certPem } = await signClientCertificate(authority, csrPem, {
    commonName: cn,
    validHours: 1,
  });
  return { keyPem, certPem };
}

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([
    createCertificateAuthority({ commonName: 'axle-test-ca', validDays: 1 }),
    createCertificateAuthority({ commonName: 'other-ca', validDays: 1 }),
  ]);
  [server, dnsOnlyServer, client, foreignClient] = await Promise.all([
    issueServerCertificate(ca, { hosts: ['localhost', '127.0.0.1'], validDays: 1 }),
    issueServerCertificate(ca, { hosts: ['axle-hub.example'], validDays: 1 }),
    clientCert(ca, 'cluster-a'),
    clientCert(otherCa, 'cluster-a'),
  ]);
});

describe('gRPC mTLS (@grpc/grpc-js)', () => {
  const servers: grpc.Server[] = [];
  const clients: grpc.Client[] = [];
  let seen: string[] = [];

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) s.forceShutdown();
    seen = [];
  });

  function peerCn(call: Pick<grpc.ServerUnaryCall<Buffer, Buffer>, 'getAuthContext'>): string {
    const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
    return typeof cn === 'string' ? cn : `unexpected: ${JSON.stringify(cn)}`;
  }

  async function startServer(creds: Creds): Promise<number> {
    const s = new grpc.Server();
    servers.push(s);
    s.addService(probeService, {
      whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const cn = peerCn(call);
        seen.push(cn);
        cb(null, Buffer.from(cn));
      },
      chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        const cn = peerCn(call);
        seen.push(cn);
        call.on('data', (msg: Buffer) => call.write(Buffer.from(`${cn}:${msg.toString()}`)));
        call.on('end', () => call.end());
      },
    });
    const serverCreds = grpc.ServerCredentials.createSsl(
      Buffer.from(ca.certPem),
      [{ private_key: Buffer.from(creds.keyPem), cert_chain: Buffer.from(creds.certPem) }],
      true, // checkClientCertificate: refuse clients without a certificate from `ca`
    );
    return new Promise((resolve, reject) =>
      s.bindAsync('127.0.0.1:0', serverCreds, (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  function connect(
    target: string,
    creds: Creds | null,
    options: grpc.ChannelOptions = {},
    rootCa = ca,
  ): any {
    const channelCreds = creds
      ? grpc.credentials.createSsl(
          Buffer.from(rootCa.certPem),
          Buffer.from(creds.keyPem),
          Buffer.from(creds.certPem),
        )
      : grpc.credentials.createSsl(Buffer.from(rootCa.certPem));
    const c = new ProbeClient(target, channelCreds, options);
    clients.push(c);
    return c;
  }

  function whoAmI(c: any): Promise<string> {
    return new Promise((resolve, reject) => {
      c.whoAmI(
        Buffer.alloc(0),
        { deadline: Date.now() + DEADLINE_MS },
        (err: grpc.ServiceError | null, res?: Buffer) =>
          err ? reject(err) : resolve(res!.toString()),
      );
    });
  }

  async function refused(c: any): Promise<grpc.ServiceError> {
    const err = await whoAmI(c).then(
      (res) => new Error(`call unexpectedly succeeded: ${res}`),
      (e: grpc.ServiceError) => e,
    );
    expect(err).toHaveProperty('code');
    return err as grpc.ServiceError;
  }

  it('accepts a client certificate from the hub CA and exposes its CN (IP target)', async () => {
    const port = await startServer(server);
    expect(await whoAmI(connect(`127.0.0.1:${port}`, client))).toBe('cluster-a');
    expect(seen).toEqual(['cluster-a']);
  });

  it('works with a DNS-name target', async () => {
    const port = await startServer(server);
    expect(await whoAmI(connect(`localhost:${port}`, client))).toBe('cluster-a');
  });

  it('carries the CN on a bidi stream', async () => {
    const port = await startServer(server);
    const call = connect(`127.0.0.1:${port}`, client).chat({
      deadline: Date.now() + DEADLINE_MS,
    }) as grpc.ClientDuplexStream<Buffer, Buffer>;
    const replies: string[] = [];
    call.on('data', (b: Buffer) => replies.push(b.toString()));
    call.write(Buffer.from('hello'));
    call.write(Buffer.from('again'));
    call.end();
    await once(call, 'status');
    expect(replies).toEqual(['cluster-a:hello', 'cluster-a:again']);
  });

  it('refuses a client certificate from another CA', async () => {
    const port = await startServer(server);
    const err = await refused(connect(`127.0.0.1:${port}`, foreignClient));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(seen).toEqual([]);
  });

  it('refuses a client without a certificate', async () => {
    const port = await startServer(server);
    const err = await refused(connect(`127.0.0.1:${port}`, null));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(seen).toEqual([]);
  });

  it('refuses a server whose certificate has no SAN for the target, unless overridden', async () => {
    const port = await startServer(dnsOnlyServer);
    const err = await refused(connect(`127.0.0.1:${port}`, client));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    // Dialing an address while checking a DNS name from the certificate:
    const overridden = connect(`127.0.0.1:${port}`, client, {
      'grpc.ssl_target_name_override': 'axle-hub.example',
    });
    expect(await whoAmI(overridden)).toBe('cluster-a');
  });

  it('refuses a server from an unknown CA', async () => {
    const port = await startServer(server);
    const err = await refused(connect(`127.0.0.1:${port}`, client, {}, otherCa));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('Node tls mTLS', () => {
  const closers: (() => void)[] = [];
  afterAll(() => {
    for (const close of closers.splice(0)) close();
  });

  /** One handshake; resolves with what each side saw. */
  async function handshake(serverCreds: Creds, clientCreds: Creds | null) {
    const peers: string[] = [];
    const srv = tls.createServer({
      key: serverCreds.keyPem,
      cert: serverCreds.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    srv.on('secureConnection', (sock) => {
      const cn = sock.getPeerCertificate().subject?.CN;
      peers.push(String(cn));
      sock.end('bye');
    });
    srv.on('tlsClientError', () => undefined);
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    closers.push(() => srv.close());
    const { port } = srv.address() as AddressInfo;

    const result = await new Promise<{ ok: boolean; data: string; error?: string }>((resolve) => {
      const sock = tls.connect({
        host: '127.0.0.1',
        port,
        ca: ca.certPem,
        ...(clientCreds ? { key: clientCreds.keyPem, cert: clientCreds.certPem } : {}),
        minVersion: 'TLSv1.3',
        timeout: DEADLINE_MS,
      });
      let data = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (data += d));
      sock.on('end', () => resolve({ ok: data === 'bye', data }));
      sock.on('error', (e) => resolve({ ok: false, data, error: e.message }));
      sock.on('timeout', () => {
        sock.destroy();
        resolve({ ok: false, data, error: 'timeout' });
      });
    });
    srv.close();
    return { ...result, peers };
  }

  it('completes a handshake and the server sees the cluster CN', async () => {
    const r = await handshake(server, client);
    expect(r).toMatchObject({ ok: true, peers: ['cluster-a'] });
  });

  it('refuses a client certificate from another CA or none at all', async () => {
    for (const creds of [foreignClient, null]) {
      const r = await handshake(server, creds);
      expect(r.ok).toBe(false);
      expect(r.peers).toEqual([]);
    }
  });

  it('enforces the extended key usages in both directions', async () => {
    // A server certificate (serverAuth only) is not a client certificate…
    const asClient = await handshake(server, server);
    expect(asClient.ok).toBe(false);
    expect(asClient.peers).toEqual([]);
    // …and a client certificate (clientAuth only) is not a server certificate.
    const ipClientCert = await clientCert(ca, '127.0.0.1');
    const asServer = await handshake(ipClientCert, client);
    expect(asServer.ok).toBe(false);
    expect(asServer.error).toMatch(/unsuitable certificate purpose/);
  });
});
