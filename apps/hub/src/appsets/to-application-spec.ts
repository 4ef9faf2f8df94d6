import type { GeneratedApplication } from '../../../../libs/appset/src/index.js';
import {
  applicationSpecSchema,
  type ApplicationSpec,
} from '../applications/application.schemas.js';
import { zodFieldErrors } from '../common/validation.js';

/**
 * Maps a generated, Argo-shaped Application onto what the hub deploys today. Source features the
 * renderer does not have yet (Helm, Kustomize options, plugins) make that one application fail
 * with a message naming the field, rather than deploying something other than what was asked.
 */
export function toApplicationSpec(
  app: GeneratedApplication,
): { spec: ApplicationSpec } | { error: string } {
  const { source, destination, syncPolicy } = app.spec;
  const unsupported = (['chart', 'helm', 'kustomize', 'plugin', 'ref'] as const).filter(
    (k) => source[k] !== undefined,
  );
  if (
    source.directory &&
    (source.directory.include || source.directory.exclude || source.directory.recurse === false)
  ) {
    unsupported.push('directory' as never);
  }
  if (unsupported.length > 0) {
    return { error: unsupported.map((k) => `spec.source.${k}: not supported yet`).join('; ') };
  }
  const r = applicationSpecSchema.safeParse({
    source: {
      repoURL: source.repoURL,
      targetRevision: source.targetRevision || 'HEAD',
      path: source.path ?? '',
    },
    destination: { cluster: destination.name, namespace: destination.namespace },
    syncPolicy:
      syncPolicy?.automated && syncPolicy.automated.enabled !== false
        ? {
            automated: {
              prune: syncPolicy.automated.prune ?? false,
              selfHeal: syncPolicy.automated.selfHeal ?? false,
            },
          }
        : {},
  });
  if (!r.success) {
    return {
      error: zodFieldErrors(r.error)
        .map((f) => `spec.${f.field}: ${f.reason}`)
        .join('; '),
    };
  }
  return { spec: r.data };
}

/** What an ApplicationSet's generators read, for event-driven re-evaluation. */
export function generatorInputs(generators: unknown): { repos: string[]; readsClusters: boolean } {
  const repos = new Set<string>();
  let readsClusters = false;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (o.clusters !== undefined && typeof o.clusters === 'object') readsClusters = true;
    const git = o.git as { repoURL?: unknown } | undefined;
    if (git && typeof git === 'object' && typeof git.repoURL === 'string') {
      repos.add(git.repoURL.includes('{{') ? '*' : git.repoURL);
    }
    Object.values(o).forEach(walk);
  };
  walk(generators);
  return { repos: [...repos].sort(), readsClusters };
}
