import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { ProjectSpec } from './project-policy.js';
import { ProjectEntity } from './project.entity.js';

/** Projects (table `projects`). */
@Injectable()
export class ProjectsRepository {
  private readonly repo: Repository<ProjectEntity>;

  constructor(ds: DataSource) {
    this.repo = ds.getRepository(ProjectEntity);
  }

  async insert(name: string, spec: ProjectSpec): Promise<void> {
    await this.repo.insert({ name, spec });
  }

  async updateSpec(name: string, spec: ProjectSpec): Promise<void> {
    await this.repo.update({ name }, { spec });
  }

  async delete(name: string): Promise<void> {
    await this.repo.delete({ name });
  }

  list(): Promise<ProjectEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  findByName(name: string): Promise<ProjectEntity | null> {
    return this.repo.findOneBy({ name });
  }
}
