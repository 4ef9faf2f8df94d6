import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { chunks } from '../database/sql.js';
import type { ResourceRef } from '../projects/project-policy.js';

/**
 * Rendered bundles, content-addressed (table `manifest_bundles`: identical renders are stored
 * once), and the render cache (table `render_cache`: render key → bundle).
 */
@Injectable()
export class BundlesRepository {
  constructor(private readonly ds: DataSource) {}

  async put(b: {
    hash: string;
    content: Buffer;
    sizeBytes: number;
    objectCount: number;
    resources: ResourceRef[];
  }): Promise<void> {
    await this.ds.query(
      `INSERT INTO manifest_bundles (hash, content, size_bytes, object_count, resources)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`,
      [b.hash, b.content, b.sizeBytes, b.objectCount, JSON.stringify(b.resources)],
    );
  }

  async content(hash: string): Promise<Buffer | undefined> {
    const rows = await this.ds.query<{ content: Buffer }[]>(
      'SELECT content FROM manifest_bundles WHERE hash = $1',
      [hash],
    );
    return rows[0]?.content;
  }

  async resources(hashes: string[]): Promise<Map<string, ResourceRef[]>> {
    const out = new Map<string, ResourceRef[]>();
    for (const part of chunks([...new Set(hashes)], 5000)) {
      const rows = await this.ds.query<{ hash: string; resources: ResourceRef[] }[]>(
        'SELECT hash, resources FROM manifest_bundles WHERE hash = ANY($1)',
        [part],
      );
      for (const r of rows) out.set(r.hash, r.resources);
    }
    return out;
  }

  /** Cached renders: render key → bundle hash, for the keys that have one. */
  async cached(keys: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunks([...new Set(keys)], 5000)) {
      const rows = await this.ds.query<{ key: string; bundle_hash: string }[]>(
        'SELECT key, bundle_hash FROM render_cache WHERE key = ANY($1)',
        [part],
      );
      for (const r of rows) out.set(r.key, r.bundle_hash);
    }
    return out;
  }

  async cache(keys: string[], bundleHash: string): Promise<void> {
    await this.ds.query(
      `INSERT INTO render_cache (key, bundle_hash) SELECT k, $2 FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO NOTHING`,
      [[...new Set(keys)], bundleHash],
    );
  }
}
