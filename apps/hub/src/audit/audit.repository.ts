import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Db } from '../database/sql.js';
import { AuditEventEntity } from './audit-event.entity.js';

export interface AuditQuery {
  kind?: string;
  name?: string;
  actor?: string;
  limit?: number;
  /** Only events with a smaller id (paging backwards). */
  before?: string;
}

/** The audit log (table `audit_events`). */
@Injectable()
export class AuditRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(
    db: Db | undefined,
    e: {
      actor: string;
      action: string;
      kind: string;
      name: string;
      before: unknown;
      after: unknown;
    },
  ): Promise<void> {
    await (db ?? this.ds.manager).query(
      `INSERT INTO audit_events (actor, action, kind, name, before, after) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        e.actor,
        e.action,
        e.kind,
        e.name,
        e.before === undefined ? null : JSON.stringify(e.before),
        e.after === undefined ? null : JSON.stringify(e.after),
      ],
    );
  }

  list(q: AuditQuery): Promise<AuditEventEntity[]> {
    const qb = this.ds
      .getRepository(AuditEventEntity)
      .createQueryBuilder('e')
      .orderBy('e.id', 'DESC')
      .take(Math.min(Math.max(q.limit ?? 100, 1), 1000));
    if (q.kind) qb.andWhere('e.kind = :kind', { kind: q.kind });
    if (q.name) qb.andWhere('e.name = :name', { name: q.name });
    if (q.actor) qb.andWhere('e.actor = :actor', { actor: q.actor });
    if (q.before && /^\d+$/.test(q.before)) qb.andWhere('e.id < :before', { before: q.before });
    return qb.getMany();
  }
}
