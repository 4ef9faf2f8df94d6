import { Injectable } from '@nestjs/common';
import { currentActor } from '../auth/request-context.js';
import type { Db } from '../database/sql.js';
import type { AuditEventEntity } from './audit-event.entity.js';
import { AuditRepository, type AuditQuery } from './audit.repository.js';

export type { AuditQuery };

/** The audit log's `name` column (varchar(253)). */
const MAX_NAME = 253;

/** Secrets never enter the audit log: any key that looks like one is replaced. */
const SECRET_KEY = /token|password|secret|key|credential/i;

function redact(v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object') return v;
  // Not looked into, so not kept: a secret may be further down (bodies nest up to 100 levels).
  if (depth > 20) return '<redacted: nested too deep>';
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
  constructor(private readonly repo: AuditRepository) {}

  /** Records a change; pass the transaction that makes it, so both commit together. */
  async record(
    action: string,
    kind: string,
    name: string,
    before: unknown,
    after: unknown,
    tx?: Db,
  ): Promise<void> {
    await this.repo.insert(tx, {
      actor: currentActor(),
      action,
      kind,
      // What it names may be longer than the column (a repository URL prefix): a record that
      // cannot be stored would fail the change it records.
      name: name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 1)}…` : name,
      before: before === undefined ? undefined : redact(before),
      after: after === undefined ? undefined : redact(after),
    });
  }

  list(q: AuditQuery): Promise<AuditEventEntity[]> {
    return this.repo.list(q);
  }
}
