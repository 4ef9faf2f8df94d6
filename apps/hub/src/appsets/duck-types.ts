import { Inject, Injectable } from '@nestjs/common';
import type { DuckTypeReader, LabelSelector } from '../../../../libs/generators/src/index.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';

const TIMEOUT_MS = 30_000;

interface CustomObjects {
  listNamespacedCustomObject(req: {
    group: string;
    version: string;
    namespace: string;
    plural: string;
    fieldSelector?: string;
    labelSelector?: string;
  }): Promise<unknown>;
}

/** A label selector in the API server's query syntax. */
export function formatSelector(s: LabelSelector | undefined): string {
  const parts = Object.entries(s?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else throw new Error(`labelSelector: unknown operator "${e.operator}"`);
  }
  return parts.join(',');
}

/**
 * Argo CD's duck-typed cluster decisions (e.g. Open Cluster Management's PlacementDecision),
 * read from the hub's own cluster: AXLE_HUB_KUBECONFIG, namespace AXLE_HUB_NAMESPACE. The duck
 * types (Argo: ConfigMaps with apiVersion, kind, statusListKey, matchKey) are AXLE_DUCK_TYPES.
 * Read only: the hub lists resources there and nothing else.
 */
@Injectable()
export class DuckTypes implements DuckTypeReader {
  private api: Promise<CustomObjects> | undefined;

  constructor(@Inject(HUB_CONFIG) private readonly config: HubConfig) {}

  async decisions(
    ref: string,
    select: { name?: string; labelSelector?: LabelSelector },
  ): Promise<{ matchKey: string; decisions: Record<string, unknown>[] }> {
    const type = this.config.duckTypes.find((d) => d.name === ref);
    if (!type) throw new Error(`no duck type "${ref}" is configured (AXLE_DUCK_TYPES)`);
    const slash = type.apiVersion.indexOf('/');
    const group = slash > 0 ? type.apiVersion.slice(0, slash) : '';
    const version = type.apiVersion.slice(slash + 1);
    const api = await this.client();
    const list = api.listNamespacedCustomObject({
      group,
      version,
      namespace: this.config.hubNamespace,
      plural: type.kind,
      ...(select.name
        ? { fieldSelector: `metadata.name=${select.name}` }
        : { labelSelector: formatSelector(select.labelSelector) }),
    });
    let timer: NodeJS.Timeout | undefined;
    const res = (await Promise.race([
      list,
      new Promise((_, fail) => {
        timer = setTimeout(
          () => fail(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)),
          TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer))) as { items?: { status?: Record<string, unknown> }[] };
    const items = res.items ?? [];
    if (items.length === 0)
      throw new Error(`no ${type.kind} found in namespace ${this.config.hubNamespace}`);
    const key = type.statusListKey ?? 'clusters';
    const decisions = items.flatMap((i) => {
      const list = i.status?.[key];
      return Array.isArray(list)
        ? list.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null)
        : [];
    });
    return { matchKey: type.matchKey, decisions };
  }

  private client(): Promise<CustomObjects> {
    const path = this.config.hubKubeconfig;
    if (!path)
      return Promise.reject(
        new Error('the hub reads no cluster: set AXLE_HUB_KUBECONFIG to read cluster decisions'),
      );
    this.api ??= import('@kubernetes/client-node').then((k) => {
      const kc = new k.KubeConfig();
      kc.loadFromFile(path);
      return kc.makeApiClient(k.CustomObjectsApi);
    });
    return this.api;
  }
}
