import { Logger } from '@nestjs/common';
import {
  decompressBundle,
  type Bundle,
  type KubeObject,
} from '../../../libs/manifests/src/index.js';
import type { StateStore } from './state-store.js';

/**
 * The bundles this agent holds, by content hash: stored on disk (verified against the hash when
 * read back) and their objects kept in memory while an app uses them.
 */
export class BundleCache {
  private readonly log = new Logger('Agent');
  private readonly objects = new Map<string, KubeObject[]>();
  /** Past this many bundles in memory, those no stored app uses are forgotten (amortised). */
  private pruneAt = 64;

  constructor(private readonly store: StateStore) {}

  holds(hash: string): boolean {
    return this.objects.has(hash) || this.store.hasBundle(hash);
  }

  /**
   * A bundle this agent holds: in memory, or read from disk and verified against its hash. A file
   * that does not match (torn by a crash while it was written) is dropped: undefined, as if absent.
   */
  get(hash: string): Pick<Bundle, 'objects'> | undefined {
    const objects = this.objects.get(hash);
    if (objects) return { objects };
    if (!this.store.hasBundle(hash)) return undefined;
    try {
      return decompressBundle(this.store.readBundle(hash), hash);
    } catch (e) {
      this.log.warn(
        `stored bundle ${hash.slice(0, 19)} unreadable, dropped: ${(e as Error).message}`,
      );
      this.store.dropBundle(hash);
      return undefined;
    }
  }

  /** Stores a received bundle's bytes (already verified) and keeps its objects. */
  put(hash: string, gzip: Uint8Array, objects: KubeObject[]): void {
    this.store.putBundle(hash, gzip);
    this.remember(hash, objects);
  }

  /** Keeps a bundle's objects in memory, with those of the bundles stored apps use. */
  remember(hash: string, objects: KubeObject[]): void {
    this.objects.set(hash, objects);
    if (this.objects.size <= this.pruneAt) return;
    // Looking at every app on every deploy would be quadratic: only when the map has doubled.
    const used = new Set(this.store.apps().map((a) => a.bundleHash));
    for (const h of this.objects.keys()) if (h !== hash && !used.has(h)) this.objects.delete(h);
    this.pruneAt = Math.max(64, 2 * this.objects.size);
  }
}
