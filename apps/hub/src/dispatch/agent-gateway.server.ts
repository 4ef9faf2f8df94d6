import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { constants as cryptoConstants } from 'node:crypto';
import { createServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { PkiError, verifyCsr } from '../../../../libs/pki/src/index.js';
import {
  AgentCertificatesService,
  AgentEnrollmentService,
  type EnrollRequest,
  type EnrollResponse,
  type RenewRequest,
  type RenewResponse,
} from '../../../../libs/proto/gen/axle/agent/v1/enrollment.js';
import { AuditService } from '../audit/audit.service.js';
import { runWithActor } from '../auth/request-context.js';
import { EnrollmentService } from '../enrollment/enrollment.service.js';
import { PkiService, RevokedError } from '../enrollment/pki.service.js';
import {
  AgentGatewayService,
  type AgentMessage,
  type HubMessage,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { ClustersService } from '../clusters/clusters.service.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { NotifyBus } from '../database/notify-bus.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AgentSession, ProtocolError } from './agent-session.js';
import { CredentialCheck } from './credential-check.js';
import { DISCONNECT_CHANNEL, DISPATCH_CHANNEL } from './dispatch.notifier.js';
import { Dispatcher } from './dispatcher.js';
import { StatusWriter } from './status-writer.js';

/**
 * Connections the kernel queues for the agent and enrollment ports until the hub accepts them. A
 * fleet dialling at once (every agent after a hub restart, a fleet enrolling) overflows Node's
 * default of 511 within a second when the hub is busy with handshakes, and an overflowing queue
 * drops SYNs: those agents wait for their retransmits (1, 3, 7 s…) or time out. The kernel caps
 * it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;

/** Most bytes one gRPC message may carry either way (bundles are gzip-compressed). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * The gRPC endpoints agents dial. With mTLS (default) the agent port requires a client certificate
 * issued by the hub's CA and the cluster is the certificate's (never a field of a message);
 * enrollment (bootstrap token + CSR → certificate) has its own TLS port. With `token` auth each
 * stream carries the cluster's bearer token instead.
 */
@Injectable()
export class AgentGatewayServer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('AgentGateway');
  private readonly server = new Server({
    // No per-call channel tracing: 10,000 agent streams would keep 10,000 trace objects.
    'grpc.enable_channelz': 0,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  private readonly enrollServer = new Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  private boundPort = 0;
  private boundEnrollPort = 0;
  /** The listeners of the agent and enrollment ports (their connections go to the gRPC servers). */
  private readonly listeners: TcpServer[] = [];

  constructor(
    private readonly clusters: ClustersService,
    private readonly dispatcher: Dispatcher,
    private readonly writer: StatusWriter,
    private readonly bus: NotifyBus,
    private readonly metrics: MetricsService,
    private readonly pki: PkiService,
    private readonly enrollment: EnrollmentService,
    private readonly audit: AuditService,
    private readonly credentials: CredentialCheck,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  /** Enrollment port (mTLS mode), 0 otherwise. */
  get enrollPort(): number {
    return this.boundEnrollPort;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.subscribe(DISPATCH_CHANNEL, (ids) => this.dispatcher.notified(ids.split(',')));
    await this.bus.subscribe(DISCONNECT_CHANNEL, (id) =>
      this.dispatcher.session(id)?.close(GrpcStatus.PERMISSION_DENIED, 'cluster removed'),
    );
    // Notifications may have been missed while the listener was down: deliver everything again,
    // and check every stream's credential (a DISCONNECT of a revocation may have been missed).
    this.bus.onReconnect(() => {
      this.dispatcher.resyncAll();
      this.credentials.checkAll();
    });
    this.server.addService(AgentGatewayService, {
      connect: (call: ServerDuplexStream<AgentMessage, HubMessage>) => void this.connect(call),
    });
    const host = this.config.grpc.host;
    if (this.config.agentAuth === 'mtls') {
      const ca = Buffer.from(await this.pki.caCertPem());
      const server = await this.pki.serverCertificate();
      const pair = [
        { private_key: Buffer.from(server.keyPem), cert_chain: Buffer.from(server.certPem) },
      ];
      this.server.addService(AgentCertificatesService, {
        renew: (
          call: ServerUnaryCall<RenewRequest, RenewResponse>,
          cb: sendUnaryData<RenewResponse>,
        ) => void this.renew(call, cb),
      });
      this.boundPort = await this.listen(
        this.server,
        host,
        this.config.grpc.port,
        new AgentServerCredentials(ca, pair[0].cert_chain, pair[0].private_key),
      );
      this.enrollServer.addService(AgentEnrollmentService, {
        enroll: (
          call: ServerUnaryCall<EnrollRequest, EnrollResponse>,
          cb: sendUnaryData<EnrollResponse>,
        ) => void this.enroll(call, cb),
      });
      this.boundEnrollPort = await this.listen(
        this.enrollServer,
        host,
        this.config.pki.enrollPort,
        ServerCredentials.createSsl(null, pair, false),
      );
      this.log.log(
        `listening for agents on ${host}:${this.boundPort} (mTLS), enrollment on ${host}:${this.boundEnrollPort} (TLS)`,
      );
    } else {
      this.boundPort = await this.listen(
        this.server,
        host,
        this.config.grpc.port,
        ServerCredentials.createInsecure(),
      );
      this.log.warn(
        `listening for agents on ${host}:${this.boundPort} WITHOUT TLS (AXLE_AGENT_AUTH=token)`,
      );
    }
  }

  /**
   * Listens on `port` with a deep accept queue (LISTEN_BACKLOG) and hands every connection to the
   * gRPC server, which runs TLS and HTTP/2 on it as on a port it bound itself.
   */
  private async listen(
    server: Server,
    host: string,
    port: number,
    creds: ServerCredentials,
  ): Promise<number> {
    const injector = server.createConnectionInjector(creds);
    const tcp = createServer({ noDelay: true }, (socket) => injector.injectConnection(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: host.replace(/^\[(.*)\]$/, '$1'), port, backlog: LISTEN_BACKLOG }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.listeners.push(tcp);
    return (tcp.address() as AddressInfo).port;
  }

  async onModuleDestroy(): Promise<void> {
    for (const l of this.listeners) l.close();
    for (const s of this.dispatcher.all()) s.close(GrpcStatus.UNAVAILABLE, 'hub shutting down');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
    this.enrollServer.forceShutdown();
  }

  /**
   * The cluster a call acts for: from its client certificate (mTLS) or bearer token. Otherwise
   * the answer to give: UNAUTHENTICATED when the credential is refused, UNAVAILABLE when it could
   * not be looked up (the database is away or its pool swamped: no verdict on the agent, which
   * retries with its backoff).
   */
  private async identify(
    call: {
      getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } };
      metadata: { get(k: string): unknown[] };
      getPeer(): string;
    },
    what: string,
  ): Promise<
    | { id: string; name: string; certificate?: { serial: string; notAfter: Date } }
    | { refused: { code: GrpcStatus; details: string } }
  > {
    const refuse = (code: GrpcStatus, details: string, why = details) => {
      this.log.warn(
        code === GrpcStatus.UNAVAILABLE
          ? `could not identify ${what} from ${call.getPeer()}: ${why}`
          : `refused ${what} from ${call.getPeer()}: ${why}`,
      );
      return { refused: { code, details } };
    };
    try {
      if (this.config.agentAuth === 'mtls') {
        const raw = call.getAuthContext().sslPeerCertificate?.raw;
        if (!raw)
          return refuse(
            GrpcStatus.UNAUTHENTICATED,
            'a client certificate issued by this hub is required',
          );
        const who = await this.pki.identify(raw);
        return who.ok
          ? {
              id: who.clusterId,
              name: who.cluster,
              certificate: { serial: who.serial, notAfter: who.notAfter },
            }
          : refuse(GrpcStatus.UNAUTHENTICATED, who.reason);
      }
      const header = call.metadata.get('authorization')[0];
      const token = /^Bearer (\S{10,200})$/.exec(typeof header === 'string' ? header : '')?.[1];
      const cluster = token ? await this.clusters.findByToken(token) : null;
      return cluster
        ? { id: cluster.id, name: cluster.name }
        : refuse(GrpcStatus.UNAUTHENTICATED, token ? 'invalid agent token' : 'no agent token');
    } catch (e) {
      return refuse(GrpcStatus.UNAVAILABLE, 'hub busy, try again', (e as Error).message);
    }
  }

  private async enroll(
    call: ServerUnaryCall<EnrollRequest, EnrollResponse>,
    cb: sendUnaryData<EnrollResponse>,
  ): Promise<void> {
    const { bootstrapToken, csrPem } = call.request;
    // A malformed CSR, or one naming another cluster, must not spend the token.
    const pending = await this.enrollment.peek(bootstrapToken.slice(0, 200)).catch(() => undefined);
    if (pending) {
      try {
        const csr = await verifyCsr(csrPem);
        if (csr.commonName !== pending) {
          throw new PkiError(
            `the CSR names "${csr.commonName}" but this token enrolls cluster "${pending}"`,
          );
        }
      } catch (e) {
        this.log.warn(`refused an enrollment from ${call.getPeer()}: ${(e as Error).message}`);
        return cb({
          code: e instanceof PkiError ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL,
          details: e instanceof PkiError ? e.message : 'internal error',
        });
      }
    }
    const spent = await this.enrollment
      .consume(bootstrapToken.slice(0, 200))
      .catch(() => ({ ok: false as const, reason: 'unknown' as const }));
    if (!spent.ok) {
      const why = {
        unknown: 'unknown bootstrap token',
        expired: 'the bootstrap token has expired (or was replaced by a newer one, or revoked)',
        used: 'the bootstrap token was already used',
      }[spent.reason];
      this.log.warn(`refused an enrollment from ${call.getPeer()}: ${why}`);
      return cb({
        code: GrpcStatus.UNAUTHENTICATED,
        details: `${why}; ask for a new one with \`axle cluster bootstrap-token\``,
      });
    }
    await this.issue(spent.clusterId, spent.cluster, csrPem, cb, 'enrolled');
  }

  private async renew(
    call: ServerUnaryCall<RenewRequest, RenewResponse>,
    cb: sendUnaryData<RenewResponse>,
  ): Promise<void> {
    const who = await this.identify(call, 'a renewal');
    if ('refused' in who) return cb(who.refused);
    // Recorded only if the presenting certificate is still not revoked then (see PkiService).
    await this.issue(who.id, who.name, call.request.csrPem, cb, 'renewed', who.certificate?.serial);
  }

  private async issue(
    clusterId: string,
    cluster: string,
    csrPem: string,
    cb: sendUnaryData<EnrollResponse>,
    what: string,
    renewing?: string,
  ): Promise<void> {
    try {
      const cert = await this.pki.issueClientCertificate(clusterId, cluster, csrPem, renewing);
      await runWithActor(`cluster:${cluster}`, () =>
        this.audit.record(`cluster.certificate-${what}`, 'Cluster', cluster, undefined, {
          serial: cert.serial,
          notAfter: cert.notAfter.toISOString(),
        }),
      );
      this.log.log(
        `${cluster}: certificate ${what} (serial ${cert.serial}, until ${cert.notAfter.toISOString()})`,
      );
      cb(null, {
        cluster,
        certificatePem: cert.certPem,
        caPem: await this.pki.caCertPem(),
        notAfterUnixMs: cert.notAfter.getTime(),
      });
    } catch (e) {
      if (e instanceof RevokedError) {
        this.log.warn(`refused a renewal for ${cluster}: ${e.message}`);
        return cb({ code: GrpcStatus.UNAUTHENTICATED, details: e.message });
      }
      const client = e instanceof PkiError;
      if (!client)
        this.log.error(`issuing a certificate for ${cluster}: ${(e as Error).stack ?? String(e)}`);
      cb({
        code: client ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL,
        details: e instanceof PkiError ? e.message : 'internal error',
      });
    }
  }

  private async connect(call: ServerDuplexStream<AgentMessage, HubMessage>): Promise<void> {
    const who = await this.identify(call, 'an agent stream');
    if ('refused' in who) {
      call.emit('error', who.refused);
      return;
    }
    // The client may have gone while we looked it up: then there is no stream to serve.
    if (call.cancelled) return;
    const cluster = who;
    const session = new AgentSession(
      cluster.id,
      cluster.name,
      call,
      {
        writer: this.writer,
        metrics: this.metrics,
        host: this.dispatcher,
        heartbeatSeconds: this.config.heartbeatSeconds,
      },
      cluster.certificate,
    );
    this.dispatcher.add(session);
    // A revocation between the lookup above and this registration closed no session here (its
    // DISCONNECT found none): check the credential again now that the session can be found.
    this.credentials.checkSoon(session);

    // Messages are handled strictly in order, one at a time.
    let chain = Promise.resolve();
    call.on('data', (msg: AgentMessage) => {
      chain = chain.then(() =>
        session.handle(msg).catch((e: unknown) => {
          const protocol = e instanceof ProtocolError;
          this.log.warn(
            `${cluster.name}: ${protocol ? 'protocol error' : 'error'}: ${(e as Error).message}`,
          );
          session.close(
            protocol ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL,
            (e as Error).message,
          );
        }),
      );
    });
    let ended = false;
    const done = () => {
      if (ended) return;
      ended = true;
      session.ended();
      if (this.dispatcher.remove(session)) {
        this.writer.agentSeen({ clusterId: cluster.id, connected: false, at: Date.now() });
        this.log.log(`${cluster.name}: disconnected`);
      }
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('cancelled', done);
    call.on('error', done);
    call.on('close', done);
  }
}

/**
 * mTLS for the agent port: client certificates required, and no TLS session tickets. Agents keep
 * one long-lived connection and never resume a session, while every ticket-enabled connection
 * keeps OpenSSL state for it (about 10 KiB per agent, measured with 10,000 streams).
 */
class AgentServerCredentials extends ServerCredentials {
  constructor(ca: Buffer, cert: Buffer, key: Buffer) {
    super(
      {
        requestCert: true,
        rejectUnauthorized: true,
        secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      },
      { ca, cert: [cert], key: [key] },
    );
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}
