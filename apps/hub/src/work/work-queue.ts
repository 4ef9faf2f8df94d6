import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Db } from '../database/sql.js';
import {
  WorkRepository,
  type AppSelector,
  type AppSetSelector,
  type WorkKind,
} from './work.repository.js';

/** Channel on which replicas learn that some kind of work is waiting. */
export const WORK_CHANNEL = 'axle_work';

/**
 * Marks objects dirty in the durable queue and wakes the replicas. Called inside the transaction
 * that made the change, so a change and its work commit together (the NOTIFY is delivered on
 * commit), and nothing is lost when a replica dies right after.
 */
@Injectable()
export class WorkQueue {
  constructor(
    private readonly ds: DataSource,
    private readonly repo: WorkRepository,
  ) {}

  async apps(selector: AppSelector, reason: string, db: Db = this.ds.manager): Promise<number> {
    const n =
      'ids' in selector
        ? (await this.repo.markIds('app', selector.ids, reason, db), selector.ids.length)
        : await this.repo.mark('app', selector, reason, db);
    if (n > 0) await wake(db, 'app');
    return n;
  }

  /** A ref moved: see WorkRepository.commitMoved. Wakes the replicas when it marked anything. */
  async commitMoved(
    m: { repoURL: string; revisions: string[]; from?: string; to?: string; changed?: string[] },
    reason: string,
    db: Db,
  ): Promise<{ marked: number; moveRecorded: boolean }> {
    const r = await this.repo.commitMoved(db, m, reason);
    if (r.marked > 0) await wake(db, 'app');
    return r;
  }

  /** Applies recorded moves: see WorkRepository.applyMoves. */
  applyMoves(db: Db, repoURL: string | undefined, wait: boolean): Promise<number> {
    return this.repo.applyMoves(db, repoURL, wait);
  }

  async appsets(
    selector: AppSetSelector,
    reason: string,
    db: Db = this.ds.manager,
  ): Promise<number> {
    const n =
      'ids' in selector
        ? (await this.repo.markIds('appset', selector.ids, reason, db), selector.ids.length)
        : await this.repo.mark('appset', selector, reason, db);
    if (n > 0) await wake(db, 'appset');
    return n;
  }
}

async function wake(db: Db, kind: WorkKind): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [WORK_CHANNEL, kind]);
}
