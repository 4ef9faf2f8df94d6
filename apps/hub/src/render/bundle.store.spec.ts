import { describe, expect, it } from 'vitest';
import { BundleStore } from './bundle.store.js';
import type { BundlesRepository } from './bundles.repository.js';

/** A repository whose reads of content wait until released, and are counted. */
class SlowBundles {
  reads = 0;
  private release: (() => void)[] = [];
  content(hash: string): Promise<Buffer | undefined> {
    this.reads++;
    return new Promise((resolve) =>
      this.release.push(() => resolve(Buffer.alloc(1024 * 1024, hash))),
    );
  }
  releaseAll(): void {
    for (const r of this.release.splice(0)) r();
  }
}

describe('BundleStore', () => {
  it('reads a bundle asked for by many sessions at once one time, and counts its bytes once', async () => {
    const repo = new SlowBundles();
    const store = new BundleStore(repo as unknown as BundlesRepository);
    for (let round = 0; round < 3; round++) {
      const hash = `sha256:${round}`;
      const asks = Array.from({ length: 100 }, () => store.getCompressed(hash));
      repo.releaseAll();
      const got = await Promise.all(asks);
      expect(new Set(got).size).toBe(1);
    }
    expect(repo.reads).toBe(3);
    expect(store.cachedBytes).toBe(3 * 1024 * 1024);
    // Kept: asked again, nothing is read.
    await store.getCompressed('sha256:1');
    expect(repo.reads).toBe(3);
  });
});
