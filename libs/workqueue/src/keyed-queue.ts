/**
 * One worker per key, latest wins: work for a key never runs concurrently with itself, requests
 * that arrive while it runs collapse into one more run, and at most `concurrency` keys run at once.
 * The ordered-reconciliation shape of controller work queues.
 */
export class KeyedQueue<K> {
  private readonly running = new Set<K>();
  private readonly dirty = new Set<K>();
  private readonly waiting: K[] = [];
  private readonly waitingSet = new Set<K>();
  private idleResolvers: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly work: (key: K) => Promise<void>,
    private readonly concurrency = 4,
    private readonly onError: (key: K, err: unknown) => void = () => undefined,
  ) {}

  enqueue(key: K): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waitingSet.has(key)) return;
    this.waiting.push(key);
    this.waitingSet.add(key);
    this.pump();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleResolvers.push(r));
  }

  /** Stops taking work and waits for what runs. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    this.waitingSet.clear();
    this.dirty.clear();
    await this.idle();
  }

  get size(): number {
    return this.running.size + this.waiting.length;
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const key = this.waiting.shift()!;
      this.waitingSet.delete(key);
      this.running.add(key);
      void this.run(key);
    }
    if (this.running.size === 0 && this.waiting.length === 0) {
      const rs = this.idleResolvers;
      this.idleResolvers = [];
      rs.forEach((r) => r());
    }
  }

  private async run(key: K): Promise<void> {
    try {
      await this.work(key);
    } catch (e) {
      this.onError(key, e);
    } finally {
      this.running.delete(key);
      if (this.dirty.delete(key) && !this.stopped) {
        this.waiting.push(key);
        this.waitingSet.add(key);
      }
      this.pump();
    }
  }
}
