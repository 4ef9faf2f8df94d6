import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import {
  applicationSpecSchema,
  autoSyncRequestSchema,
  createApplicationSchema,
  diffQuerySchema,
  parseApplicationInput,
  parseApplicationUpdate,
  rollbackRequestSchema,
  syncRequestSchema,
} from './application.schemas.js';
import { ApplicationsService } from './applications.service.js';
import { AppSyncService } from './app-sync.service.js';
import { AppDiffService } from './app-diff.service.js';

@ApiTags('applications')
@Controller('api/v1/applications')
export class ApplicationsController {
  constructor(
    private readonly apps: ApplicationsService,
    private readonly syncs: AppSyncService,
    private readonly diffs: AppDiffService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create an application (Axle JSON or an Argo CD Application)' })
  @ApiZodBody(createApplicationSchema)
  create(@Body() body: unknown) {
    return this.apps.create(parseApplicationInput(body));
  }

  @Get()
  list() {
    return this.apps.list();
  }

  @Get(':name')
  get(@Param('name') name: string) {
    return this.apps.get(name);
  }

  @Put(':name')
  @ApiZodBody(applicationSpecSchema)
  @ApiOperation({
    summary: 'Replace the spec (a spec, or a whole application as create takes it)',
  })
  update(@Param('name') name: string, @Body() body: unknown) {
    return this.apps.update(name, parseApplicationUpdate(name, body));
  }

  @Delete(':name')
  @HttpCode(204)
  async delete(@Param('name') name: string): Promise<void> {
    await this.apps.delete(name);
  }

  @Get(':name/status')
  @ApiOperation({ summary: 'Per-cluster status of an application' })
  async status(@Param('name') name: string) {
    return (await this.apps.get(name)).status;
  }

  @Get(':name/events')
  @ApiOperation({
    summary: 'What the agents report happened: syncs, drift, self-heal, prunes, hooks',
  })
  events(@Param('name') name: string) {
    return this.apps.events(name);
  }

  @Get(':name/history')
  @ApiOperation({ summary: 'Desired states recorded for the application, newest first' })
  history(@Param('name') name: string) {
    return this.apps.history(name);
  }

  @Post(':name/sync')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Deploy the desired state now (all destinations or some; another revision; with prune; or a dry run)',
  })
  @ApiZodBody(syncRequestSchema)
  sync(@Param('name') name: string, @Body() body: unknown) {
    return this.syncs.sync(name, parseOrThrow(syncRequestSchema, body ?? {}, 'sync request'));
  }

  @Post(':name/rollback')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Deploy a history entry's bundle again (no git access); suspends automated sync, as Argo CD does",
  })
  @ApiZodBody(rollbackRequestSchema)
  rollback(@Param('name') name: string, @Body() body: unknown) {
    return this.syncs.rollback(name, parseOrThrow(rollbackRequestSchema, body, 'rollback request'));
  }

  @Put(':name/auto-sync')
  @HttpCode(204)
  @ApiOperation({ summary: 'Turn automated sync back on after a rollback, or suspend it' })
  @ApiZodBody(autoSyncRequestSchema)
  async autoSync(@Param('name') name: string, @Body() body: unknown): Promise<void> {
    const { enabled } = parseOrThrow(autoSyncRequestSchema, body, 'auto-sync request');
    await this.syncs.setAutoSync(name, enabled);
  }

  @Post(':name/refresh')
  @HttpCode(202)
  @ApiOperation({ summary: 'Read the source repository now and reconcile the application' })
  async refresh(@Param('name') name: string): Promise<void> {
    await this.syncs.refresh(name);
  }

  @Get(':name/diff')
  @ApiOperation({
    summary:
      'Desired (current render, or rendered at ?revision=) against live per cluster and resource',
  })
  @ApiQuery({ name: 'cluster', required: false, isArray: true })
  @ApiQuery({ name: 'revision', required: false })
  diff(@Param('name') name: string, @Query() query: unknown) {
    const q = parseOrThrow(diffQuerySchema, query, 'diff query');
    return this.diffs.diff(name, {
      clusters: q.cluster === undefined ? undefined : [q.cluster].flat(),
      revision: q.revision,
    });
  }

  @Get(':name/clusters/:cluster')
  clusterStatus(@Param('name') name: string, @Param('cluster') cluster: string) {
    return this.apps.clusterStatus(name, cluster);
  }
}
