import { z } from 'zod';
import {
  generatorEntrySchema,
  missingKeyFromOptions,
  unsupportedField,
  withUnknownKeys,
} from '../../generators/src/index.js';

/**
 * zod schemas for the ApplicationSet resource as Argo CD defines it (argoproj.io/v1alpha1). Objects
 * are loose: unknown keys are reported by path (see `checkFields`) rather than rejected, and fields
 * Argo supports but Axle does not are declared with `unsupportedField` so they are reported by name.
 */

const str = z.string();
const bool = z.boolean();
const stringMap = z.record(z.string(), z.string());
const strings = z.array(z.string());

export const helmSchema = z.looseObject({
  valueFiles: strings.optional(),
  parameters: z
    .array(
      z.looseObject({ name: str.optional(), value: str.optional(), forceString: bool.optional() }),
    )
    .optional(),
  fileParameters: z.array(z.looseObject({ name: str.optional(), path: str.optional() })).optional(),
  releaseName: str.optional(),
  values: str.optional(),
  valuesObject: z.record(z.string(), z.unknown()).optional(),
  version: str.optional(),
  passCredentials: bool.optional(),
  ignoreMissingValueFiles: bool.optional(),
  skipCrds: bool.optional(),
  skipTests: bool.optional(),
  skipSchemaValidation: bool.optional(),
  namespace: str.optional(),
  kubeVersion: str.optional(),
  apiVersions: strings.optional(),
});

export const kustomizeSchema = z.looseObject({
  namePrefix: str.optional(),
  nameSuffix: str.optional(),
  images: strings.optional(),
  commonLabels: stringMap.optional(),
  commonAnnotations: stringMap.optional(),
  commonAnnotationsEnvsubst: bool.optional(),
  forceCommonLabels: bool.optional(),
  forceCommonAnnotations: bool.optional(),
  namespace: str.optional(),
  version: str.optional(),
  replicas: z
    .array(z.looseObject({ name: str, count: z.union([z.number().int(), str]) }))
    .optional(),
  patches: z
    .array(
      z.looseObject({
        path: str.optional(),
        patch: str.optional(),
        target: z.record(z.string(), z.unknown()).optional(),
        options: z.record(z.string(), bool).optional(),
      }),
    )
    .optional(),
  components: strings.optional(),
  ignoreMissingComponents: bool.optional(),
  labelWithoutSelector: bool.optional(),
  labelIncludeTemplates: bool.optional(),
  kubeVersion: str.optional(),
  apiVersions: strings.optional(),
});

export const directorySchema = z.looseObject({
  recurse: bool.optional(),
  include: str.optional(),
  exclude: str.optional(),
  jsonnet: unsupportedField('not supported by Axle (ignored): jsonnet rendering is not available'),
});

export const pluginSchema = z.looseObject({
  name: str.optional(),
  env: z.array(z.looseObject({ name: str, value: str })).optional(),
  parameters: z.array(z.record(z.string(), z.unknown())).optional(),
});

export const sourceSchema = z.looseObject({
  repoURL: str.optional(),
  path: str.optional(),
  targetRevision: str.optional(),
  chart: str.optional(),
  ref: str.optional(),
  name: str.optional(),
  helm: helmSchema.optional(),
  kustomize: kustomizeSchema.optional(),
  directory: directorySchema.optional(),
  plugin: pluginSchema.optional(),
});

export const destinationSchema = z.looseObject({
  server: str.optional(),
  name: str.optional(),
  namespace: str.optional(),
});

export const syncPolicySchema = z.looseObject({
  automated: z
    .looseObject({
      prune: bool.optional(),
      selfHeal: bool.optional(),
      allowEmpty: bool.optional(),
      enabled: bool.optional(),
    })
    .optional(),
  syncOptions: strings.optional(),
  retry: z
    .looseObject({
      limit: z.number().int().optional(),
      backoff: z
        .looseObject({
          duration: str.optional(),
          factor: z.number().int().optional(),
          maxDuration: str.optional(),
        })
        .optional(),
      refresh: bool.optional(),
    })
    .optional(),
  managedNamespaceMetadata: unsupportedField('not supported by Axle (ignored)'),
});

export const ignoreDifferenceSchema = z.looseObject({
  group: str.optional(),
  kind: str,
  name: str.optional(),
  namespace: str.optional(),
  jsonPointers: strings.optional(),
  jqPathExpressions: strings.optional(),
  managedFieldsManagers: strings.optional(),
});

function applicationSpecSchema(required: boolean) {
  return z.looseObject({
    project: required ? str : str.optional(),
    source: sourceSchema.optional(),
    sources: z.array(sourceSchema).optional(),
    destination: required ? destinationSchema : destinationSchema.optional(),
    syncPolicy: syncPolicySchema.optional(),
    ignoreDifferences: z.array(ignoreDifferenceSchema).optional(),
    // Axle: applications this one waits for (checked when the application is stored).
    dependsOn: z
      .array(
        z.looseObject({
          application: str,
          cluster: z.union([str, z.looseObject({ matchLabels: stringMap })]).optional(),
          health: str.optional(),
        }),
      )
      .optional(),
    info: unsupportedField('not supported by Axle (ignored)'),
    revisionHistoryLimit: unsupportedField('not supported by Axle (ignored)'),
    sourceHydrator: unsupportedField('source hydration is not supported by Axle', 'error'),
  });
}

function templateMetadataSchema() {
  return z.looseObject({
    name: str.optional(),
    namespace: unsupportedField(
      'ignored: generated Applications always belong to the ApplicationSet (as in Argo CD)',
    ),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
    finalizers: strings.optional(),
  });
}

/** `spec.template`: metadata and spec (with project and destination) are required, as in Argo's CRD. */
export const applicationTemplateSchema = z.looseObject({
  metadata: templateMetadataSchema(),
  spec: applicationSpecSchema(true),
});

/** A generator's own `template`: every field optional, merged over `spec.template`. */
export const templateOverrideSchema = z.looseObject({
  metadata: templateMetadataSchema().optional(),
  spec: applicationSpecSchema(false).optional(),
});

export const APPLICATIONS_SYNC_POLICIES = [
  'create-only',
  'create-update',
  'create-delete',
  'sync',
] as const;

const goTemplateOptionsSchema = strings.superRefine((opts, ctx) => {
  try {
    missingKeyFromOptions(opts);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
  }
});

export const applicationSetSpecSchema = z.looseObject({
  goTemplate: bool.optional(),
  goTemplateOptions: goTemplateOptionsSchema.optional(),
  generators: z.array(generatorEntrySchema),
  template: applicationTemplateSchema,
  templatePatch: str.optional(),
  syncPolicy: z
    .looseObject({
      applicationsSync: z.enum(APPLICATIONS_SYNC_POLICIES).optional(),
      preserveResourcesOnDeletion: bool.optional(),
    })
    .optional(),
  // Always applied by Axle (Argo CD 3 deprecated the switch and always applies nested selectors).
  applyNestedSelectors: bool.optional(),
  ignoreApplicationDifferences: z.array(z.record(z.string(), z.unknown())).optional(),
  strategy: z
    .looseObject({
      type: z.enum(['AllAtOnce', 'RollingSync']).optional(),
      rollingSync: z
        .looseObject({
          steps: z
            .array(
              z.looseObject({
                matchExpressions: z
                  .array(
                    z.looseObject({
                      key: str.min(1),
                      // Argo CD's RollingSync reads In and NotIn only.
                      operator: z.enum(['In', 'NotIn']),
                      values: strings.optional(),
                    }),
                  )
                  .optional(),
                maxUpdate: z
                  .union([
                    z.number().int().min(0),
                    str.regex(/^\d+%$/, 'must be a number or a percentage like 10%'),
                  ])
                  .optional(),
              }),
            )
            .max(100),
          defaultPrune: bool.optional(),
          // Axle: what a failed step does (Argo CD waits forever).
          onFailure: z.enum(['pause', 'rollback']).optional(),
          // Axle: an application not Healthy this long after its sync has failed.
          progressDeadlineSeconds: z.number().int().min(1).max(86_400).optional(),
        })
        .optional(),
      deletionOrder: unsupportedField(
        'not supported by Axle (ignored): applications are deleted together',
      ),
    })
    .refine((s) => s.type !== 'RollingSync' || (s.rollingSync?.steps.length ?? 0) > 0, {
      message: 'RollingSync needs rollingSync.steps',
      path: ['rollingSync'],
    })
    .optional(),
  preservedFields: unsupportedField('not supported by Axle (ignored)'),
});

const serverManaged = () => unsupportedField('', 'ignore');

export const metadataSchema = z.looseObject({
  name: str.min(1, 'must not be empty'),
  namespace: str.optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  // Written by the API server or by controllers; irrelevant to generation.
  uid: serverManaged(),
  resourceVersion: serverManaged(),
  generation: serverManaged(),
  creationTimestamp: serverManaged(),
  deletionTimestamp: serverManaged(),
  deletionGracePeriodSeconds: serverManaged(),
  managedFields: serverManaged(),
  selfLink: serverManaged(),
  ownerReferences: serverManaged(),
  finalizers: serverManaged(),
  generateName: serverManaged(),
});

export const applicationSetDocumentSchema = withUnknownKeys(
  z.looseObject({
    apiVersion: z.literal('argoproj.io/v1alpha1').optional(),
    kind: z.literal('ApplicationSet').optional(),
    metadata: metadataSchema,
    spec: applicationSetSpecSchema,
    status: unsupportedField('', 'ignore'),
  }),
  // A typo at the top (`metdata:`, `spek:`) is refused like one anywhere else.
  () => ({ severity: 'error', message: 'unknown field' }),
);
