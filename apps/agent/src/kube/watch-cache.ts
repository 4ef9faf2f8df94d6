import { Logger } from '@nestjs/common';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import { backoffDelay } from '../../../../libs/workqueue/src/backoff.js';
import { kubeError, NoKindError, type KubeClient } from './kube-client.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchChange {
  type: WatchEventType;
  object: KubeObject;
}

export interface WatchCacheOptions {
  /** Only objects with this label are listed and watched (`app.axle.io/app-id`). */
  labelSelector: string;
  /** Called for every change seen (after the cache was updated). */
  onChange(change: WatchChange): void;
  /** Reconnect backoff. */
  backoff?: { baseMs: number; capMs: number };
  /** Server-side timeout of one watch request (randomised ±20%). */
  watchTimeoutSeconds?: number;
}

/** `apiVersion/kind`. */
export function gvkKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

class GoneError extends Error {}

/**
 * One list+watch of a kind, cluster-wide, filtered by the agent's label: an in-memory copy of
 * every object the agent manages of that kind. Resumes from the last resourceVersion (bookmarks
 * keep it fresh), re-lists on 410 Gone (reporting what changed in between, deletions included)
 * and reconnects with capped backoff.
 */
export class Informer {
  private readonly log: Logger;
  readonly objects = new Map<string, KubeObject>();
  private rv = '';
  private attempt = 0;
  private stopped = false;
  private abort: AbortController | undefined;
  private syncedResolve!: () => void;
  /** Resolves after the first complete list. */
  readonly synced: Promise<void>;
  isSynced = false;
  /** The kind cannot be listed and watched (the cache stays empty; callers read directly). */
  unwatchable = false;
  /** Times the informer listed everything (first list and re-lists after 410 Gone). */
  lists = 0;

  constructor(
    private readonly client: KubeClient,
    readonly apiVersion: string,
    readonly kind: string,
    private readonly opts: WatchCacheOptions,
  ) {
    this.log = new Logger(`Watch ${kind}.${apiVersion}`);
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  /** Cuts a reconnect delay short (e.g. a CRD this kind needs was just established). */
  wake(): void {
    this.attempt = 0;
    this.wakeUp?.();
  }

  private wakeUp: (() => void) | undefined;

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeUp = done;
    });
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(objectKey(namespace, name));
  }

  private async run(): Promise<void> {
    const { baseMs, capMs } = this.opts.backoff ?? { baseMs: 250, capMs: 30_000 };
    while (!this.stopped) {
      try {
        const r = await this.client.resourceFor(this.apiVersion, this.kind);
        if (!r.verbs.includes('list') || !r.verbs.includes('watch')) {
          // e.g. a create-only kind: read object by object instead.
          this.log.debug('not watchable; objects of this kind are read when needed');
          this.unwatchable = true;
          return;
        }
        if (!this.rv) await this.relist();
        const started = Date.now();
        await this.watchOnce();
        // A watch that lasted resets the backoff; one that ends at once counts as a failure.
        if (Date.now() - started > 5_000) this.attempt = 0;
        else await this.sleep(backoffDelay(this.attempt++, baseMs, capMs));
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof GoneError) {
          this.log.debug('resourceVersion too old; listing again');
          this.rv = '';
          continue;
        }
        const delay = backoffDelay(this.attempt++, baseMs, capMs);
        const err = kubeError(e);
        // A kind whose CRD is not there (yet) is normal during a sync: say it quietly.
        this.log[err instanceof NoKindError ? 'debug' : 'warn'](
          `watch failed (${err.message}); retrying in ${delay} ms`,
        );
        if (err.code === 404) this.rv = ''; // e.g. the CRD came back: list again
        await this.sleep(delay);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await this.client.list(this.apiVersion, this.kind, {
      labelSelector: this.opts.labelSelector,
    });
    this.lists++;
    const seen = new Set<string>();
    const changes: WatchChange[] = [];
    for (const o of list.items) {
      const k = objectKey(o.metadata.namespace, o.metadata.name);
      seen.add(k);
      const prev = this.objects.get(k);
      this.objects.set(k, o);
      if (!prev) changes.push({ type: 'ADDED', object: o });
      else if (resourceVersion(prev) !== resourceVersion(o))
        changes.push({ type: 'MODIFIED', object: o });
    }
    for (const [k, o] of this.objects) {
      if (!seen.has(k)) {
        this.objects.delete(k);
        changes.push({ type: 'DELETED', object: o });
      }
    }
    this.rv = list.resourceVersion;
    if (!this.isSynced) {
      this.isSynced = true;
      this.syncedResolve();
    }
    for (const c of changes) this.emit(c);
  }

  private async watchOnce(): Promise<void> {
    const path = await this.client.collectionPath(this.apiVersion, this.kind);
    const base = this.opts.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.round(base * (0.8 + Math.random() * 0.4));
    this.abort = new AbortController();
    let gone = false;
    await this.client
      .stream(
        path,
        {
          watch: 1,
          resourceVersion: this.rv,
          allowWatchBookmarks: true,
          labelSelector: this.opts.labelSelector,
          timeoutSeconds,
        },
        (line) => {
          if (gone) return;
          let ev: { type?: string; object?: KubeObject & { code?: number } };
          try {
            ev = JSON.parse(line) as typeof ev;
          } catch {
            return;
          }
          const obj = ev.object;
          if (!obj) return;
          switch (ev.type ?? '') {
            case 'ADDED':
            case 'MODIFIED':
            case 'DELETED':
              this.apply(ev.type as WatchEventType, {
                ...obj,
                apiVersion: this.apiVersion,
                kind: this.kind,
              });
              break;
            case 'BOOKMARK':
              this.rv = resourceVersion(obj) || this.rv;
              break;
            case 'ERROR':
              if (obj.code === 410) {
                gone = true;
                this.abort?.abort();
              } else {
                this.log.warn(`watch error: ${JSON.stringify(obj).slice(0, 300)}`);
              }
              break;
            default:
              break;
          }
        },
        this.abort.signal,
        (timeoutSeconds + 60) * 1000,
      )
      .catch((e: unknown) => {
        if (!gone && !this.stopped) throw e;
      });
    if (gone) throw new GoneError();
  }

  private apply(type: WatchEventType, obj: KubeObject): void {
    const k = objectKey(obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') this.objects.delete(k);
    else this.objects.set(k, obj);
    if (resourceVersion(obj)) this.rv = resourceVersion(obj);
    this.emit({ type, object: obj });
  }

  private emit(c: WatchChange): void {
    try {
      this.opts.onChange(c);
    } catch (e) {
      this.log.error(`change handler failed: ${String(e)}`);
    }
  }
}

/**
 * The agent's informers, one per kind, shared by every app that manages that kind. Apps say
 * which kinds they use; an informer nobody uses any more is stopped. Every app declares its kinds
 * on every pass: the bookkeeping costs that app's kinds, never a walk over all apps (at 10,000
 * apps one resync round took seconds of the event loop).
 */
export class WatchCache {
  private readonly informers = new Map<string, Informer>();
  /** The kinds each user declared last. */
  private readonly users = new Map<string, Set<string>>();
  /** How many users declared each kind: its informer runs while this is above zero. */
  private readonly refs = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: WatchCacheOptions,
  ) {}

  /** Declares the kinds `user` needs watched (replacing what it declared before). */
  use(user: string, kinds: { apiVersion: string; kind: string }[]): void {
    const wanted = new Map<string, { apiVersion: string; kind: string }>();
    for (const k of kinds) wanted.set(gvkKey(k.apiVersion, k.kind), k);
    const before = this.users.get(user);
    if (before && sameKeys(before, wanted)) return;
    // Kinds it adds start (or share) an informer before those it dropped may stop one.
    for (const [key, k] of wanted) if (!before?.has(key)) this.ref(key, k);
    this.users.set(user, new Set(wanted.keys()));
    if (before) for (const key of before) if (!wanted.has(key)) this.unref(key);
  }

  release(user: string): void {
    const before = this.users.get(user);
    if (!before) return;
    this.users.delete(user);
    for (const key of before) this.unref(key);
  }

  informer(apiVersion: string, kind: string): Informer | undefined {
    return this.informers.get(gvkKey(apiVersion, kind));
  }

  /** Waits (at most `ms`) for the first list of a kind's informer, if it has one. */
  async waitSynced(apiVersion: string, kind: string, ms: number): Promise<void> {
    const inf = this.informers.get(gvkKey(apiVersion, kind));
    if (!inf || inf.isSynced || inf.unwatchable) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([inf.synced, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** The cached object when the kind's informer has synced; `null` when it is not cached. */
  cached(apiVersion: string, kind: string, namespace: string | undefined, name: string) {
    const inf = this.informers.get(gvkKey(apiVersion, kind));
    if (!inf?.isSynced) return null;
    return inf.get(namespace, name);
  }

  get size(): number {
    return this.informers.size;
  }

  all(): Informer[] {
    return [...this.informers.values()];
  }

  /** Wakes the informers of a group (its CRD was just established). */
  wakeGroup(group: string): void {
    for (const inf of this.informers.values()) {
      if (inf.apiVersion.startsWith(`${group}/`)) inf.wake();
    }
  }

  stop(): void {
    for (const inf of this.informers.values()) inf.stop();
    this.informers.clear();
    this.users.clear();
    this.refs.clear();
  }

  /** One more user of a kind: its informer starts with the first. */
  private ref(key: string, k: { apiVersion: string; kind: string }): void {
    const n = this.refs.get(key) ?? 0;
    this.refs.set(key, n + 1);
    if (n > 0) return;
    const inf = new Informer(this.client, k.apiVersion, k.kind, this.opts);
    this.informers.set(key, inf);
    inf.start();
  }

  /** One user fewer: the informer stops with the last. */
  private unref(key: string): void {
    const n = (this.refs.get(key) ?? 0) - 1;
    if (n > 0) {
      this.refs.set(key, n);
      return;
    }
    this.refs.delete(key);
    this.informers.get(key)?.stop();
    this.informers.delete(key);
  }
}

function sameKeys(a: Set<string>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of b.keys()) if (!a.has(k)) return false;
  return true;
}

function resourceVersion(o: KubeObject | undefined): string {
  const rv = o?.metadata?.resourceVersion;
  return typeof rv === 'string' ? rv : '';
}
