import { CoreV1Api, KubeConfig, Watch, type V1ConfigMap } from '@kubernetes/client-node';

/**
 * Every write to the suite's ConfigMaps, as one cluster's API server reports them (a watch, from
 * the resourceVersion of a list, resumed from the last event it saw when the server ends it).
 *
 * A write is needless when it leaves `data.rev` as it was (the object was written again for the
 * same commit: a re-apply that changed metadata only, a delete and re-create); it is a regression
 * when `data.rev` goes down. A level-triggered agent writes each object once per commit it passes.
 */
export class WriteLog {
  /** Writes seen (ADDED, MODIFIED, DELETED), over all objects. */
  writes = 0;
  readonly needless: string[] = [];
  readonly regressions: string[] = [];
  /** Watches the server expired before they were resumed (events in between may be missing). */
  gaps = 0;
  private readonly rev = new Map<string, number>();
  private lastVersion = '';
  private abort: AbortController | undefined;
  private stopped = false;

  private constructor(
    private readonly kc: KubeConfig,
    private readonly cluster: string,
    private readonly namespace: string,
    private readonly prefix: string,
  ) {}

  /** Starts watching the ConfigMaps of `namespace` named `prefix…` (the namespace may not exist yet). */
  static async start(
    kubeconfig: string,
    cluster: string,
    namespace: string,
    prefix: string,
  ): Promise<WriteLog> {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const log = new WriteLog(kc, cluster, namespace, prefix);
    await log.list();
    await log.watch();
    return log;
  }

  /** Whether the revisions this log saw last are the clusters' (`cluster/name` → revision). */
  agrees(live: Map<string, number>): boolean {
    for (const [key, rev] of live) {
      if (key.startsWith(`${this.cluster}/`) && this.rev.get(key) !== rev) return false;
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async list(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const list = await core.listNamespacedConfigMap({ namespace: this.namespace });
    for (const cm of list.items) this.seen(cm, 'LISTED');
    this.lastVersion = list.metadata?.resourceVersion ?? '';
  }

  private async watch(): Promise<void> {
    const path = `/api/v1/namespaces/${this.namespace}/configmaps`;
    this.abort = await new Watch(this.kc).watch(
      path,
      { resourceVersion: this.lastVersion, allowWatchBookmarks: true },
      (type: string, obj: V1ConfigMap & { code?: number }) => {
        if (type === 'ERROR') {
          // 410 Gone: the version is too old to resume from; list again (a gap).
          if (obj.code === 410) this.lastVersion = '';
          return;
        }
        if (obj.metadata?.resourceVersion) this.lastVersion = obj.metadata.resourceVersion;
        if (type !== 'BOOKMARK') this.seen(obj, type);
      },
      () => {
        // Ended by the server (or an error): resumed after a pause, never in a tight loop.
        if (!this.stopped) setTimeout(() => void this.resume(), 200);
      },
    );
  }

  private async resume(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        if (!this.lastVersion) {
          this.gaps++;
          await this.list();
        }
        await this.watch();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  private seen(cm: V1ConfigMap, type: string): void {
    const name = cm.metadata?.name ?? '';
    if (!name.startsWith(this.prefix)) return;
    const key = `${this.cluster}/${name}`;
    if (type === 'LISTED') {
      this.rev.set(key, Number(cm.data?.rev));
      return;
    }
    this.writes++;
    const before = this.rev.get(key);
    if (type === 'DELETED') {
      this.needless.push(`${key}: deleted at revision ${before}`);
      this.rev.delete(key);
      return;
    }
    const now = Number(cm.data?.rev);
    if (before !== undefined && now === before)
      this.needless.push(`${key}: written again at revision ${now} (${type})`);
    if (before !== undefined && now < before) this.regressions.push(`${key}: ${before} → ${now}`);
    this.rev.set(key, now);
  }
}
