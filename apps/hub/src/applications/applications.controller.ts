import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import {
  applicationSpecSchema,
  createApplicationSchema,
  parseApplicationInput,
} from './application.schemas.js';
import { ApplicationsService } from './applications.service.js';

@ApiTags('applications')
@Controller('api/v1/applications')
export class ApplicationsController {
  constructor(private readonly apps: ApplicationsService) {}

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
  update(@Param('name') name: string, @Body() body: unknown) {
    return this.apps.update(name, parseOrThrow(applicationSpecSchema, body, 'application spec'));
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

  @Get(':name/clusters/:cluster')
  clusterStatus(@Param('name') name: string, @Param('cluster') cluster: string) {
    return this.apps.clusterStatus(name, cluster);
  }
}
