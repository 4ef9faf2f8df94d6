import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { Db } from '../database/sql.js';
import type { ProjectSpec } from './project-policy.js';
import { ProjectEntity } from './project.entity.js';

/** Projects (table `projects`). */
@Injectable()
export class ProjectsRepository {
  private readonly repo: Repository<ProjectEntity>;

  constructor(private readonly ds: DataSource) {
    this.repo = ds.getRepository(ProjectEntity);
  }

  transaction<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  /**
   * Project `name`, locked until `db`'s transaction ends: `SHARE` by a write of an application
   * in it (the project is not deleted meanwhile), `UPDATE` by its deletion (no application is
   * written in it meanwhile). Null when there is none.
   */
  async lock(db: Db, name: string, mode: 'SHARE' | 'UPDATE'): Promise<ProjectEntity | null> {
    const rows = await db.query<
      { name: string; spec: ProjectSpec; created_at: Date; updated_at: Date }[]
    >(
      `SELECT name, spec, created_at, updated_at FROM projects WHERE name = $1
          FOR ${mode === 'SHARE' ? 'SHARE' : 'UPDATE'}`,
      [name],
    );
    if (!rows.length) return null;
    const p = new ProjectEntity();
    p.name = rows[0].name;
    p.spec = rows[0].spec;
    p.createdAt = rows[0].created_at;
    p.updatedAt = rows[0].updated_at;
    return p;
  }

  async insert(name: string, spec: ProjectSpec): Promise<void> {
    await this.repo.insert({ name, spec });
  }

  async updateSpec(name: string, spec: ProjectSpec): Promise<void> {
    await this.repo.update({ name }, { spec });
  }

  async delete(db: Db, name: string): Promise<void> {
    await db.query('DELETE FROM projects WHERE name = $1', [name]);
  }

  list(): Promise<ProjectEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  findByName(name: string): Promise<ProjectEntity | null> {
    return this.repo.findOneBy({ name });
  }
}
