import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { currentActor } from '../auth/request-context.js';
import { AuditEventEntity } from './audit-event.entity.js';

export interface AuditQuery {
  kind?: string;
  name?: string;
  actor?: string;
  limit?: number;
  /** Only events with a smaller id (paging backwards). */
  before?: string;
}

/** Secrets never enter the audit log: any key that looks like one is replaced. */
const SECRET_KEY = /token|password|secret|key|credential/i;

function redact(v: unknown, depth = 0): unknown {
  if (depth > 20 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  // Name/value pairs (Helm parameters, plugin env): the name says whether the value is secret.
  const o = v as Record<string, unknown>;
  if (typeof o.name === 'string' && 'value' in o && SECRET_KEY.test(o.name))
    return { ...o, value: '<redacted>' };
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      SECRET_KEY.test(k) && typeof x === 'string' ? '<redacted>' : redact(x, depth + 1),
    ]),
  );
}

/** The record of every change: who, what, when, before and after. */
@Injectable()
export class AuditService {
  constructor(private readonly ds: DataSource) {}

  async record(
    action: string,
    kind: string,
    name: string,
    before: unknown,
    after: unknown,
    tx?: EntityManager,
  ): Promise<void> {
    const em = tx ?? this.ds.manager;
    await em.query(
      `INSERT INTO audit_events (actor, action, kind, name, before, after) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        currentActor(),
        action,
        kind,
        name,
        before === undefined ? null : JSON.stringify(redact(before)),
        after === undefined ? null : JSON.stringify(redact(after)),
      ],
    );
  }

  async list(q: AuditQuery): Promise<AuditEventEntity[]> {
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
