import { z } from 'zod';
import { dns1123Label, dns1123Subdomain, parseOrThrow } from '../common/validation.js';

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
  .regex(/^[A-Za-z0-9._\/-]+$/, 'must be a branch, tag or commit SHA')
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

/**
 * Accepts Axle's JSON and an Argo CD `argoproj.io/v1alpha1` `Application` (destination by cluster
 * name). Argo fields Axle does not support are refused by name, never dropped.
 */
export function parseApplicationInput(body: unknown): CreateApplication {
  if (isArgoApplication(body)) {
    return parseOrThrow(createApplicationSchema, fromArgo(body), 'application');
  }
  return parseOrThrow(createApplicationSchema, body, 'application');
}

function isArgoApplication(b: unknown): b is Record<string, any> {
  return (
    typeof b === 'object' &&
    b !== null &&
    (b as Record<string, unknown>).kind === 'Application' &&
    typeof (b as Record<string, unknown>).apiVersion === 'string' &&
    String((b as Record<string, unknown>).apiVersion).startsWith('argoproj.io/')
  );
}

function fromArgo(b: Record<string, any>): unknown {
  const { apiVersion: _a, kind: _k, metadata, spec, ...rest } = b;
  const {
    source,
    destination,
    syncPolicy: sp,
    project: _project,
    ...specRest
  } = (spec ?? {}) as Record<string, any>;
  const dest = destination && typeof destination === 'object' ? { ...destination } : destination;
  if (dest && typeof dest === 'object' && 'name' in dest) {
    dest.cluster = dest.name;
    delete dest.name;
  }
  return {
    ...rest,
    name: metadata?.name,
    source,
    destination: dest,
    ...(sp !== undefined ? { syncPolicy: sp } : {}),
    ...specRest,
  };
}
