import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import type { Db } from '../database/sql.js';
import {
  ApplicationSetEntity,
  type AppSetIssue,
  type AppSetStatus,
} from './application-set.entity.js';

/** ApplicationSets (table `application_sets`). */
@Injectable()
export class AppSetsRepository {
  private readonly repo: Repository<ApplicationSetEntity>;

  constructor(private readonly ds: DataSource) {
    this.repo = ds.getRepository(ApplicationSetEntity);
  }

  /**
   * The document as it will read back once stored: jsonb keeps object keys in its own order, and
   * generated Applications take their key order (so their spec hashes) from the template's.
   */
  async asStored(document: Record<string, unknown>): Promise<Record<string, unknown>> {
    const rows = await this.ds.query<{ doc: Record<string, unknown> }[]>(
      'SELECT $1::jsonb AS doc',
      [JSON.stringify(document)],
    );
    return rows[0].doc;
  }

  async insert(
    tx: EntityManager,
    e: Pick<
      ApplicationSetEntity,
      'name' | 'document' | 'warnings' | 'repos' | 'readsClusters' | 'status' | 'requeueSeconds'
    >,
  ): Promise<string> {
    const rows = await tx.query<{ id: string }[]>(
      `INSERT INTO application_sets (name, document, warnings, repos, reads_clusters, status, requeue_seconds)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [
        e.name,
        JSON.stringify(e.document),
        JSON.stringify(e.warnings),
        e.repos,
        e.readsClusters,
        JSON.stringify(e.status),
        e.requeueSeconds,
      ],
    );
    return rows[0].id;
  }

  async updateDocument(
    tx: Db,
    id: string,
    d: {
      document: Record<string, unknown>;
      warnings: AppSetIssue[];
      repos: string[];
      readsClusters: boolean;
      requeueSeconds: number | null;
    },
  ): Promise<void> {
    await tx.query(
      `UPDATE application_sets SET document = $2, warnings = $3, repos = $4, reads_clusters = $5,
         requeue_seconds = $6, spec_version = spec_version + 1, deletion_confirmed = '[]',
         updated_at = now() WHERE id = $1`,
      [
        id,
        JSON.stringify(d.document),
        JSON.stringify(d.warnings),
        d.repos,
        d.readsClusters,
        d.requeueSeconds,
      ],
    );
  }

  /**
   * ApplicationSets due for their requeueAfterSeconds (last evaluated longer ago) that are not
   * already waiting in the work queue.
   */
  async dueForRequeue(): Promise<string[]> {
    const rows = await this.repo.query<{ id: string }[]>(
      `SELECT a.id FROM application_sets a
        WHERE a.requeue_seconds > 0
          AND coalesce((a.status->>'lastEvaluatedAt')::timestamptz, '-infinity')
              < now() - make_interval(secs => a.requeue_seconds)
          AND NOT EXISTS (SELECT 1 FROM work_queue w WHERE w.kind = 'appset' AND w.key = a.id)
        LIMIT 1000`,
    );
    return rows.map((r) => r.id);
  }

  async delete(tx: EntityManager, id: string): Promise<void> {
    await tx.getRepository(ApplicationSetEntity).delete({ id });
  }

  findByName(name: string): Promise<ApplicationSetEntity | null> {
    return this.repo.findOneBy({ name });
  }

  findById(id: string): Promise<ApplicationSetEntity | null> {
    return this.repo.findOneBy({ id });
  }

  list(): Promise<ApplicationSetEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  async saveStatus(id: string, status: AppSetStatus, db: Db = this.ds.manager): Promise<void> {
    await db.query('UPDATE application_sets SET status = $2 WHERE id = $1', [
      id,
      JSON.stringify(status),
    ]);
  }

  /** Forgets the inputs of the last evaluation: the next one runs in full. */
  async clearFingerprint(id: string, db: Db = this.ds.manager): Promise<void> {
    await db.query(`UPDATE application_sets SET status = status - 'fingerprint' WHERE id = $1`, [
      id,
    ]);
  }

  async setDeletionConfirmed(id: string, names: string[], db: Db = this.ds.manager): Promise<void> {
    await db.query('UPDATE application_sets SET deletion_confirmed = $2 WHERE id = $1', [
      id,
      JSON.stringify(names),
    ]);
  }
}
