import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { AgentGatewayServer } from '../dispatch/agent-gateway.server.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { EnrollmentService } from '../enrollment/enrollment.service.js';
import { PkiService } from '../enrollment/pki.service.js';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import {
  clusterListQuerySchema,
  createClusterSchema,
  updateClusterSchema,
} from './cluster.schemas.js';
import { ClustersService } from './clusters.service.js';

@ApiTags('clusters')
@Controller('api/v1/clusters')
export class ClustersController {
  constructor(
    private readonly clusters: ClustersService,
    private readonly enrollment: EnrollmentService,
    private readonly pki: PkiService,
    private readonly gateway: AgentGatewayServer,
    private readonly dispatch: DispatchNotifier,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  /** How an agent reaches this hub: the public addresses when configured, else the bound ones. */
  private addresses() {
    const host = this.config.grpc.publicHost ?? this.config.grpc.host;
    return { hub: `${host}:${this.gateway.port}`, enroll: `${host}:${this.gateway.enrollPort}` };
  }

  /** mTLS: a one-time bootstrap token, the hub CA and a ready-to-apply install manifest. */
  private async enrollmentKit(clusterId: string, name: string) {
    const { token, expiresAt } = await this.enrollment.issueBootstrapToken(clusterId);
    const { hub, enroll } = this.addresses();
    return {
      bootstrapToken: token,
      bootstrapTokenExpiresAt: expiresAt.toISOString(),
      hubAddress: hub,
      enrollAddress: enroll,
      caCertificate: await this.pki.caCertPem(),
      installManifest: await this.enrollment.installManifest(name, token, hub, enroll),
    };
  }

  @Post()
  @ApiOperation({ summary: 'Register a cluster; returns the agent token once' })
  @ApiZodBody(createClusterSchema)
  async create(@Body() body: unknown) {
    const { cluster, agentToken, id } = await this.clusters.create(
      parseOrThrow(createClusterSchema, body, 'cluster'),
    );
    if (this.config.agentAuth === 'token') return { cluster, agentToken };
    return { cluster, ...(await this.enrollmentKit(id, cluster.name)) };
  }

  @Post(':name/bootstrap-token')
  @ApiOperation({ summary: 'Issue a new one-time bootstrap token (re-enrolment)' })
  async bootstrapToken(@Param('name') name: string) {
    const c = await this.clusters.getEntity(name);
    return this.enrollmentKit(c.id, c.name);
  }

  @Post(':name/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: "Revoke the cluster's agent certificates and cut its stream" })
  async revoke(@Param('name') name: string) {
    const c = await this.clusters.getEntity(name);
    const revoked = await this.pki.revokeCluster(c.id);
    await this.clusters.recordRevocation(name, revoked);
    await this.dispatch.disconnect(c.id);
    return { revokedCertificates: revoked };
  }

  @Get()
  @ApiOperation({
    summary:
      'List clusters by name: all, or a page (limit, then after = the last name) of those whose labels match a selector, or whose agent is or is not connected',
  })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 1000' })
  @ApiQuery({ name: 'after', required: false, description: 'names after this one' })
  @ApiQuery({
    name: 'selector',
    required: false,
    description:
      'label selector, as kubectl takes it: env=prod,tier!=db,region in (eu-west,eu-central),team,!legacy',
  })
  @ApiQuery({ name: 'connected', required: false, enum: ['true', 'false'] })
  list(@Query() query: unknown) {
    return this.clusters.list(parseOrThrow(clusterListQuerySchema, query, 'query'));
  }

  @Get(':name')
  get(@Param('name') name: string) {
    return this.clusters.get(name);
  }

  @Patch(':name')
  @ApiZodBody(updateClusterSchema)
  update(@Param('name') name: string, @Body() body: unknown) {
    return this.clusters.update(name, parseOrThrow(updateClusterSchema, body, 'cluster'));
  }

  @Delete(':name')
  @HttpCode(204)
  async delete(@Param('name') name: string): Promise<void> {
    const c = await this.clusters.delete(name);
    // Whichever replica holds its stream closes it (before a later sync could send removals).
    await this.dispatch.disconnect(c.id);
  }
}
