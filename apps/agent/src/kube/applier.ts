import { PatchStrategy } from '@kubernetes/client-node';
import {
  aggregateHealth,
  assessHealth,
  type HealthStatus,
} from '../../../../libs/health/src/index.js';
import {
  resourceId,
  resourceKey,
  type KubeObject,
  type ResourceKey,
} from '../../../../libs/manifests/src/index.js';
import { kubeError, type AxleObjectApi } from './object-api.js';

export const APP_LABEL = 'app.axle.io/app-id';
export const TRACKING_ANNOTATION = 'app.axle.io/tracking-id';

export type SyncState = 'Synced' | 'OutOfSync' | 'Unknown';

export interface ResourceResult {
  key: ResourceKey;
  sync: SyncState;
  health: HealthStatus;
  message?: string;
}

export interface ApplyResult {
  sync: SyncState;
  health: HealthStatus;
  message: string;
  resources: ResourceResult[];
  /** Keys of everything now in the cluster for this app (applied or kept for lack of pruning). */
  applied: ResourceKey[];
}

export interface ApplyRequest {
  appId: string;
  objects: KubeObject[];
  namespace: string;
  prune: boolean;
  previous: ResourceKey[];
}

/**
 * Applies an app's objects with server-side apply under one field manager, in the bundle's
 * canonical order (namespaces and CRDs first), creating missing namespaces, and prunes what left
 * the desired state when the policy allows. Each object's failure is reported on its own.
 */
export class Applier {
  constructor(
    private readonly api: AxleObjectApi,
    private readonly fieldManager: string,
  ) {}

  async apply(req: ApplyRequest): Promise<ApplyResult> {
    const resources: ResourceResult[] = [];
    const live: (KubeObject | undefined)[] = [];
    const ensured = new Set<string>();
    const desiredIds = new Set<string>();
    for (const raw of req.objects) {
      let obj: KubeObject = raw;
      try {
        obj = await this.prepare(raw, req);
        desiredIds.add(resourceId(resourceKey(obj)));
        const ns = obj.metadata.namespace;
        if (
          ns &&
          !ensured.has(ns) &&
          !req.objects.some((o) => o.kind === 'Namespace' && o.metadata.name === ns)
        ) {
          await this.ensureNamespace(ns);
          ensured.add(ns);
        }
        const result = await this.api.patch<KubeObject>(
          obj,
          undefined,
          undefined,
          this.fieldManager,
          true,
          PatchStrategy.ServerSideApply,
        );
        const h = assessHealth(result);
        live.push(result);
        resources.push({
          key: resourceKey(obj),
          sync: 'Synced',
          health: h.status,
          message: h.message,
        });
      } catch (e) {
        const err = kubeError(e);
        desiredIds.add(resourceId(resourceKey(obj)));
        live.push(undefined);
        resources.push({
          key: resourceKey(obj),
          sync: 'OutOfSync',
          health: 'Missing',
          message: err.message,
        });
      }
    }
    const leftovers = req.previous.filter((k) => !desiredIds.has(resourceId(k)));
    const kept: ResourceKey[] = [];
    for (const k of leftovers) {
      if (!req.prune) {
        kept.push(k);
        resources.push({
          key: k,
          sync: 'OutOfSync',
          health: 'Healthy',
          message: 'no longer in git; requires pruning',
        });
        continue;
      }
      try {
        await this.delete(k);
      } catch (e) {
        kept.push(k);
        resources.push({
          key: k,
          sync: 'OutOfSync',
          health: 'Unknown',
          message: `prune failed: ${kubeError(e).message}`,
        });
      }
    }
    return summarise(resources, live, [
      ...resources.filter((r) => r.sync === 'Synced').map((r) => r.key),
      ...kept,
    ]);
  }

  /** Reads the live state of what the app applied: health, and whether anything went missing. */
  async assess(req: ApplyRequest): Promise<ApplyResult> {
    const resources: ResourceResult[] = [];
    const live: (KubeObject | undefined)[] = [];
    for (const raw of req.objects) {
      let obj = raw;
      try {
        obj = await this.prepare(raw, req);
        const got = await this.api.read<KubeObject>({
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
        });
        const h = assessHealth(got);
        live.push(got);
        resources.push({
          key: resourceKey(obj),
          sync: 'Synced',
          health: h.status,
          message: h.message,
        });
      } catch (e) {
        const err = kubeError(e);
        live.push(undefined);
        resources.push({
          key: resourceKey(obj),
          sync: err.code === 404 ? 'OutOfSync' : 'Unknown',
          health: err.code === 404 ? 'Missing' : 'Unknown',
          message: err.code === 404 ? 'resource is missing' : err.message,
        });
      }
    }
    return summarise(resources, live, req.previous);
  }

  /** Removes everything an app applied (app deleted or moved off this cluster). */
  async deleteAll(keys: ResourceKey[]): Promise<string[]> {
    const errors: string[] = [];
    // Reverse apply order: workloads before their namespaces.
    for (const k of [...keys].reverse()) {
      try {
        await this.delete(k);
      } catch (e) {
        errors.push(`${k.kind}/${k.name}: ${kubeError(e).message}`);
      }
    }
    return errors;
  }

  private async delete(k: ResourceKey): Promise<void> {
    const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
    try {
      await this.api.delete(
        {
          apiVersion,
          kind: k.kind,
          metadata: { name: k.name, ...(k.namespace ? { namespace: k.namespace } : {}) },
        },
        undefined,
        undefined,
        undefined,
        undefined,
        'Background',
      );
    } catch (e) {
      if (kubeError(e).code !== 404) throw e;
    }
  }

  /** Adds tracking metadata and the default namespace for namespaced kinds that name none. */
  private async prepare(obj: KubeObject, req: ApplyRequest): Promise<KubeObject> {
    const namespaced = await this.api.isNamespaced(obj.apiVersion, obj.kind);
    const metadata = { ...obj.metadata };
    if (namespaced && !metadata.namespace) metadata.namespace = req.namespace;
    if (!namespaced) delete metadata.namespace;
    metadata.labels = { ...(metadata.labels ?? {}), [APP_LABEL]: req.appId };
    const key = resourceKey({ ...obj, metadata });
    metadata.annotations = {
      ...(metadata.annotations ?? {}),
      [TRACKING_ANNOTATION]: `${req.appId}:${key.group}/${key.kind}:${key.namespace}/${key.name}`,
    };
    return { ...obj, metadata };
  }

  private async ensureNamespace(name: string): Promise<void> {
    try {
      await this.api.read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (e) {
      if (kubeError(e).code !== 404) throw e;
      await this.api.patch(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
        undefined,
        undefined,
        this.fieldManager,
        true,
        PatchStrategy.ServerSideApply,
      );
    }
  }
}

function summarise(
  resources: ResourceResult[],
  live: (KubeObject | undefined)[],
  applied: ResourceKey[],
): ApplyResult {
  const failed = resources.filter((r) => r.sync !== 'Synced');
  const sync: SyncState = failed.some((r) => r.sync === 'OutOfSync')
    ? 'OutOfSync'
    : failed.length > 0
      ? 'Unknown'
      : 'Synced';
  const health =
    live.length === 0
      ? { status: 'Healthy' as HealthStatus, message: undefined }
      : aggregateHealth(live);
  const worstFailed = failed[0];
  const message = worstFailed
    ? `${worstFailed.key.kind}/${worstFailed.key.name}: ${worstFailed.message ?? worstFailed.sync}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}`
    : (health.message ?? '');
  return { sync, health: health.status, message, resources, applied };
}
