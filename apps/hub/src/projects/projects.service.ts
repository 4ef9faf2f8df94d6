import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound, ValidationFailed } from '../common/validation.js';
import { ProjectPolicy, type ProjectSpec } from './project-policy.js';
import { ProjectEntity } from './project.entity.js';

/**
 * Projects bound what applications may use: repositories, destinations (clusters by label,
 * namespaces) and kinds. They are checked when an application is created or generated, again when
 * its manifests are rendered and before every dispatch.
 */
@Injectable()
export class ProjectsService {
  private readonly repo: Repository<ProjectEntity>;

  constructor(
    ds: DataSource,
    private readonly audit: AuditService,
  ) {
    this.repo = ds.getRepository(ProjectEntity);
  }

  async create(name: string, spec: ProjectSpec): Promise<ProjectEntity> {
    try {
      await this.repo.save(this.repo.create({ name, spec }));
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
    p.spec = spec;
    await this.repo.save(p);
    await this.audit.record('project.update', 'Project', name, before, spec);
    return p;
  }

  async delete(name: string): Promise<void> {
    if (name === 'default') throw new Conflict('the default project cannot be deleted');
    const p = await this.get(name);
    const [{ n }] = await this.repo.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM applications WHERE coalesce(spec->>'project', 'default') = $1`,
      [name],
    );
    if (Number(n) > 0) throw new Conflict(`project "${name}" is used by ${n} application(s)`);
    await this.repo.delete({ name });
    await this.audit.record('project.delete', 'Project', name, p.spec, undefined);
  }

  list(): Promise<ProjectEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  async get(name: string): Promise<ProjectEntity> {
    const p = await this.repo.findOneBy({ name });
    if (!p) throw new NotFound(`project "${name}" not found`);
    return p;
  }

  /** The policy of a project; a missing project is a client error naming the field. */
  async policy(name: string, field = 'project'): Promise<ProjectPolicy> {
    const p = await this.repo.findOneBy({ name });
    if (!p)
      throw new ValidationFailed('invalid application', [
        { field, reason: `project "${name}" does not exist` },
      ]);
    return new ProjectPolicy(p.name, p.spec);
  }

  /** Every project's policy, for bulk checks (ApplicationSet generation, dispatch). */
  async all(): Promise<Map<string, ProjectPolicy>> {
    return new Map(
      (await this.repo.find()).map((p) => [p.name, new ProjectPolicy(p.name, p.spec)]),
    );
  }
}
