import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { dns1123Label, parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import { projectSpecSchema } from './project-policy.js';
import { ProjectsService } from './projects.service.js';

const createProjectSchema = z.object({ name: dns1123Label, spec: projectSpecSchema }).strict();

@ApiTags('projects')
@Controller('api/v1/projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  @ApiZodBody(createProjectSchema)
  async create(@Body() body: unknown) {
    const { name, spec } = parseOrThrow(createProjectSchema, body, 'project');
    return this.projects.create(name, spec);
  }

  @Get()
  list() {
    return this.projects.list();
  }

  @Get(':name')
  get(@Param('name') name: string) {
    return this.projects.get(name);
  }

  @Put(':name')
  @ApiZodBody(projectSpecSchema)
  update(@Param('name') name: string, @Body() body: unknown) {
    return this.projects.update(name, parseOrThrow(projectSpecSchema, body, 'project spec'));
  }

  @Delete(':name')
  @HttpCode(204)
  async delete(@Param('name') name: string): Promise<void> {
    await this.projects.delete(name);
  }
}
