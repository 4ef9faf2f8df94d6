import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import { createClusterSchema, updateClusterSchema } from './cluster.schemas.js';
import { ClustersService } from './clusters.service.js';

@ApiTags('clusters')
@Controller('api/v1/clusters')
export class ClustersController {
  constructor(private readonly clusters: ClustersService) {}

  @Post()
  @ApiOperation({ summary: 'Register a cluster; returns the agent token once' })
  @ApiZodBody(createClusterSchema)
  create(@Body() body: unknown) {
    return this.clusters.create(parseOrThrow(createClusterSchema, body, 'cluster'));
  }

  @Get()
  list() {
    return this.clusters.list();
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
    await this.clusters.delete(name);
  }
}
