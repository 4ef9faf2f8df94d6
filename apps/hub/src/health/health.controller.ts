import { Public } from '../auth/auth.guard.js';
import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { AgentGatewayServer } from '../dispatch/agent-gateway.server.js';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly ds: DataSource,
    private readonly gateway: AgentGatewayServer,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness: the database answers and the agent endpoint is listening. */
  @Get('readyz')
  async readyz() {
    const checks: Record<string, string> = {};
    try {
      await this.ds.query('SELECT 1');
      checks.database = 'ok';
    } catch (e) {
      checks.database = (e as Error).message;
    }
    checks.grpc = this.gateway.port > 0 ? 'ok' : 'not listening';
    const ok = Object.values(checks).every((v) => v === 'ok');
    if (!ok) throw new ServiceUnavailableException({ status: 'not ready', checks });
    return { status: 'ok', checks };
  }
}
