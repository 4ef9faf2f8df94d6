import { IN_CLUSTER_NAME, isInClusterServer } from '../clusters/in-cluster.js';
import { z } from 'zod';
import { HEALTH_STATES, SYNC_STATES } from '../../../../libs/proto/src/codec.js';
import {
  countOf,
  dns1123Label,
  dns1123Subdomain,
  type FieldError,
  labelMap,
  labelSelectorParam,
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
  )
  .refine(
    (u) => !/^https?:\/\/[^/]*@/i.test(u),
    'must not contain credentials (user@ or user:password@); add repository credentials instead',
  );

const gitRef = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._/-]+$/, 'must be a branch, tag or commit SHA')
  .refine((r) => !r.startsWith('-') && !r.includes('..'), 'must be a branch, tag or commit SHA');

const stringMap = z.record(z.string().max(317), z.string().max(4096));

/** Options of the source tools, in Argo CD's shapes (Argo Applications carry them unchanged). */
const directoryOptions = z
  .object({
    recurse: z.boolean().optional(),
    include: z.string().max(1024).optional(),
    exclude: z.string().max(1024).optional(),
  })
  .strict();

const kustomizeOptions = z
  .object({
    namePrefix: z.string().max(253).optional(),
    nameSuffix: z.string().max(253).optional(),
    images: z.array(z.string().max(1024)).max(100).optional(),
    commonLabels: stringMap.optional(),
    forceCommonLabels: z.boolean().optional(),
    commonAnnotations: stringMap.optional(),
    forceCommonAnnotations: z.boolean().optional(),
    namespace: dns1123Label.optional(),
  })
  .strict();

const helmOptions = z
  .object({
    releaseName: z.string().max(53).optional(),
    namespace: dns1123Label.optional(),
    values: z
      .string()
      .max(1024 * 1024)
      .optional(),
    valuesObject: z.record(z.string(), z.unknown()).optional(),
    /**
     * Relative to the chart (`..` may reach the rest of the repository), or from the repository's
     * root with a leading `/`, as in Argo CD. The renderer refuses what leads outside it.
     */
    valueFiles: z
      .array(
        z
          .string()
          .min(1)
          .max(1024)
          .refine((p) => !p.includes('\0'), 'must not contain NUL'),
      )
      .max(50)
      .optional(),
    parameters: z
      .array(
        z
          .object({
            name: z.string().min(1).max(1024),
            value: z.string().max(64 * 1024),
            forceString: z.boolean().optional(),
          })
          .strict(),
      )
      .max(1000)
      .optional(),
    ignoreMissingValueFiles: z.boolean().optional(),
    skipCrds: z.boolean().optional(),
    skipTests: z.boolean().optional(),
    skipSchemaValidation: z.boolean().optional(),
    /** The Kubernetes version Helm renders for (`--kube-version`), as Argo CD's. */
    kubeVersion: z
      .string()
      .max(64)
      .regex(/^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.-]+)?$/, 'must be a version like 1.30 or v1.30.2')
      .optional(),
    /** API versions Helm's `.Capabilities.APIVersions` has besides the built-in ones (`--api-versions`). */
    apiVersions: z
      .array(
        z
          .string()
          .min(1)
          .max(253)
          .regex(/^[A-Za-z0-9.\-/]+$/, 'must be an API version like monitoring.coreos.com/v1'),
      )
      .max(500)
      .optional(),
  })
  .strict();

const pluginOptions = z
  .object({
    name: z.string().min(1).max(253),
    env: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
            value: z.string().max(64 * 1024),
          })
          .strict(),
      )
      .max(100)
      .optional(),
    /** By name (Axle's shape), or Argo CD's list of a `string`, an `array` or a `map` each. */
    parameters: z
      .union([
        z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/), z.string().max(64 * 1024)),
        z
          .array(
            z
              .object({
                name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a parameter name'),
                string: z
                  .string()
                  .max(64 * 1024)
                  .optional(),
                array: z
                  .array(z.string().max(64 * 1024))
                  .max(1000)
                  .optional(),
                map: z.record(z.string().max(253), z.string().max(64 * 1024)).optional(),
              })
              .strict()
              .refine(
                (p) => [p.string, p.array, p.map].filter((v) => v !== undefined).length === 1,
                'give exactly one of string, array, map',
              ),
          )
          .max(100),
      ])
      .optional(),
  })
  .strict();

/** A chart version or a semver range (`1.2.3`, `^1.2`, `>=1.0.0 <2.0.0`, `1.2.*`), as Helm takes it. */
const CHART_VERSION = /^[0-9A-Za-z.*^~<>=!|, +-]+$/;

const source = z
  .object({
    repoURL,
    // A branch, tag or commit; for a chart, its version or a range (checked below).
    targetRevision: z.string().min(1).max(255).default('HEAD'),
    path: repoPath.default(''),
    /** A chart in a Helm repository (repoURL); targetRevision is then the chart version. */
    chart: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/, 'must be a chart name')
      .max(253)
      .optional(),
    directory: directoryOptions.optional(),
    kustomize: kustomizeOptions.optional(),
    helm: helmOptions.optional(),
    plugin: pluginOptions.optional(),
  })
  .strict()
  .refine((s) => [s.directory, s.kustomize, s.helm, s.plugin].filter(Boolean).length <= 1, {
    message: 'give at most one of directory, kustomize, helm, plugin',
  })
  .superRefine((s, ctx) => {
    const r = s.targetRevision;
    const ok = s.chart
      ? CHART_VERSION.test(r) && r.trim() !== '' && !r.startsWith('-')
      : gitRef.safeParse(r).success;
    if (!ok) {
      ctx.addIssue({
        code: 'custom',
        path: ['targetRevision'],
        message: s.chart
          ? 'must be a chart version or a version range (1.2.3, ^1.2, >=1.0.0 <2.0.0)'
          : 'must be a branch, tag or commit SHA',
      });
    }
  });

/** A Go duration; a number alone is seconds, as Argo CD reads retry durations. */
const duration = z
  .string()
  .regex(
    /^((\d+(\.\d+)?(ms|s|m|h))+|\d+)$/,
    'must be a duration like 5s, 2m or 1h (a number alone is seconds)',
  )
  .transform((d) => (/^\d+$/.test(d) ? `${d}s` : d));

const syncPolicy = z
  .object({
    automated: z
      .object({
        prune: z.boolean().default(false),
        selfHeal: z.boolean().default(false),
        /** Argo CD's: `false` turns automated sync off (as leaving `automated` out does). */
        enabled: z.boolean().optional(),
        /**
         * Argo CD's: lets an automated sync prune everything when the source renders nothing.
         * Kept and shown; the agent holds such a prune until a person confirms it either way.
         */
        allowEmpty: z.boolean().optional(),
      })
      .strict()
      .transform(({ enabled, ...a }) => (enabled === false ? undefined : a))
      .optional(),
    syncOptions: z
      .array(
        z
          .string()
          .regex(
            /^[A-Za-z]+=[A-Za-z0-9-]+$/,
            'must look like Name=value, e.g. CreateNamespace=true',
          ),
      )
      .max(50)
      .optional(),
    retry: z
      .object({
        limit: z.number().int().min(-1).max(1000).optional(),
        backoff: z
          .object({
            duration: duration.optional(),
            factor: z.number().int().min(1).max(100).optional(),
            maxDuration: duration.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const ignoreDifference = z
  .object({
    group: z.string().max(253).optional(),
    kind: z.string().min(1).max(253),
    name: z.string().max(253).optional(),
    namespace: z.string().max(63).optional(),
    jsonPointers: z
      .array(z.string().regex(/^(\/[^/]*)+$/, 'must be a JSON pointer like /spec/replicas'))
      .max(100)
      .optional(),
    managedFieldsManagers: z.array(z.string().min(1).max(128)).max(20).optional(),
  })
  .strict();

/** Axle: an application rolls across its clusters in waves (see ADR 0015). */
const rolloutSchema = z
  .object({
    waves: z
      .array(
        z
          .object({
            /** The clusters of this wave (the first wave that selects a cluster takes it). */
            clusterSelector: z.object({ matchLabels: z.record(z.string(), z.string()) }).strict(),
            /** Clusters of the wave updating at once: a count or a percentage (default 100%). */
            maxUnavailable: z
              .union([
                z.number().int().min(1),
                z
                  .string()
                  .regex(/^0*[1-9]\d*%$/, 'must be a number or a percentage like 25% (not 0%)'),
              ])
              .optional(),
            /** After the wave is Healthy, wait this long before the next one. */
            soakSeconds: z.number().int().min(0).max(604_800).optional(),
            /** manual: the wave starts only after `axle rollout promote`. */
            promote: z.enum(['auto', 'manual']).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(50),
    onFailure: z.enum(['pause', 'rollback']).optional(),
    progressDeadlineSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .strict();

/** An application this one waits for (see DependenciesService). */
const dependencySchema = z
  .object({
    application: dns1123Subdomain,
    /** Where the dependency must be ready: a cluster name, or clusters by label. */
    cluster: z
      .union([dns1123Label, z.object({ matchLabels: z.record(z.string(), z.string()) }).strict()])
      .optional(),
    /** What ready means; only Healthy for now (and Synced at its current desired bundle). */
    health: z.literal('Healthy').optional(),
  })
  .strict();

export const applicationSpecSchema = z
  .object({
    /** The project that bounds what this application may use (default: everything). */
    project: dns1123Label.default('default'),
    source,
    destination: z
      .object({
        cluster: dns1123Label.optional(),
        clusters: z.array(dns1123Label).min(1).max(10_000).optional(),
        /**
         * Where namespaced resources that name no namespace go. Optional, as in Argo CD: without
         * it they go to `default`, as `kubectl apply` would put them (see targetNamespace).
         */
        namespace: dns1123Label.optional(),
      })
      .strict()
      .refine((d) => (d.cluster === undefined) !== (d.clusters === undefined), {
        message: 'give exactly one of destination.cluster or destination.clusters',
      }),
    syncPolicy: syncPolicy.default({}),
    ignoreDifferences: z.array(ignoreDifference).max(100).optional(),
    /** How many dispatched desired states are kept (history and rollback); Argo's default 10. */
    revisionHistoryLimit: z.number().int().min(1).max(1000).optional(),
    /** Roll a new desired state across the destination clusters in waves (automated apps). */
    rollout: rolloutSchema.optional(),
    /** Applications that must be Synced and Healthy at their desired bundle before this syncs. */
    dependsOn: z.array(dependencySchema).max(50).optional(),
  })
  .strict();

export const createApplicationSchema = applicationSpecSchema
  .extend({
    name: dns1123Subdomain,
    /** Kubernetes labels (Argo CD's metadata.labels): `GET /applications?selector=` selects on them. */
    labels: labelMap.optional(),
  })
  .strict();

export type ApplicationSpec = z.output<typeof applicationSpecSchema>;
export type CreateApplication = z.output<typeof createApplicationSchema>;

/** Where an application without a destination namespace puts namespaced resources naming none. */
export const DEFAULT_NAMESPACE = 'default';

/**
 * The namespace an application's namespaced resources that name none are applied in: its
 * destination namespace, or `default` when it gives none (Argo CD leaves that to the cluster's
 * kubeconfig, whose namespace is `default` unless set). Projects check this namespace, Helm renders
 * with it, and the agent applies into it: what is checked is where things land.
 */
export function targetNamespace(spec: Pick<ApplicationSpec, 'destination'>): string {
  return spec.destination.namespace ?? DEFAULT_NAMESPACE;
}

export function destinationClusters(spec: ApplicationSpec): string[] {
  return spec.destination.clusters ?? (spec.destination.cluster ? [spec.destination.cluster] : []);
}

const SERVER_MANAGED = Object.fromEntries(
  [
    'uid',
    'resourceVersion',
    'generation',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
    'managedFields',
    'selfLink',
    'ownerReferences',
    'generateName',
  ].map((k) => [k, z.unknown().optional()]),
);

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
        // Written by the API server (a document exported with `kubectl get -o yaml`): ignored.
        ...SERVER_MANAGED,
      })
      .strict(),
    spec: z
      .object({
        project: z.string().optional(),
        source: z.unknown(),
        destination: z
          .object({
            name: dns1123Label.optional(),
            // Optional, as in Argo CD; "" (as Argo CD writes it back) is the same as none.
            namespace: z.union([dns1123Label, z.literal('')]).optional(),
            // Resolved to the registered cluster with that server (Argo CD's local cluster:
            // in-cluster, see AXLE_IN_CLUSTER).
            server: z.string().min(1).max(2048).optional(),
          })
          .strict()
          .refine((d) => d.name !== undefined || d.server !== undefined, {
            message: 'is required (or destination.server)',
            path: ['name'],
          })
          .refine((d) => d.name === undefined || d.server === undefined, {
            message: "can't have both name and server defined",
            path: ['server'],
          }),
        syncPolicy: z.unknown().optional(),
        ignoreDifferences: z.unknown().optional(),
        revisionHistoryLimit: z.unknown().optional(),
      })
      .strict(),
    /** What Argo CD reported (an exported document): Axle keeps its own status. Ignored. */
    status: z.unknown().optional(),
    /** A sync Argo CD was running when the document was exported. Ignored. */
    operation: z.unknown().optional(),
  })
  .strict();

/**
 * Argo CD Application fields Axle does not support, by their path under `spec` (`[]` for any
 * index), with why: refused with that reason rather than as an unknown field (a typo).
 */
const UNSUPPORTED_ARGO_FIELDS: Readonly<Record<string, string>> = {
  sources: 'multi-source Applications are not supported by Axle (use a single source)',
  sourceHydrator: 'source hydration is not supported by Axle',
  info: 'not supported by Axle',
  'source.ref': 'multi-source references are not supported by Axle',
  'source.name': 'multi-source names are not supported by Axle',
  'source.directory.jsonnet': 'jsonnet rendering is not supported by Axle',
  'source.helm.fileParameters': 'not supported by Axle (use valueFiles or values)',
  'source.helm.passCredentials': 'not supported by Axle',
  'source.helm.version': 'not supported by Axle (Helm 3 only)',
  'source.helm.valuesFiles': 'not a field: did you mean valueFiles?',
  'source.kustomize.patches': 'not supported by Axle (put the patches in the kustomization in git)',
  'source.kustomize.replicas': 'not supported by Axle (put replicas in the kustomization in git)',
  'source.kustomize.components':
    'not supported by Axle (put components in the kustomization in git)',
  'source.kustomize.version': 'not supported by Axle (one kustomize binary)',
  'source.kustomize.kubeVersion': 'not supported by Axle',
  'source.kustomize.apiVersions': 'not supported by Axle',
  'source.kustomize.labelWithoutSelector': 'not supported by Axle',
  'source.kustomize.labelIncludeTemplates': 'not supported by Axle',
  'source.kustomize.commonAnnotationsEnvsubst': 'not supported by Axle',
  'source.kustomize.ignoreMissingComponents': 'not supported by Axle',
  'syncPolicy.managedNamespaceMetadata': 'not supported by Axle',
  'syncPolicy.retry.refresh': 'not supported by Axle',
  'ignoreDifferences[].jqPathExpressions': 'not supported by Axle (use jsonPointers)',
};

/** A field refused as unknown that is an Argo CD field Axle does not support, said so. */
export function explainUnsupported(f: FieldError): FieldError {
  if (f.reason !== 'unknown field') return f;
  const path = f.field.replace(/^spec\./, '').replace(/\[\d+\]/g, '[]');
  const why = UNSUPPORTED_ARGO_FIELDS[path];
  return why ? { ...f, reason: why } : f;
}

/**
 * Accepts Axle's JSON and an Argo CD `argoproj.io/v1alpha1` `Application` (destination by cluster
 * name). Argo fields Axle does not support are refused by name, with why, never dropped.
 */
export function parseApplicationInput(
  body: unknown,
  servers: ReadonlyMap<string, readonly string[]> = new Map(),
): CreateApplication {
  try {
    return parseInput(body, servers);
  } catch (e) {
    if (!(e instanceof ValidationFailed)) throw e;
    const fields = e.fields.map(explainUnsupported);
    if (fields.every((f, i) => f === e.fields[i])) throw e;
    throw new ValidationFailed(e.summary, fields);
  }
}

function parseInput(
  body: unknown,
  servers: ReadonlyMap<string, readonly string[]>,
): CreateApplication {
  const kind = otherKind(body);
  if (kind !== undefined) {
    throw new ValidationFailed('not an application', [
      {
        field: 'kind',
        reason: `${kind} is not an Application: applications are Axle's JSON or Argo CD's kind Application${KIND_HINTS[kind] ?? ''}`,
      },
    ]);
  }
  if (!isArgoApplication(body)) {
    const view = asView(body);
    if (!view) return parseOrThrow(createApplicationSchema, body, 'application');
    try {
      return parseOrThrow(createApplicationSchema, view, 'application');
    } catch (e) {
      // Name the fields as they are written in the document.
      if (!(e instanceof ValidationFailed)) throw e;
      throw new ValidationFailed(
        'invalid application',
        e.fields.map((f) =>
          countOf(f) > 1 || !Object.hasOwn(specOf(body), f.field.split(/[.[]/)[0])
            ? f
            : { ...f, field: `spec.${f.field}` },
        ),
      );
    }
  }
  const argo = parseOrThrow(argoApplicationSchema, body, 'Argo CD Application');
  const { name, server } = argo.spec.destination;
  const cluster = name ?? clusterWithServer(server!, servers);
  try {
    return parseOrThrow(
      createApplicationSchema,
      {
        name: argo.metadata.name,
        ...(argo.metadata.labels !== undefined ? { labels: argo.metadata.labels } : {}),
        ...(argo.spec.project !== undefined ? { project: argo.spec.project } : {}),
        source: argo.spec.source,
        destination: { cluster, namespace: argo.spec.destination.namespace || undefined },
        ...(argo.spec.syncPolicy !== undefined ? { syncPolicy: argo.spec.syncPolicy } : {}),
        ...(argo.spec.ignoreDifferences !== undefined
          ? { ignoreDifferences: argo.spec.ignoreDifferences }
          : {}),
        ...(argo.spec.revisionHistoryLimit !== undefined
          ? { revisionHistoryLimit: argo.spec.revisionHistoryLimit }
          : {}),
      },
      'Argo CD Application',
    );
  } catch (e) {
    // Name the fields as they are written in the Argo document.
    throw e instanceof ValidationFailed
      ? written(new ValidationFailed('invalid Argo CD Application', e.fields), true)
      : e;
  }
}

/**
 * The body of `PUT /applications/{name}`: a spec, or a whole application as `create` takes it
 * (Axle JSON with its name, or an Argo CD Application), whose name must be the URL's.
 */
export function parseApplicationUpdate(
  name: string,
  body: unknown,
  servers: ReadonlyMap<string, readonly string[]> = new Map(),
): { spec: ApplicationSpec; labels?: Record<string, string> } {
  const whole =
    isArgoApplication(body) || (typeof body === 'object' && body !== null && 'name' in body);
  if (!whole) return { spec: parseOrThrow(applicationSpecSchema, body, 'application spec') };
  const { name: given, labels, ...spec } = parseApplicationInput(body, servers);
  if (given !== name) {
    throw new ValidationFailed('invalid application', [
      {
        field: isArgoApplication(body) ? 'metadata.name' : 'name',
        reason: `"${given}" does not match the application being updated ("${name}")`,
      },
    ]);
  }
  // A whole application replaces the labels too (none given: none); a spec alone keeps them.
  return { spec, labels: labels ?? {} };
}

/**
 * The destination server of an Argo CD Application that names its cluster by server (other than
 * Argo CD's local cluster): the caller looks up the clusters registered with it.
 */
export function argoDestinationServer(body: unknown): string | undefined {
  if (!isArgoApplication(body)) return undefined;
  const spec = (body as { spec?: { destination?: { server?: unknown } } }).spec;
  const server = spec?.destination?.server;
  return typeof server === 'string' && !isInClusterServer(server) ? server : undefined;
}

/** The one registered cluster with `server` (`servers`: the names registered with each). */
function clusterWithServer(
  server: string,
  servers: ReadonlyMap<string, readonly string[]>,
): string {
  if (isInClusterServer(server)) return IN_CLUSTER_NAME;
  const names = servers.get(server) ?? [];
  if (names.length === 1) return names[0];
  throw new ValidationFailed('invalid Argo CD Application', [
    {
      field: 'spec.destination.server',
      reason:
        names.length === 0
          ? `no registered cluster has server "${server}"`
          : `${names.length} registered clusters have server "${server}" (${names.join(', ')}): name one with destination.name`,
    },
  ]);
}

/**
 * An application as the API shows it (`axle -o yaml app get`: name, spec, status, createdAt), to
 * be created or applied back: its spec flattened beside its name; status and createdAt ignored.
 * Undefined for any other body.
 */
function asView(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { spec, status: _status, createdAt: _createdAt, ...rest } = body as Record<string, unknown>;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec) || 'source' in rest)
    return undefined;
  return { ...rest, ...(spec as Record<string, unknown>) };
}

function specOf(view: unknown): Record<string, unknown> {
  return (view as { spec: Record<string, unknown> }).spec;
}

/**
 * `e` (a check of the spec after parsing: its project, say) with its fields named as `body` writes
 * them: under `spec.` for an Argo CD Application or an application as the API shows it.
 */
export function asWritten(body: unknown, e: unknown): unknown {
  if (!(e instanceof ValidationFailed)) return e;
  const argo = isArgoApplication(body);
  return argo || asView(body) ? written(e, argo) : e;
}

/**
 * `e`'s fields of Axle's flat application (`name`, `labels`, spec fields) named as an Argo CD
 * document (`metadata.`, `spec.`) or an application as shown (`spec.` only) writes them.
 */
function written(e: ValidationFailed, argo: boolean): ValidationFailed {
  const named = (field: string) => {
    if (field.startsWith('spec.') || field.startsWith('metadata.')) return field;
    // Beside the spec: under metadata in an Argo CD document.
    if (field === 'name' || field === 'labels' || field.startsWith('labels.'))
      return argo ? `metadata.${field}` : field;
    return `spec.${field}`;
  };
  // The final `…and N more` of a capped list names no field.
  return new ValidationFailed(
    e.summary,
    e.fields.map((f) => (countOf(f) > 1 ? f : { ...f, field: named(f.field) })),
  );
}

const KIND_HINTS: Readonly<Record<string, string>> = {
  ApplicationSet: ' (ApplicationSets go to /api/v1/applicationsets: axle appset create)',
  AppProject: ' (projects go to /api/v1/projects)',
};

/** The `kind` of a Kubernetes-style document that is not an Application (undefined otherwise). */
function otherKind(b: unknown): string | undefined {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return undefined;
  const { kind, apiVersion } = b as Record<string, unknown>;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string' || kind === 'Application')
    return undefined;
  return kind.slice(0, 100);
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

/** `POST /applications/{name}/sync`. */
export const syncRequestSchema = z
  .object({
    /** Only these destination clusters (default: every destination). */
    clusters: z.array(dns1123Label).min(1).max(10_000).optional(),
    /** A branch, tag or commit (chart: a version) to deploy instead of the tracked one. */
    revision: gitRef.optional(),
    /** Delete what is no longer in the source (and the app from dropped clusters). */
    prune: z.boolean().optional(),
    /** Show what would be deployed where; change nothing. */
    dryRun: z.boolean().optional(),
  })
  .strict();
export type SyncRequest = z.output<typeof syncRequestSchema>;

/** `POST /applications/{name}/rollback`. */
export const rollbackRequestSchema = z
  .object({
    /** The history entry to return to (`axle app history`). */
    id: z.number().int().positive(),
    clusters: z.array(dns1123Label).min(1).max(10_000).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();
export type RollbackRequest = z.output<typeof rollbackRequestSchema>;

/** `PUT /applications/{name}/auto-sync`. */
export const autoSyncRequestSchema = z.object({ enabled: z.boolean() }).strict();

/**
 * A comma-separated list of some of `values` (`Degraded,Missing`), or the parameter repeated
 * (`health=Degraded&health=Missing`): the set of them.
 */
const oneOf = <T extends string>(values: readonly T[]) =>
  z
    .union([z.string().max(200), z.array(z.string().max(200)).max(values.length)], {
      error: `must be some of ${values.join(', ')}, comma-separated or repeated`,
    })
    .transform((given, ctx) => {
      const out = new Set<T>();
      for (const v of (Array.isArray(given) ? given : [given]).flatMap((t) => t.split(','))) {
        if ((values as readonly string[]).includes(v)) out.add(v as T);
        else {
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(v)} is not one of ${values.join(', ')} (comma-separated or repeated)`,
          });
          return z.NEVER;
        }
      }
      return out;
    });

/** GET /applications: a page (`limit`, `after`) of those that pass the filters, by name. */
export const listQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    after: z.string().min(1).max(253).optional(),
    project: z.string().min(1).max(253).optional(),
    appSet: z.string().min(1).max(253).optional(),
    parent: z.string().min(1).max(253).optional(),
    cluster: z.string().min(1).max(63).optional(),
    selector: labelSelectorParam.optional(),
    sync: oneOf(SYNC_STATES).optional(),
    health: oneOf(HEALTH_STATES).optional(),
  })
  .strict();

/** Go's strconv.ParseBool, as Argo CD's API parses `cascade`. */
const GO_BOOL: Record<string, boolean> = {};
for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) GO_BOOL[v] = true;
for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False']) GO_BOOL[v] = false;

/**
 * `DELETE /applications/{name}?cascade=false`, as Argo CD's: the application goes, its resources
 * stay in the clusters (no longer tracked). The default deletes them with it. Argo CD's other
 * parameters on this path (`propagationPolicy`, `appNamespace`, …) are accepted and ignored.
 */
export const deleteQuerySchema = z.looseObject({
  cascade: z
    .string()
    .optional()
    .refine((v) => v === undefined || Object.hasOwn(GO_BOOL, v), 'must be true or false')
    .transform((v) => (v === undefined ? true : GO_BOOL[v])),
});

/** `GET /applications/{name}/diff?cluster=C&cluster=D&revision=R`. */
export const diffQuerySchema = z
  .object({
    cluster: z.union([dns1123Label, z.array(dns1123Label).max(10_000)]).optional(),
    revision: gitRef.optional(),
  })
  .strict();
