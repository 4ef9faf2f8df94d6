import { z } from 'zod';
import {
  dns1123Label,
  dns1123Subdomain,
  parseOrThrow,
  ValidationFailed,
} from '../common/validation.js';

/** A repository path: relative, no `..`, no absolute paths, no NUL. */
export const repoPath = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .refine((p) => !p.includes('\0'), 'must not contain NUL')
  .refine((p) => !p.startsWith('/'), 'must be relative to the repository root')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".." segments')
  .transform((p) =>
    p
      .split('/')
      .filter((s) => s !== '' && s !== '.')
      .join('/'),
  );

export const repoURL = z
  .string()
  .min(1, 'must not be empty')
  .max(2048)
  .refine(
    (u) =>
      /^(https?|file|ssh|git):\/\//.test(u) || /^[\w.-]+@[\w.-]+:/.test(u) || u.startsWith('/'),
    'must be an http(s)://, ssh://, git://, file:// URL, an scp-like address or an absolute path',
  );

const gitRef = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._/-]+$/, 'must be a branch, tag or commit SHA')
  .refine((r) => !r.startsWith('-') && !r.includes('..'), 'must be a branch, tag or commit SHA');

const syncPolicy = z
  .object({
    automated: z
      .object({ prune: z.boolean().default(false), selfHeal: z.boolean().default(false) })
      .strict()
      .optional(),
  })
  .strict();

export const applicationSpecSchema = z
  .object({
    source: z
      .object({ repoURL, targetRevision: gitRef.default('HEAD'), path: repoPath.default('') })
      .strict(),
    destination: z
      .object({
        cluster: dns1123Label.optional(),
        clusters: z.array(dns1123Label).min(1).max(10_000).optional(),
        namespace: dns1123Label,
      })
      .strict()
      .refine((d) => (d.cluster === undefined) !== (d.clusters === undefined), {
        message: 'give exactly one of destination.cluster or destination.clusters',
      }),
    syncPolicy: syncPolicy.default({}),
  })
  .strict();

export const createApplicationSchema = applicationSpecSchema
  .extend({ name: dns1123Subdomain })
  .strict();

export type ApplicationSpec = z.output<typeof applicationSpecSchema>;
export type CreateApplication = z.output<typeof createApplicationSchema>;

export function destinationClusters(spec: ApplicationSpec): string[] {
  return spec.destination.clusters ?? (spec.destination.cluster ? [spec.destination.cluster] : []);
}

const argoApplicationSchema = z
  .object({
    apiVersion: z.string().regex(/^argoproj\.io\/v1alpha1$/, 'must be argoproj.io/v1alpha1'),
    kind: z.literal('Application'),
    metadata: z
      .object({
        name: dns1123Subdomain,
        namespace: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
        finalizers: z.array(z.string()).optional(),
      })
      .strict(),
    spec: z
      .object({
        project: z.string().optional(),
        source: z.unknown(),
        destination: z
          .object({
            name: dns1123Label,
            namespace: dns1123Label,
            server: z
              .never({ error: 'not supported: Axle addresses clusters by name (destination.name)' })
              .optional(),
          })
          .strict(),
        syncPolicy: z.unknown().optional(),
      })
      .strict(),
  })
  .strict();

/**
 * Accepts Axle's JSON and an Argo CD `argoproj.io/v1alpha1` `Application` (destination by cluster
 * name). Argo fields Axle does not support are refused by name, never dropped.
 */
export function parseApplicationInput(body: unknown): CreateApplication {
  if (!isArgoApplication(body)) return parseOrThrow(createApplicationSchema, body, 'application');
  const argo = parseOrThrow(argoApplicationSchema, body, 'Argo CD Application');
  try {
    return parseOrThrow(
      createApplicationSchema,
      {
        name: argo.metadata.name,
        source: argo.spec.source,
        destination: {
          cluster: argo.spec.destination.name,
          namespace: argo.spec.destination.namespace,
        },
        ...(argo.spec.syncPolicy !== undefined ? { syncPolicy: argo.spec.syncPolicy } : {}),
      },
      'Argo CD Application',
    );
  } catch (e) {
    // Name the fields as they are written in the Argo document.
    if (e instanceof ValidationFailed) {
      throw new ValidationFailed(
        'invalid Argo CD Application',
        e.fields.map((f) => ({
          ...f,
          field: f.field === 'name' ? 'metadata.name' : `spec.${f.field}`,
        })),
      );
    }
    throw e;
  }
}

function isArgoApplication(b: unknown): boolean {
  if (typeof b !== 'object' || b === null) return false;
  const { kind, apiVersion } = b as Record<string, unknown>;
  return (
    kind === 'Application' &&
    typeof apiVersion === 'string' &&
    apiVersion.startsWith('argoproj.io/')
  );
}
