import { z } from 'zod';
import { unsupportedField, validateSpec, withUnknownKeys } from './spec-check.js';
import type { SpecIssue } from './errors.js';
import { GENERATOR_TYPES, type GeneratorSpec } from './types.js';

export const labelSelectorSchema = z.looseObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z.looseObject({
        key: z.string(),
        operator: z.string(),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

/** Per-generator Application template; opaque here, validated by libs/appset. */
const templateOverrideSchema = z.record(z.string(), z.unknown()).optional();

const stringMap = z.record(z.string(), z.string());

export const listGeneratorSchema = z.looseObject({
  elements: z.array(z.record(z.string(), z.unknown())).optional(),
  elementsYaml: z.string().optional(),
  template: templateOverrideSchema,
});

export const clusterGeneratorSchema = z.looseObject({
  selector: labelSelectorSchema.optional(),
  values: stringMap.optional(),
  flatList: z.boolean().optional(),
  template: templateOverrideSchema,
});

const gitPathItem = z.looseObject({ path: z.string(), exclude: z.boolean().optional() });

export const gitGeneratorSchema = z
  .looseObject({
    repoURL: z
      .string()
      .min(1, 'must not be empty')
      // They would be stored, logged and shown with the URL: credentials are configured apart.
      .refine(
        (u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(u) || /^ssh:\/\/[^/:@]*@/i.test(u),
        'must not contain credentials (user:password@); add repository credentials instead',
      ),
    revision: z.string(),
    directories: z.array(gitPathItem).optional(),
    files: z.array(gitPathItem).optional(),
    pathParamPrefix: z.string().optional(),
    values: stringMap.optional(),
    template: templateOverrideSchema,
    requeueAfterSeconds: unsupportedField(
      'not supported by Axle (ignored): git generators are refreshed on the hub schedule',
    ),
  })
  .superRefine((g, ctx) => {
    const dirs = g.directories?.length ?? 0;
    const files = g.files?.length ?? 0;
    if (dirs === 0 && files === 0)
      ctx.addIssue({
        code: 'custom',
        message: 'one of directories or files must list at least one path',
      });
    if (dirs > 0 && files > 0)
      ctx.addIssue({
        code: 'custom',
        message: 'directories and files cannot both be set; use two generators',
      });
  });

/** What every generator that asks a service (plugin, pullRequest, scmProvider, duck type) takes. */
const askingGeneratorFields = {
  values: stringMap.optional(),
  template: templateOverrideSchema,
  requeueAfterSeconds: z.number().int().min(0).optional(),
};

export const pluginGeneratorSchema = z.looseObject({
  configMapRef: z.looseObject({ name: z.string().min(1, 'must name a generator plugin') }),
  input: z.looseObject({ parameters: z.record(z.string(), z.unknown()).optional() }).optional(),
  ...askingGeneratorFields,
});

/** pullRequest and scmProvider generators name exactly one provider. */
function oneProvider(g: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const n = ['github', 'gitea', 'gitlab', 'bitbucketServer'].filter(
    (k) => g[k] !== undefined,
  ).length;
  if (n !== 1)
    ctx.addIssue({
      code: 'custom',
      message: 'exactly one of github, gitea, gitlab or bitbucketServer must be given',
    });
}

const tokenRef = unsupportedField(
  'not used by Axle (ignored): the token comes from the repository credentials matching the API URL',
);
const str = z.string().min(1, 'must not be empty');
export const pullRequestGeneratorSchema = z
  .looseObject({
    github: z
      .looseObject({
        owner: str,
        repo: str,
        api: z.string().optional(),
        labels: z.array(z.string()).optional(),
        tokenRef,
        appSecretName: unsupportedField('GitHub Apps are not supported by Axle', 'error'),
      })
      .optional(),
    gitea: z
      .looseObject({
        owner: str,
        repo: str,
        api: str,
        labels: z.array(z.string()).optional(),
        insecure: z.boolean().optional(),
        tokenRef,
      })
      .optional(),
    gitlab: z
      .looseObject({
        project: str,
        api: z.string().optional(),
        labels: z.array(z.string()).optional(),
        pullRequestState: z.string().optional(),
        insecure: z.boolean().optional(),
        tokenRef,
        caRef: unsupportedField('not supported by Axle (ignored)'),
      })
      .optional(),
    bitbucketServer: z
      .looseObject({
        project: str,
        repo: str,
        api: str,
        basicAuth: unsupportedField(
          'not used by Axle (ignored): username and password come from the repository credentials matching the API URL',
        ),
        bearerToken: tokenRef,
        caRef: unsupportedField('not supported by Axle (ignored)'),
      })
      .optional(),
    bitbucket: unsupportedField('Bitbucket Cloud pull requests are not supported by Axle', 'error'),
    azuredevops: unsupportedField('Azure DevOps pull requests are not supported by Axle', 'error'),
    filters: z
      .array(
        z.looseObject({
          branchMatch: z.string().optional(),
          targetBranchMatch: z.string().optional(),
          titleMatch: z.string().optional(),
        }),
      )
      .optional(),
    ...askingGeneratorFields,
    continueOnRepoNotFoundError: z.boolean().optional(),
  })
  .superRefine(oneProvider);

export const scmProviderGeneratorSchema = z
  .looseObject({
    github: z
      .looseObject({
        organization: str,
        api: z.string().optional(),
        allBranches: z.boolean().optional(),
        tokenRef,
        appSecretName: unsupportedField('GitHub Apps are not supported by Axle', 'error'),
      })
      .optional(),
    gitea: z
      .looseObject({
        owner: str,
        api: str,
        allBranches: z.boolean().optional(),
        insecure: z.boolean().optional(),
        tokenRef,
      })
      .optional(),
    gitlab: z
      .looseObject({
        group: str,
        api: z.string().optional(),
        allBranches: z.boolean().optional(),
        includeSubgroups: z.boolean().optional(),
        topic: z.string().optional(),
        insecure: z.boolean().optional(),
        tokenRef,
        caRef: unsupportedField('not supported by Axle (ignored)'),
        includeSharedProjects: unsupportedField('not supported by Axle (ignored)'),
      })
      .optional(),
    bitbucketServer: z
      .looseObject({
        project: str,
        api: str,
        allBranches: z.boolean().optional(),
        basicAuth: unsupportedField(
          'not used by Axle (ignored): username and password come from the repository credentials matching the API URL',
        ),
        bearerToken: tokenRef,
        caRef: unsupportedField('not supported by Axle (ignored)'),
      })
      .optional(),
    bitbucket: unsupportedField('Bitbucket Cloud is not supported by Axle', 'error'),
    azureDevOps: unsupportedField('Azure DevOps is not supported by Axle', 'error'),
    awsCodeCommit: unsupportedField('AWS CodeCommit is not supported by Axle', 'error'),
    cloneProtocol: z.enum(['ssh', 'https']).optional(),
    filters: z
      .array(
        z.looseObject({
          repositoryMatch: z.string().optional(),
          pathsExist: z.array(z.string()).optional(),
          pathsDoNotExist: z.array(z.string()).optional(),
          labelMatch: z.string().optional(),
          branchMatch: z.string().optional(),
        }),
      )
      .optional(),
    ...askingGeneratorFields,
  })
  .superRefine(oneProvider);

export const clusterDecisionResourceGeneratorSchema = z
  .looseObject({
    configMapRef: z.string().min(1, 'must name a duck type'),
    name: z.string().optional(),
    labelSelector: labelSelectorSchema.optional(),
    ...askingGeneratorFields,
  })
  .superRefine((g, ctx) => {
    const bySelector =
      g.labelSelector !== undefined &&
      (g.labelSelector.matchLabels !== undefined || g.labelSelector.matchExpressions !== undefined);
    if (!!g.name === bySelector)
      ctx.addIssue({ code: 'custom', message: 'give either name or labelSelector' });
  });

// The recursive entry schema is declared through a getter so that zod can reference it lazily.
export const generatorEntrySchema: z.ZodType<GeneratorSpec> = withUnknownKeys(
  z
    .looseObject({
      list: listGeneratorSchema.optional(),
      clusters: clusterGeneratorSchema.optional(),
      git: gitGeneratorSchema.optional(),
      plugin: pluginGeneratorSchema.optional(),
      pullRequest: pullRequestGeneratorSchema.optional(),
      scmProvider: scmProviderGeneratorSchema.optional(),
      clusterDecisionResource: clusterDecisionResourceGeneratorSchema.optional(),
      matrix: z
        .looseObject({
          generators: z
            .array(z.lazy(() => generatorEntrySchema))
            .min(1, 'needs at least one generator'),
          template: templateOverrideSchema,
        })
        .optional(),
      merge: z
        .looseObject({
          generators: z
            .array(z.lazy(() => generatorEntrySchema))
            .min(1, 'needs at least one generator'),
          mergeKeys: z
            .array(z.string())
            .min(1, 'no merge keys were specified, merge requires at least one'),
          template: templateOverrideSchema,
        })
        .optional(),
      selector: labelSelectorSchema.optional(),
    })
    .superRefine((entry, ctx) => {
      const known = new Set<string>([...GENERATOR_TYPES, 'selector']);
      const keys = Object.keys(entry);
      if (keys.some((k) => !known.has(k))) return; // reported as unknown generator
      const present = [...GENERATOR_TYPES].filter(
        (k) => (entry as Record<string, unknown>)[k] !== undefined,
      );
      if (present.length === 0)
        ctx.addIssue({
          code: 'custom',
          message: `no generator specified (expected one of: ${GENERATOR_TYPES.join(', ')})`,
        });
      else if (present.length > 1)
        ctx.addIssue({
          code: 'custom',
          message: `only one generator may be specified per entry, found: ${present.join(', ')}`,
        });
    }),
  (key) => ({
    severity: 'error',
    message: `unknown generator ${JSON.stringify(key)} (supported: ${GENERATOR_TYPES.join(', ')})`,
  }),
) as unknown as z.ZodType<GeneratorSpec>;

export interface GeneratorSpecCheck {
  spec?: GeneratorSpec;
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

/**
 * Validates one generator entry (e.g. `spec.generators[0]`): type errors, missing required fields,
 * unknown or unsupported generators are errors; unknown or unsupported fields elsewhere are
 * warnings. On success `spec` is the entry with those fields removed.
 */
export function checkGeneratorSpec(raw: unknown, path: string): GeneratorSpecCheck {
  const r = validateSpec<GeneratorSpec>(generatorEntrySchema, raw, path);
  return { spec: r.value, errors: r.errors, warnings: r.warnings };
}
