import { Injectable } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ApplicationsRepository } from '../applications/applications.repository.js';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound } from '../common/validation.js';
import { WorkQueue } from '../work/work-queue.js';
import { ProjectGate } from './project-gate.js';
import { ProjectPolicy, type ProjectSpec } from './project-policy.js';
import { ProjectEntity } from './project.entity.js';
import { ProjectsRepository } from './projects.repository.js';

/**
 * Projects bound what applications may use: repositories, destinations (clusters by label,
 * namespaces) and kinds. They are checked through one ProjectGate when an application is created
 * or generated, after its manifests are rendered and before every dispatch.
 */
@Injectable()
export class ProjectsService {
  constructor(
    private readonly repo: ProjectsRepository,
    private readonly apps: ApplicationsRepository,
    private readonly audit: AuditService,
    private readonly work: WorkQueue,
  ) {}

  async create(name: string, spec: ProjectSpec): Promise<ProjectEntity> {
    try {
      await this.repo.insert(name, spec);
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`project "${name}" already exists`);
      }
      throw e;
    }
    await this.audit.record('project.create', 'Project', name, undefined, spec);
    return this.get(name);
  }

  async update(name: string, spec: ProjectSpec): Promise<ProjectEntity> {
    const p = await this.get(name);
    const before = p.spec;
    await this.repo.updateSpec(name, spec);
    await this.audit.record('project.update', 'Project', name, before, spec);
    // What the project now allows or refuses applies to its applications and generators.
    await this.work.apps({ project: name }, `project ${name} updated`);
    await this.work.appsets({ all: true }, `project ${name} updated`);
    return this.get(name);
  }

  async delete(name: string): Promise<void> {
    if (name === 'default') throw new Conflict('the default project cannot be deleted');
    const p = await this.get(name);
    const n = await this.apps.countInProject(name);
    if (n > 0) throw new Conflict(`project "${name}" is used by ${n} application(s)`);
    await this.repo.delete(name);
    await this.audit.record('project.delete', 'Project', name, p.spec, undefined);
  }

  list(): Promise<ProjectEntity[]> {
    return this.repo.list();
  }

  async get(name: string): Promise<ProjectEntity> {
    const p = await this.repo.findByName(name);
    if (!p) throw new NotFound(`project "${name}" not found`);
    return p;
  }

  /** A gate over every project as stored now (one small read). */
  async gate(): Promise<ProjectGate> {
    const all = await this.repo.list();
    return new ProjectGate(new Map(all.map((p) => [p.name, new ProjectPolicy(p.name, p.spec)])));
  }
}
