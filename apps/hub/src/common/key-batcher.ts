interface Waiter<V> {
  resolve: (v: V | undefined) => void;
  reject: (e: unknown) => void;
}

/**
 * Looks keys up in batches: the lookups asked for while one batch is being read are read together
 * in the next, so a burst of N lookups (10,000 agents reconnecting after a hub restart, each
 * identified by its certificate) costs a few queries on one pooled connection instead of N
 * queries competing for the pool. One batch is read at a time; a failed batch fails its lookups.
 */
export class KeyBatcher<K, V> {
  private waiting = new Map<K, Waiter<V>[]>();
  private reading = false;

  constructor(
    private readonly read: (keys: K[]) => Promise<Map<K, V>>,
    private readonly maxBatch = 5_000,
  ) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (this.reading) return;
      this.reading = true;
      // Lookups asked for in the same turn of the event loop join the first batch.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.size > 0) {
      const batch = new Map<K, Waiter<V>[]>();
      for (const [k, list] of this.waiting) {
        if (batch.size >= this.maxBatch) break;
        batch.set(k, list);
      }
      for (const k of batch.keys()) this.waiting.delete(k);
      try {
        const found = await this.read([...batch.keys()]);
        for (const [k, list] of batch) for (const w of list) w.resolve(found.get(k));
      } catch (e) {
        for (const list of batch.values()) for (const w of list) w.reject(e);
      }
    }
    this.reading = false;
  }
}
