import type { SyncPolicy } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { encodeSyncPolicy } from '../../../../libs/proto/src/codec.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';

/**
 * The application's sync policy as the agent receives it (`Deploy.sync_policy`): stored with each
 * target, so a policy change is a new desired generation like a manifest change. With
 * `clusterKinds`, the bound its project puts on cluster-scoped kinds (ProjectGate.clusterKinds):
 * a project's change is then a new generation too, which carries it to the agents.
 */
export function toSyncPolicy(
  spec: ApplicationSpec,
  clusterKinds?: { group: string; kind: string }[],
): SyncPolicy {
  const sp = spec.syncPolicy;
  return encodeSyncPolicy({
    ...(clusterKinds ? { clusterKinds } : {}),
    automated: sp.automated !== undefined,
    prune: sp.automated?.prune ?? false,
    selfHeal: sp.automated?.selfHeal ?? false,
    syncOptions: sp.syncOptions,
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
    ignoreDifferences: (spec.ignoreDifferences ?? []).map((i) => ({
      group: i.group ?? '',
      kind: i.kind,
      name: i.name ?? '',
      namespace: i.namespace ?? '',
      jsonPointers: i.jsonPointers ?? [],
      managedFieldsManagers: i.managedFieldsManagers ?? [],
    })),
  });
}

/**
 * What a policy asks of every generation: without `pruneConfirmed`, which a person's sync with
 * prune sets on its own generation only. Comparisons of what runs with what is desired use it, so
 * that a target is not redeployed (a new generation) only to drop the confirmation.
 */
export function standingPolicy(p: SyncPolicy): SyncPolicy {
  const { pruneConfirmed: _, ...rest } = p;
  return rest;
}

type SyncOwner = { spec: ApplicationSpec; autoSyncSuspended: boolean | object | null };

/** Whether new desired state is deployed without a person asking (Argo's `automated`). */
export function syncsAutomatically(app: SyncOwner): boolean {
  return app.spec.syncPolicy.automated !== undefined && !app.autoSyncSuspended;
}

/**
 * Whether reconciling dispatches new desired state at once: automated applications, except those
 * that roll across their clusters in waves or wait for dependencies (the rollout loop dispatches
 * those).
 */
export function dispatchesOnReconcile(app: SyncOwner): boolean {
  return syncsAutomatically(app) && !rolledOut(app.spec);
}

/** Whether the rollout loop dispatches an automated application (waves, or dependencies). */
export function rolledOut(spec: ApplicationSpec): boolean {
  return spec.rollout !== undefined || (spec.dependsOn?.length ?? 0) > 0;
}
