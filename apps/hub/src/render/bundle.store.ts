import { Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { compressBundle, type Bundle } from '../../../../libs/manifests/src/index.js';
import { BundleEntity } from './bundle.entity.js';

/** Content-addressed storage of rendered bundles, with a small in-memory cache of hot ones. */
@Injectable()
export class BundleStore {
  private readonly repo: Repository<BundleEntity>;
  private readonly cache = new Map<string, Buffer>();
  private static readonly CACHE_ENTRIES = 256;

  constructor(ds: DataSource) {
    this.repo = ds.getRepository(BundleEntity);
  }

  async put(bundle: Bundle): Promise<void> {
    if (this.cache.has(bundle.hash)) return;
    const content = compressBundle(bundle.json);
    await this.repo
      .createQueryBuilder()
      .insert()
      .values({
        hash: bundle.hash,
        content,
        sizeBytes: Buffer.byteLength(bundle.json),
        objectCount: bundle.objects.length,
      })
      .orIgnore()
      .execute();
    this.remember(bundle.hash, content);
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
