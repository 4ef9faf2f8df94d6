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
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import { DataSource } from 'typeorm';
import {
  AgentGatewayService,
  type AgentMessage,
  type HubMessage,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { ClustersService } from '../clusters/clusters.service.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { NotifyBus } from '../database/notify-bus.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import { BundleStore } from '../render/bundle.store.js';
import { AgentSession, ProtocolError } from './agent-session.js';
import { DISCONNECT_CHANNEL, DISPATCH_CHANNEL } from './dispatch.notifier.js';

/** Most bytes one gRPC message may carry either way (bundles are gzip-compressed). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * The gRPC endpoint agents dial. Each stream is authenticated by the cluster's agent token
 * (`authorization: Bearer …` metadata); the cluster comes from the token, never from a message.
 */
@Injectable()
export class AgentGatewayServer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('AgentGateway');
  private readonly server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  private readonly sessions = new Map<string, AgentSession>();
  private boundPort = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly clusters: ClustersService,
    private readonly bundles: BundleStore,
    private readonly bus: NotifyBus,
    private readonly metrics: MetricsService,
    private readonly projects: ProjectsService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  get connectedClusters(): string[] {
    return [...this.sessions.values()].map((s) => s.clusterName);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.subscribe(DISPATCH_CHANNEL, (id) => void this.sessions.get(id)?.sync());
    await this.bus.subscribe(DISCONNECT_CHANNEL, (id) =>
      this.sessions.get(id)?.close(GrpcStatus.PERMISSION_DENIED, 'cluster removed'),
    );
    this.bus.onReconnect(() => this.sessions.forEach((s) => void s.sync()));
    this.clusters.events$.subscribe((e) => {
      if (e.type === 'removed')
        this.sessions.get(e.cluster.id)?.close(GrpcStatus.PERMISSION_DENIED, 'cluster removed');
    });
    this.server.addService(AgentGatewayService, {
      connect: (call: ServerDuplexStream<AgentMessage, HubMessage>) => void this.connect(call),
    });
    const addr = `${this.config.grpc.host}:${this.config.grpc.port}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(addr, ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.log.log(`listening for agents on ${this.config.grpc.host}:${this.boundPort}`);
  }

  async onModuleDestroy(): Promise<void> {
    for (const s of this.sessions.values()) s.close(GrpcStatus.UNAVAILABLE, 'hub shutting down');
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
    await this.clusters.markAllDisconnected([...this.sessions.keys()]).catch(() => undefined);
  }

  private async connect(call: ServerDuplexStream<AgentMessage, HubMessage>): Promise<void> {
    const auth = String(call.metadata.get('authorization')[0] ?? '');
    const token = /^Bearer (\S{10,200})$/.exec(auth)?.[1];
    const cluster = token ? await this.clusters.findByToken(token).catch(() => null) : null;
    if (!cluster) {
      this.log.warn(
        `refused an agent stream from ${call.getPeer()}: ${token ? 'unknown token' : 'no bearer token'}`,
      );
      call.emit('error', {
        code: GrpcStatus.UNAUTHENTICATED,
        details: 'invalid or missing agent token',
      });
      return;
    }
    const session = new AgentSession(cluster.id, cluster.name, call, {
      ds: this.ds,
      bundles: this.bundles,
      metrics: this.metrics,
      projects: () => this.projects.all(),
      heartbeatSeconds: this.config.heartbeatSeconds,
      onSeen: (id, connected, version) => this.clusters.markSeen(id, connected, version),
    });
    this.sessions
      .get(cluster.id)
      ?.close(GrpcStatus.ALREADY_EXISTS, 'replaced by a newer connection');
    this.sessions.set(cluster.id, session);
    this.metrics.agentSessions.set(this.sessions.size);

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
    const done = () => {
      session.closed = true;
      if (this.sessions.get(cluster.id) === session) {
        this.sessions.delete(cluster.id);
        this.metrics.agentSessions.set(this.sessions.size);
        void this.clusters.markSeen(cluster.id, false).catch(() => undefined);
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
