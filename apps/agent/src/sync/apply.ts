import {
  fieldSetOfObject,
  fieldsOwnedBy,
  getAtPointer,
  ignoreFor,
  setAtPointer,
} from '../../../../libs/diff/src/index.js';
import type { KubeObject, ResourceKey } from '../../../../libs/manifests/src/index.js';
import { mapLimit } from '../../../../libs/workqueue/src/index.js';
import { apiVersionOf, kubeError, NoKindError, type KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import type { PlanItem } from './plan.js';
import { clusterKindRefusal } from '../allow-list.js';
import { keyRef, prepareObject, type Prepared } from './resources.js';
import type { AppRuntime, Snapshot } from './runtime.js';
import type { AppInput, ApplyFailure, EngineOptions } from './types.js';

const CRD_GROUP = 'apiextensions.k8s.io';

/** How long a namespace seen to exist is taken to exist without asking again. */
const NAMESPACE_SEEN_MS = 60_000;

/**
 * Preparing, reading and applying objects: server-side apply (or replace) with the agent's field
 * manager, namespaces first and CRDs waited on until Established, independent objects of a wave
 * applied concurrently; every apply's result kept as the app's snapshot of that object.
 */
export class Applier {
  /** Namespaces seen to exist, and when (see ensureNamespaces). */
  private readonly namespacesSeen = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly watches: WatchCache,
    private readonly opts: EngineOptions,
  ) {}

  /** The prepared object, or the error that prevents preparing it (a kind not served yet). */
  async prepare(rt: AppRuntime, app: AppInput, item: PlanItem): Promise<Prepared | Error> {
    const cached = rt.prepared.get(item);
    if (cached) return cached;
    try {
      const p = await prepareObject(
        this.client,
        item.raw,
        app.appId,
        app.namespace,
        this.opts.agentName,
      );
      // Cluster-scoped, and not allowed to be: never applied (nor pruned: it is not resolved).
      const refused = p.key.namespace
        ? undefined
        : clusterKindRefusal(this.opts.allowList, app.policy.clusterKinds, p.key);
      if (refused) return new Error(refused);
      rt.prepared.set(item, p);
      return p;
    } catch (e) {
      return kubeError(e);
    }
  }

  /** Whether a kind is namespaced, by discovery; undefined when that cannot be told now. */
  async namespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    try {
      return await this.client.isNamespaced(apiVersion, kind);
    } catch {
      return undefined;
    }
  }

  /** The live object: from the watch cache when it has it, else from the API server. */
  async live(key: ResourceKey): Promise<KubeObject | undefined> {
    const apiVersion = apiVersionOf(key);
    // A kind just added is listed once instead of read object by object.
    await this.watches.waitSynced(apiVersion, key.kind, 2_000);
    const cached = this.watches.cached(apiVersion, key.kind, key.namespace || undefined, key.name);
    if (cached) return cached;
    // Not synced yet, or absent from the cache (deleted, or its label was removed): ask.
    return this.client.getOrUndefined(apiVersion, key.kind, key.name, key.namespace || undefined);
  }

  /**
   * The newer of the cached object and the last apply response: right after an apply the watch
   * cache may still hold the object as it was before, which must not look like drift.
   */
  async freshest(rt: AppRuntime, p: Prepared): Promise<KubeObject | undefined> {
    const live = await this.live(p.key);
    const snap = rt.snapshots.get(p.id);
    if (!live || !snap || snap.dryRun) return live;
    return rvNumber(snap.expected) > rvNumber(live) ? snap.expected : live;
  }

  private snapshot(rt: AppRuntime, p: Prepared, result: KubeObject, dryRun: boolean): Snapshot {
    const owned =
      fieldsOwnedBy(result, [this.opts.fieldManager], p.obj.apiVersion) ??
      withoutStatus(fieldSetOfObject(p.obj));
    const snap = { hash: p.hash, expected: result, owned, dryRun, seq: ++rt.snapshotSeq };
    rt.snapshots.set(p.id, snap);
    return snap;
  }

  /** A dry-run apply: what the object would look like with the desired state applied. */
  async dryRunSnapshot(rt: AppRuntime, p: Prepared, validate?: boolean): Promise<Snapshot> {
    const result = await this.client.apply(p.obj, this.opts.fieldManager, {
      dryRun: true,
      validate,
    });
    return this.snapshot(rt, p, result, true);
  }

  /**
   * Applies prepared objects: namespaces first, then CRDs (each waited on until Established),
   * then everything else concurrently. Returns the failures; successes update the snapshots.
   */
  async applyObjects(
    rt: AppRuntime,
    app: AppInput,
    items: { p: Prepared; item: PlanItem }[],
  ): Promise<ApplyFailure[]> {
    const failures: ApplyFailure[] = [];
    const nsErr = await this.ensureNamespaces(
      app,
      items.map((i) => i.p),
    );
    const groups = [
      items.filter((i) => i.p.key.kind === 'Namespace' && i.p.key.group === ''),
      items.filter(
        (i) => i.p.key.kind === 'CustomResourceDefinition' && i.p.key.group === CRD_GROUP,
      ),
    ];
    groups.push(items.filter((i) => !groups[0].includes(i) && !groups[1].includes(i)));
    for (const group of groups) {
      await mapLimit(group, this.opts.applyConcurrency, async ({ p, item }) => {
        try {
          const ns = p.key.namespace;
          if (ns && nsErr.has(ns)) throw new Error(nsErr.get(ns));
          const replace = item.options.replace ?? app.options.replace;
          const body = app.options.respectIgnoreDifferences
            ? await this.withIgnoredLiveValues(app, p)
            : p.obj;
          const result = await this.applyOne(body, replace, app.options.validate);
          this.snapshot(rt, p, result, false);
          rt.applyErrors.delete(p.id);
          if (p.key.kind === 'CustomResourceDefinition' && p.key.group === CRD_GROUP) {
            await this.waitEstablished(result);
          }
        } catch (e) {
          const message = kubeError(e).message;
          // The namespace may be gone (or going): look again next time.
          this.namespacesSeen.clear();
          rt.applyErrors.set(p.id, message);
          failures.push({ ref: keyRef(p.key), id: p.id, message });
        }
      });
    }
    return failures;
  }

  /** SSA (or replace), retrying a kind the cluster does not serve yet (its CRD is coming). */
  async applyOne(obj: KubeObject, replace: boolean, validate: boolean): Promise<KubeObject> {
    const deadline = Date.now() + (this.opts.noKindWaitMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return replace
          ? await this.client.replace(obj, this.opts.fieldManager, validate)
          : await this.client.apply(obj, this.opts.fieldManager, { validate });
      } catch (e) {
        if (!(e instanceof NoKindError) || Date.now() > deadline) throw e;
        this.client.invalidate(obj.apiVersion);
        await sleep(Math.min(1000, 100 * 2 ** attempt));
      }
    }
  }

  /** RespectIgnoreDifferences: ignored fields keep their live values instead of git's. */
  private async withIgnoredLiveValues(app: AppInput, p: Prepared): Promise<KubeObject> {
    const ignore = ignoreFor(app.policy.ignoreDifferences ?? [], p.key);
    if (ignore.pointers.length === 0) return p.obj;
    const live = await this.live(p.key);
    if (!live) return p.obj;
    const obj = structuredClone(p.obj);
    for (const ptr of ignore.pointers) {
      try {
        setAtPointer(obj, ptr, structuredClone(getAtPointer(live, ptr)));
      } catch {
        // malformed pointer: nothing to keep
      }
    }
    return obj;
  }

  private async waitEstablished(crd: KubeObject): Promise<void> {
    const deadline = Date.now() + (this.opts.crdWaitMs ?? 30_000);
    let obj = crd;
    for (;;) {
      const conds = (obj as { status?: { conditions?: { type: string; status: string }[] } }).status
        ?.conditions;
      if (conds?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) {
        throw new Error(`CustomResourceDefinition ${crd.metadata.name} is not Established`);
      }
      await sleep(100);
      obj = await this.client.get(crd.apiVersion, crd.kind, crd.metadata.name);
    }
    const spec = (obj as { spec?: { group?: string; versions?: { name: string }[] } }).spec;
    const group = spec?.group;
    if (!group) return;
    for (const v of spec?.versions ?? []) this.client.invalidate(`${group}/${v.name}`);
    this.watches.wakeGroup(group);
  }

  /**
   * Creates the namespaces objects live in (unless CreateNamespace=false); errors by name. A
   * namespace seen to exist is not asked about again for NAMESPACE_SEEN_MS (every sync of every
   * app would otherwise cost a GET); a failed apply forgets them all.
   */
  async ensureNamespaces(app: AppInput, ps: Prepared[]): Promise<Map<string, string>> {
    const errors = new Map<string, string>();
    if (!app.options.createNamespace) return errors;
    const declared = new Set(ps.filter((p) => p.key.kind === 'Namespace').map((p) => p.key.name));
    const needed = new Set(ps.map((p) => p.key.namespace).filter((ns) => ns && !declared.has(ns)));
    const now = Date.now();
    for (const ns of needed) {
      try {
        if (now - (this.namespacesSeen.get(ns) ?? 0) < NAMESPACE_SEEN_MS) continue;
        const live = this.watches.cached('v1', 'Namespace', undefined, ns);
        if (!live && !(await this.client.getOrUndefined('v1', 'Namespace', ns))) {
          await this.client.apply(
            { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
            this.opts.fieldManager,
          );
        }
        this.namespacesSeen.set(ns, now);
        if (this.namespacesSeen.size > 10_000)
          this.namespacesSeen.delete(this.namespacesSeen.keys().next().value!);
      } catch (e) {
        errors.set(ns, `namespace ${ns}: ${kubeError(e).message}`);
      }
    }
    return errors;
  }

  /**
   * Applies, preparing first what could not be prepared before (kinds from a CRD applied in the
   * same step). Adds failures to `failures`; returns what was applied.
   */
  async applyResolving(
    rt: AppRuntime,
    app: AppInput,
    items: { p: Prepared; item: PlanItem }[],
    failures: ApplyFailure[],
  ): Promise<Prepared[]> {
    const ready = items.filter((i) => i.p.id !== '');
    const pending = items.filter((i) => i.p.id === '');
    failures.push(...(await this.applyObjects(rt, app, ready)));
    const resolved: { p: Prepared; item: PlanItem }[] = [];
    const deadline = Date.now() + (this.opts.noKindWaitMs ?? 15_000);
    for (const { item } of pending) {
      for (let attempt = 0; ; attempt++) {
        const p = await this.prepare(rt, app, item);
        if (!(p instanceof Error)) {
          resolved.push({ p, item });
          break;
        }
        if (!(p instanceof NoKindError) || Date.now() > deadline) {
          failures.push({ ref: refOf(item), id: '', message: p.message });
          break;
        }
        this.client.invalidate(item.raw.apiVersion);
        await sleep(Math.min(1000, 100 * 2 ** attempt));
      }
    }
    failures.push(...(await this.applyObjects(rt, app, resolved)));
    return [...ready, ...resolved].map((i) => i.p).filter((p) => !rt.applyErrors.has(p.id));
  }
}

export function refOf(item: PlanItem): string {
  return `${item.raw.kind}/${item.raw.metadata.name}`;
}

/** A placeholder for an object whose kind is not served yet (resolved at apply time). */
export function unresolved(item: PlanItem, app: AppInput): Prepared {
  return {
    obj: item.raw,
    key: {
      group: '',
      version: '',
      kind: item.raw.kind,
      namespace: app.namespace,
      name: item.raw.metadata.name,
    },
    id: '',
    hash: '',
  };
}

function withoutStatus<T extends Record<string, unknown>>(fs: T): T {
  const { ['f:status']: _status, ...rest } = fs;
  return rest as T;
}

function rvNumber(o: KubeObject): number {
  const n = Number(o.metadata.resourceVersion);
  return Number.isFinite(n) ? n : 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
