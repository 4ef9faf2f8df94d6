import { Injectable } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ApplicationsRepository } from '../applications/applications.repository.js';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound, ValidationFailed } from '../common/validation.js';
import type { Db } from '../database/sql.js';
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
    // One transaction that locks the project first: an application written in it at the same
    // time (which holds it FOR SHARE, see holdForApplication) is counted here or finds it gone.
    await this.repo.transaction(async (tx) => {
      const p = await this.repo.lock(tx, name, 'UPDATE');
      if (!p) throw new NotFound(`project "${name}" not found`);
      const n = await this.apps.countInProject(name, tx);
      if (n > 0) throw new Conflict(`project "${name}" is used by ${n} application(s)`);
      await this.repo.delete(tx, name);
      await this.audit.record('project.delete', 'Project', name, p.spec, undefined, tx);
    });
  }

  /**
   * Holds project `name` until `tx` (a transaction writing an application in it) ends, so it is
   * not deleted meanwhile; a 400 naming `project` when it does not exist (any more).
   */
  async holdForApplication(tx: Db, name: string): Promise<void> {
    if (!(await this.repo.lock(tx, name, 'SHARE')))
      throw new ValidationFailed('invalid application', [
        { field: 'project', reason: `project "${name}" does not exist` },
      ]);
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
