/**
 * A map that keeps the entries used last, up to a total weight (each entry's, as given when it is
 * set): setting one past the bound drops those used longest ago. An entry heavier than the bound
 * is not kept.
 */
export class LruCache<K, V> {
  /** In order of use, the last used last (a Map keeps its insertion order). */
  private readonly entries = new Map<K, { value: V; weight: number }>();
  private total = 0;

  constructor(private readonly maxWeight: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The total weight of the entries kept. */
  get weight(): number {
    return this.total;
  }

  /** The value of `key`, which becomes the last used. */
  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(key: K, value: V, weight = 1): void {
    this.delete(key);
    if (weight > this.maxWeight) return;
    this.entries.set(key, { value, weight });
    this.total += weight;
    for (const [k, e] of this.entries) {
      if (this.total <= this.maxWeight) break;
      this.entries.delete(k);
      this.total -= e.weight;
    }
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.total -= e.weight;
  }
}
