import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { compressBundle, resourceKey, type Bundle } from '../../../../libs/manifests/src/index.js';
import type { ResourceRef } from '../projects/project-policy.js';
import { BundleEntity } from './bundle.entity.js';

/** Content-addressed storage of rendered bundles, with a small in-memory cache of hot ones. */
@Injectable()
export class BundleStore {
  private readonly repo: Repository<BundleEntity>;
  private readonly cache = new Map<string, Buffer>();
  private readonly resourceCache = new Map<string, ResourceRef[]>();
  private static readonly CACHE_ENTRIES = 256;

  constructor(ds: DataSource) {
    this.repo = ds.getRepository(BundleEntity);
  }

  async put(bundle: Bundle): Promise<void> {
    if (this.cache.has(bundle.hash)) return;
    const content = compressBundle(bundle.json);
    const resources: ResourceRef[] = bundle.objects.map((o) => {
      const k = resourceKey(o);
      return { group: k.group, kind: k.kind, namespace: k.namespace, name: k.name };
    });
    await this.repo.query(
      `INSERT INTO manifest_bundles (hash, content, size_bytes, object_count, resources)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`,
      [
        bundle.hash,
        content,
        Buffer.byteLength(bundle.json),
        bundle.objects.length,
        JSON.stringify(resources),
      ],
    );
    this.resourceCache.set(bundle.hash, resources);
    this.remember(bundle.hash, content);
  }

  /** What a bundle contains (group, kind, namespace, name per object). */
  async resources(hash: string): Promise<ResourceRef[]> {
    const hit = this.resourceCache.get(hash);
    if (hit) return hit;
    const rows = await this.repo.query<{ resources: ResourceRef[] }[]>(
      'SELECT resources FROM manifest_bundles WHERE hash = $1',
      [hash],
    );
    if (!rows[0]) throw new Error(`bundle ${hash} is missing`);
    this.resourceCache.set(hash, rows[0].resources);
    return rows[0].resources;
  }

  /** gzip-compressed canonical JSON of a bundle. */
  async getCompressed(hash: string): Promise<Buffer> {
    const hit = this.cache.get(hash);
    if (hit) return hit;
    const row = await this.repo.findOneBy({ hash });
    if (!row) throw new Error(`bundle ${hash} is missing`);
    this.remember(hash, row.content);
    return row.content;
  }

  private remember(hash: string, content: Buffer): void {
    this.cache.delete(hash);
    this.cache.set(hash, content);
    if (this.cache.size > BundleStore.CACHE_ENTRIES)
      this.cache.delete(this.cache.keys().next().value!);
  }
}
