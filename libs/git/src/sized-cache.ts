/**
 * Promises of values by key, the least recently used dropped first, bounded by how many there
 * are and by the sum of their sizes. A value's size is known once it settles: one still running
 * holds nothing and is never dropped (there are only as many as run at once), and the value that
 * just settled stays however large (it was asked for: it is read next). A rejection is forgotten,
 * so the next caller tries again, unless `keepRejection` says it is final: then it is kept,
 * counting 1.
 */
export class SizedPromiseCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; size?: number }>();
  private total = 0;

  constructor(
    private readonly opts: {
      maxCount: number;
      maxSize: number;
      size: (value: V) => number;
      keepRejection?: (e: unknown) => boolean;
    },
  ) {}

  /** The value of `key`, from `load` when it is not kept (concurrent callers share one load). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const entry: { value: Promise<V>; size?: number } = { value: load() };
    this.entries.set(key, entry);
    entry.value.then(
      (v) => this.settled(key, entry, this.opts.size(v)),
      (e: unknown) => {
        if (this.opts.keepRejection?.(e)) this.settled(key, entry, 1);
        else if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.evict(key);
    return entry.value;
  }

  private settled(key: string, entry: { size?: number }, size: number): void {
    if (this.entries.get(key) !== entry) return; // dropped while it ran
    entry.size = size;
    this.total += size;
    this.evict(key);
  }

  private evict(keep: string): void {
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.opts.maxCount && this.total <= this.opts.maxSize) return;
      if (e.size === undefined || k === keep) continue;
      this.entries.delete(k);
      this.total -= e.size;
    }
  }
}
