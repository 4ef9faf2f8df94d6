import type { SyncPolicy } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';

/**
 * The application's sync policy as the agent receives it (`Deploy.sync_policy`): stored with each
 * target, so a policy change is a new desired generation like a manifest change.
 */
export function toSyncPolicy(spec: ApplicationSpec): SyncPolicy {
  const sp = spec.syncPolicy;
  const ignore = spec.ignoreDifferences ?? [];
  return {
    automated: sp.automated !== undefined,
    prune: sp.automated?.prune ?? false,
    selfHeal: sp.automated?.selfHeal ?? false,
    ...(sp.syncOptions?.length ? { syncOptions: { items: sp.syncOptions } } : {}),
    ...(sp.retry
      ? {
          retry: {
            limit: sp.retry.limit ?? 0,
            duration: sp.retry.backoff?.duration ?? '',
            factor: sp.retry.backoff?.factor ?? 0,
            maxDuration: sp.retry.backoff?.maxDuration ?? '',
          },
        }
      : {}),
    ...(ignore.length
      ? {
          ignoreDifferences: {
            items: ignore.map((i) => ({
              group: i.group ?? '',
              kind: i.kind,
              name: i.name ?? '',
              namespace: i.namespace ?? '',
              jsonPointers: i.jsonPointers ?? [],
              managedFieldsManagers: i.managedFieldsManagers ?? [],
            })),
          },
        }
      : {}),
  };
}
