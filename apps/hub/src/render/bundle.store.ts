import { Injectable } from '@nestjs/common';
import { compressBundle, objectRefs, type Bundle } from '../../../../libs/manifests/src/index.js';
import type { ResourceRef } from '../projects/project-policy.js';
import { BundlesRepository } from './bundles.repository.js';

/** Most compressed bytes of bundles kept in memory (hot bundles are sent to many agents). */
const CONTENT_CACHE_BYTES = 64 * 1024 * 1024;
const RESOURCE_CACHE_ENTRIES = 20_000;

/**
 * Content-addressed bundles: stored once per hash, with the compressed content and the
 * resource list of hot ones kept in memory (bounded, least recently used first out).
 */
@Injectable()
export class BundleStore {
  private readonly content = new Map<string, Buffer>();
  private contentBytes = 0;
  /** Reads of content in flight: sessions asking for the same bundle at once share one. */
  private readonly loading = new Map<string, Promise<Buffer>>();
  private readonly resourceCache = new Map<string, ResourceRef[]>();

  constructor(private readonly repo: BundlesRepository) {}

  async put(bundle: Bundle): Promise<void> {
    if (this.content.has(bundle.hash)) return;
    const content = compressBundle(bundle.json);
    // With what is cluster-scoped as far as the hub can tell (a built-in kind, or one a CRD of
    // the same bundle defines so): projects bound those apart.
    const resources: ResourceRef[] = objectRefs(bundle.objects);
    await this.repo.put({
      hash: bundle.hash,
      content,
      sizeBytes: Buffer.byteLength(bundle.json),
      objectCount: bundle.objects.length,
      resources,
    });
    this.rememberResources(bundle.hash, resources);
    this.remember(bundle.hash, content);
  }

  /** What a bundle contains (group, kind, namespace, name per object). */
  async resources(hash: string): Promise<ResourceRef[]> {
    return (await this.resourcesOf([hash])).get(hash)!;
  }

  /** What each bundle contains, in one round trip for those not in memory. */
  async resourcesOf(hashes: string[]): Promise<Map<string, ResourceRef[]>> {
    const out = new Map<string, ResourceRef[]>();
    const missing: string[] = [];
    for (const h of new Set(hashes)) {
      const hit = this.resourceCache.get(h);
      if (hit) out.set(h, hit);
      else missing.push(h);
    }
    if (missing.length) {
      const rows = await this.repo.resources(missing);
      for (const h of missing) {
        const r = rows.get(h);
        if (!r) throw new Error(`bundle ${h} is missing`);
        this.rememberResources(h, r);
        out.set(h, r);
      }
    }
    return out;
  }

  /** gzip-compressed canonical JSON of a bundle. */
  async getCompressed(hash: string): Promise<Buffer> {
    const hit = this.content.get(hash);
    if (hit) {
      this.content.delete(hash);
      this.content.set(hash, hit);
      return hit;
    }
    let loading = this.loading.get(hash);
    if (!loading) {
      loading = this.repo
        .content(hash)
        .then((content) => {
          if (!content) throw new Error(`bundle ${hash} is missing`);
          this.remember(hash, content);
          return content;
        })
        .finally(() => this.loading.delete(hash));
      this.loading.set(hash, loading);
    }
    return loading;
  }

  /** Bytes of compressed content kept in memory (for tests). */
  get cachedBytes(): number {
    return this.contentBytes;
  }

  private remember(hash: string, content: Buffer): void {
    if (content.length > CONTENT_CACHE_BYTES / 4) return;
    const prev = this.content.get(hash);
    if (prev) {
      // Stored again (a put racing a read): counted once.
      this.content.delete(hash);
      this.contentBytes -= prev.length;
    }
    this.content.set(hash, content);
    this.contentBytes += content.length;
    while (this.contentBytes > CONTENT_CACHE_BYTES) {
      const [oldest, buf] = this.content.entries().next().value!;
      this.content.delete(oldest);
      this.contentBytes -= buf.length;
    }
  }

  private rememberResources(hash: string, resources: ResourceRef[]): void {
    this.resourceCache.set(hash, resources);
    if (this.resourceCache.size > RESOURCE_CACHE_ENTRIES)
      this.resourceCache.delete(this.resourceCache.keys().next().value!);
  }
}
