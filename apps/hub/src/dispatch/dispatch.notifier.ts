import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Db } from '../database/sql.js';

export const DISPATCH_CHANNEL = 'axle_dispatch';
export const DISCONNECT_CHANNEL = 'axle_disconnect';

/** PostgreSQL's NOTIFY payload limit is 8000 bytes: ids are sent in lists below it. */
const PAYLOAD_BYTES = 7900;

/**
 * Tells whichever hub replica holds a cluster's agent stream that the cluster has work: one
 * notification per batch carries many cluster ids (comma-separated). Pass the transaction that
 * wrote the work: PostgreSQL delivers its notifications when it commits.
 */
@Injectable()
export class DispatchNotifier {
  constructor(private readonly ds: DataSource) {}

  async notify(clusterIds: Iterable<string>, db: Db = this.ds.manager): Promise<void> {
    const payloads = packIds([...new Set(clusterIds)]);
    if (payloads.length === 0) return;
    await db.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [
      DISPATCH_CHANNEL,
      payloads,
    ]);
  }

  async disconnect(clusterId: string): Promise<void> {
    await this.ds.query('SELECT pg_notify($1, $2)', [DISCONNECT_CHANNEL, clusterId]);
  }
}

/** Comma-separated lists of ids, each below the NOTIFY payload limit. */
export function packIds(ids: string[]): string[] {
  const out: string[] = [];
  let cur = '';
  for (const id of ids) {
    if (cur && cur.length + 1 + id.length > PAYLOAD_BYTES) {
      out.push(cur);
      cur = '';
    }
    cur = cur ? `${cur},${id}` : id;
  }
  if (cur) out.push(cur);
  return out;
}
