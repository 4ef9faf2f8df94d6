/**
 * Simulated agents for bench:agents, in a child process: each one enrolls like the real agent
 * (its own P-256 key, a CSR and its one-time bootstrap token at the enrollment port), then keeps
 * one mTLS stream to the hub and speaks the real protocol on it: Hello, an Ack for every Deploy,
 * a status report per application (Synced at the deployed generation), heartbeats. It applies
 * nothing: the hub's side is what is measured. Lighter than the real agent: a bare HTTP/2 session
 * with gRPC framing (5-byte prefix, protobuf) per agent instead of a grpc-js channel.
 *
 * Commands from the parent (IPC): {type:'start', …}, {type:'report', marker},
 * {type:'health', cluster, appId, degraded}, {type:'stop'}.
 * Messages to the parent: {type:'enrolled'|'connected'|'reported'|'health-sent'|'stats', …}.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { credentials, Metadata } from '@grpc/grpc-js';
import {
  AgentMessage,
  HealthStatus,
  HubMessage,
  SyncStatus,
  type AppStatus,
} from '../libs/proto/gen/axle/agent/v1/agent.js';
import { AgentEnrollmentClient } from '../libs/proto/gen/axle/agent/v1/enrollment.js';
import { createKeyAndCsr } from '../libs/pki/src/index.js';

export interface SimStart {
  type: 'start';
  caPem: string;
  hubAddress: string;
  enrollAddress: string;
  agents: { cluster: string; bootstrapToken: string }[];
  /** Enrollments in flight at once. */
  enrollConcurrency: number;
  /** New streams opened per second (by this process). */
  dialsPerSecond: number;
}

interface SimAgent {
  cluster: string;
  keyPem: string;
  certPem: string;
  session?: ClientHttp2Session;
  stream?: ClientHttp2Stream;
  welcomed: boolean;
  /** appId → generation deployed here. */
  apps: Map<string, { generation: number; revision: string; hash: string }>;
  buf: Buffer;
}

const agents: SimAgent[] = [];
let acks = 0;
let deploys = 0;
let bundleBytes = 0;
let reconnects = 0;
/** Why streams ended, counted (trailers, reset codes, errors). */
const closeReasons = new Map<string, number>();
let start: SimStart;

function send(a: SimAgent, msg: AgentMessage): boolean {
  if (!a.stream || a.stream.closed || a.stream.destroyed) return false;
  const body = AgentMessage.encode(msg).finish();
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame[0] = 0;
  frame.writeUInt32BE(body.length, 1);
  Buffer.from(body.buffer, body.byteOffset, body.length).copy(frame, 5);
  return a.stream.write(frame);
}

function status(
  appId: string,
  d: { generation: number; revision: string; hash: string },
  at: number,
  health = HealthStatus.HEALTH_STATUS_HEALTHY,
): AppStatus {
  return {
    appId,
    generation: d.generation,
    revision: d.revision,
    bundleHash: d.hash,
    sync: SyncStatus.SYNC_STATUS_SYNCED,
    health,
    message: health === HealthStatus.HEALTH_STATUS_DEGRADED ? 'bench: degraded' : '',
    resources: [
      {
        group: '',
        version: 'v1',
        kind: 'ConfigMap',
        namespace: 'bench',
        name: appId.slice(0, 8),
        sync: SyncStatus.SYNC_STATUS_SYNCED,
        health,
        message: '',
        drifted: false,
        diffs: [],
        requiresPruning: false,
        syncWave: 0,
      },
    ],
    observedAtUnixMs: at,
    drifted: false,
    operation: undefined,
    observeOnly: false,
  };
}

function onHubMessage(a: SimAgent, m: HubMessage): void {
  const msg = m.msg;
  if (!msg) return;
  switch (msg.$case) {
    case 'welcome':
      a.welcomed = true;
      process.send!({ type: 'connected', cluster: a.cluster });
      return;
    case 'deploy': {
      const d = msg.value;
      deploys++;
      bundleBytes += d.bundleGzip.length;
      const held = { generation: d.generation, revision: d.revision, hash: d.bundleHash };
      a.apps.set(d.appId, held);
      send(a, { msg: { $case: 'ack', value: { appId: d.appId, generation: d.generation } } });
      acks++;
      send(a, { msg: { $case: 'status', value: status(d.appId, held, Date.now()) } });
      return;
    }
    case 'remove':
      a.apps.delete(msg.value.appId);
      return;
    case 'ping':
      send(a, { msg: { $case: 'heartbeat', value: { sentAtUnixMs: Date.now() } } });
      return;
    case 'syncNow':
      return;
  }
}

function onData(a: SimAgent, chunk: Buffer): void {
  a.buf = a.buf.length ? Buffer.concat([a.buf, chunk]) : chunk;
  while (a.buf.length >= 5) {
    const len = a.buf.readUInt32BE(1);
    if (a.buf.length < 5 + len) return;
    const body = a.buf.subarray(5, 5 + len);
    a.buf = a.buf.subarray(5 + len);
    onHubMessage(a, HubMessage.decode(body));
  }
}

/** One HTTP/2 session with the agent's client certificate, one Connect stream on it. */
function dial(a: SimAgent): void {
  const session = connect(`https://${start.hubAddress}`, {
    ca: start.caPem,
    key: a.keyPem,
    cert: a.certPem,
    settings: { initialWindowSize: 256 * 1024 },
  });
  a.session = session;
  session.on('error', (e: Error) => {
    const k = `session error: ${e.message.slice(0, 80)}`;
    closeReasons.set(k, (closeReasons.get(k) ?? 0) + 1);
  });
  session.on('goaway', (code: number) => {
    const k = `goaway ${code}`;
    closeReasons.set(k, (closeReasons.get(k) ?? 0) + 1);
  });
  const stream = session.request({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: '/axle.agent.v1.AgentGateway/Connect',
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    te: 'trailers',
  });
  a.stream = stream;
  a.buf = Buffer.alloc(0);
  stream.on('data', (c: Buffer) => onData(a, c));
  stream.on('error', (e: Error) => {
    const k = `stream error: ${e.message.slice(0, 80)}`;
    closeReasons.set(k, (closeReasons.get(k) ?? 0) + 1);
  });
  stream.on('trailers', (t: Record<string, string>) => {
    const k = `trailers ${t['grpc-status'] ?? '?'}: ${decodeURIComponent(t['grpc-message'] ?? '').slice(0, 80)}`;
    closeReasons.set(k, (closeReasons.get(k) ?? 0) + 1);
    // The call is over (the hub refused or ended it): close this side too, as a gRPC client does,
    // so that the stream closes and the agent dials again. Left open, it waited forever.
    stream.close();
  });
  stream.on('close', () => {
    const k = `close rst=${stream.rstCode}`;
    closeReasons.set(k, (closeReasons.get(k) ?? 0) + 1);
    a.welcomed = false;
    session.close();
    if (stopping) return;
    reconnects++;
    setTimeout(() => dial(a), 500 + Math.random() * 1000).unref();
  });
  send(a, {
    msg: {
      $case: 'hello',
      value: {
        cluster: a.cluster,
        agentVersion: 'bench-sim',
        inventory: [...a.apps].map(([appId, d]) => ({
          appId,
          generation: d.generation,
          bundleHash: d.hash,
        })),
      },
    },
  });
}

let stopping = false;

async function enrollAll(s: SimStart): Promise<void> {
  const client = new AgentEnrollmentClient(
    s.enrollAddress,
    credentials.createSsl(Buffer.from(s.caPem)),
  );
  const queue = [...s.agents];
  let failures = 0;
  await Promise.all(
    Array.from({ length: s.enrollConcurrency }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { keyPem, csrPem } = await createKeyAndCsr({ commonName: next.cluster });
        const { cluster, bootstrapToken } = next;
        const certPem = await new Promise<string | undefined>((resolve) =>
          client.enroll(
            { bootstrapToken, csrPem },
            new Metadata(),
            { deadline: Date.now() + 120_000 },
            (err, res) => resolve(err ? undefined : res?.certificatePem),
          ),
        );
        if (!certPem) {
          failures++;
          continue;
        }
        agents.push({
          cluster,
          keyPem,
          certPem,
          welcomed: false,
          apps: new Map(),
          buf: Buffer.alloc(0),
        });
      }
    }),
  );
  client.close();
  process.send!({ type: 'enrolled', count: agents.length, failures });
}

process.on(
  'message',
  (m: { type: string; marker?: number; cluster?: string; appId?: string; degraded?: boolean }) => {
    if (m.type === 'start') {
      start = m as unknown as SimStart;
      // Agents do not all dial in the same millisecond (their backoff is jittered): ramp up.
      void enrollAll(start).then(() => {
        agents.forEach((a, i) => setTimeout(() => dial(a), (i * 1000) / start.dialsPerSecond));
      });
    }
    if (m.type === 'report') {
      // Every agent reports every application once, as fast as the streams take it.
      let n = 0;
      for (const a of agents) {
        for (const [appId, d] of a.apps)
          if (send(a, { msg: { $case: 'status', value: status(appId, d, m.marker!) } })) n++;
      }
      process.send!({ type: 'reported', count: n });
    }
    if (m.type === 'health') {
      // One agent reports one application Degraded (or Healthy again), as after a real change.
      const a = agents.find((x) => x.cluster === m.cluster);
      const d = a?.apps.get(m.appId!);
      const health = m.degraded
        ? HealthStatus.HEALTH_STATUS_DEGRADED
        : HealthStatus.HEALTH_STATUS_HEALTHY;
      const sent =
        !!a &&
        !!d &&
        send(a, { msg: { $case: 'status', value: status(m.appId!, d, Date.now(), health) } });
      process.send!({ type: 'health-sent', sent });
    }
    if (m.type === 'stats') {
      process.send!({
        type: 'stats',
        connected: agents.filter((a) => a.welcomed).length,
        apps: agents.reduce((s, a) => s + a.apps.size, 0),
        acks,
        deploys,
        bundleBytes,
        reconnects,
        closeReasons: Object.fromEntries(closeReasons),
        rss: process.memoryUsage().rss,
      });
    }
    if (m.type === 'stop') {
      stopping = true;
      for (const a of agents) a.session?.destroy();
      setTimeout(() => process.exit(0), 200);
    }
  },
);
process.on('disconnect', () => process.exit(0));
