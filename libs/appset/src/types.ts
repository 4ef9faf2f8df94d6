import type { RenderMemo } from './render-memo.js';
import type {
  ClusterInfo,
  GeneratorLimits,
  GeneratorSpec,
  GitTreeReader,
  PluginGeneratorClient,
  ScmClient,
  DuckTypeReader,
} from '../../generators/src/index.js';

export type ApplicationsSyncPolicy = 'create-only' | 'create-update' | 'create-delete' | 'sync';

export interface HelmParameter {
  name?: string;
  value?: string;
  forceString?: boolean;
}

export interface ApplicationSourceHelm {
  valueFiles?: string[];
  parameters?: HelmParameter[];
  fileParameters?: { name?: string; path?: string }[];
  releaseName?: string;
  values?: string;
  valuesObject?: Record<string, unknown>;
  version?: string;
  passCredentials?: boolean;
  ignoreMissingValueFiles?: boolean;
  skipCrds?: boolean;
  skipTests?: boolean;
  skipSchemaValidation?: boolean;
  namespace?: string;
  kubeVersion?: string;
  apiVersions?: string[];
}

export interface ApplicationSourceKustomize {
  namePrefix?: string;
  nameSuffix?: string;
  images?: string[];
  commonLabels?: Record<string, string>;
  commonAnnotations?: Record<string, string>;
  commonAnnotationsEnvsubst?: boolean;
  forceCommonLabels?: boolean;
  forceCommonAnnotations?: boolean;
  namespace?: string;
  version?: string;
  replicas?: { name: string; count: number | string }[];
  patches?: {
    path?: string;
    patch?: string;
    target?: Record<string, unknown>;
    options?: Record<string, boolean>;
  }[];
  components?: string[];
  ignoreMissingComponents?: boolean;
  labelWithoutSelector?: boolean;
  labelIncludeTemplates?: boolean;
  kubeVersion?: string;
  apiVersions?: string[];
}

export interface ApplicationSourceDirectory {
  recurse?: boolean;
  include?: string;
  exclude?: string;
}

export interface ApplicationSourcePlugin {
  name?: string;
  env?: { name: string; value: string }[];
  parameters?: Record<string, unknown>[];
}

export interface ApplicationSource {
  repoURL: string;
  path?: string;
  targetRevision?: string;
  chart?: string;
  ref?: string;
  name?: string;
  helm?: ApplicationSourceHelm;
  kustomize?: ApplicationSourceKustomize;
  directory?: ApplicationSourceDirectory;
  plugin?: ApplicationSourcePlugin;
}

export interface SyncPolicy {
  automated?: { prune?: boolean; selfHeal?: boolean; allowEmpty?: boolean; enabled?: boolean };
  syncOptions?: string[];
  retry?: {
    limit?: number;
    backoff?: { duration?: string; factor?: number; maxDuration?: string };
    refresh?: boolean;
  };
}

export interface IgnoreDifference {
  group?: string;
  kind: string;
  name?: string;
  namespace?: string;
  jsonPointers?: string[];
  jqPathExpressions?: string[];
  managedFieldsManagers?: string[];
}

/** `spec.template` (and, all fields optional, a generator's own `template`). */
export interface ApplicationTemplate {
  metadata: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  spec: {
    project?: string;
    source?: Partial<ApplicationSource>;
    destination?: { server?: string; name?: string; namespace?: string };
    syncPolicy?: SyncPolicy;
    ignoreDifferences?: IgnoreDifference[];
    dependsOn?: DependsOn[];
  };
}

/** Axle: an application the generated one waits for. */
export interface DependsOn {
  application: string;
  cluster?: string | { matchLabels: Record<string, string> };
  health?: string;
}

export interface ApplicationSetSpec {
  goTemplate: boolean;
  goTemplateOptions: string[];
  /** Validated generator entries; top-level generators carry their validated `template`. */
  generators: GeneratorSpec[];
  template: ApplicationTemplate;
  templatePatch?: string;
  syncPolicy: {
    /** Default `sync`. */
    applicationsSync: ApplicationsSyncPolicy;
    preserveResourcesOnDeletion: boolean;
  };
  /** Argo CD's progressive sync; absent: AllAtOnce. */
  rollingSync?: RollingSyncStrategy;
}

/** `spec.strategy` with `type: RollingSync`. */
export interface RollingSyncStrategy {
  steps: {
    matchExpressions: {
      key: string;
      operator: 'In' | 'NotIn';
      values: string[];
    }[];
    /** Applications of the step synced at once: a count or a percentage (default 100%). */
    maxUpdate: number | string;
  }[];
  defaultPrune: boolean;
  /** Axle: a failed step halts the rollout (pause), or also returns what it updated (rollback). */
  onFailure: 'pause' | 'rollback';
  /** Axle: how long an application may take to be Healthy after its sync. */
  progressDeadlineSeconds: number;
}

/** A parsed ApplicationSet, whichever form it came in. */
export interface ApplicationSet {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: ApplicationSetSpec;
}

/** An Application as Argo CD would generate it (only the fields Axle uses). */
export interface GeneratedApplication {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    /** Argo adds `resources-finalizer.argocd.argoproj.io` unless preserveResourcesOnDeletion is set. */
    finalizers?: string[];
  };
  spec: {
    project: string;
    source: ApplicationSource;
    /** Resolved against the hub's clusters: both name and server are always set. */
    destination: { name: string; server: string; namespace?: string };
    syncPolicy?: SyncPolicy;
    ignoreDifferences?: IgnoreDifference[];
    dependsOn?: DependsOn[];
  };
}

export interface GenerateApplicationsContext {
  clusters: ClusterInfo[];
  git: GitTreeReader;
  limits?: GeneratorLimits;
  /**
   * The most applications the ApplicationSet may generate: the parameter sets its generators
   * produce in the end (after their selectors), over all generators. Beyond it, or beyond
   * `limits.maxParamSets` anywhere on the way, the result has no applications and one `limit`
   * error, and is not complete.
   */
  maxApplications?: number;
  /** See GeneratorContext.newGitFileGlobbing. */
  newGitFileGlobbing?: boolean;
  /** Generator plugins (see GeneratorContext.plugins). */
  plugins?: PluginGeneratorClient;
  /** Pull request providers (see GeneratorContext.scm). */
  scm?: ScmClient;
  /** Duck-typed cluster decisions (see GeneratorContext.duckTypes). */
  duckTypes?: DuckTypeReader;
  /** When given, `spec.project` of every Application must be one of these. */
  projects?: readonly string[];
  /**
   * Longest the Applications may take to render, in all (wall clock, checked between two of
   * them; default 120 s). Beyond it the result has no applications and one `limit` error
   * ('renderTime'), and is not complete. Rendering yields to the event loop every few
   * milliseconds either way, so that a large ApplicationSet does not stall its process.
   */
  maxRenderMs?: number;
  /** Stops rendering (throws the signal's reason) when aborted: checked each time it yields. */
  signal?: AbortSignal;
  /**
   * The Applications of the ApplicationSet's last evaluation, by what they were rendered from:
   * those whose inputs are unchanged are taken over, not rendered again (see RenderMemo). The
   * Applications returned must then not be changed. A memo that found a taken-over Application
   * different from its render (`mismatches`, a defect) may have handed out others like it in this
   * generation: the caller generates again without it.
   */
  renders?: RenderMemo;
}

export interface GenerationError {
  /**
   * Position of the parameter set (= would-be Application) in generation order, across all
   * generators; -1 when a whole generator failed.
   */
  index: number;
  /** The Application's name, when rendering got that far. */
  name?: string;
  /** Index in `spec.generators` of the generator that produced it. */
  generator: number;
  stage: 'generator' | 'limit' | 'template' | 'validation' | 'duplicate';
  /**
   * Which limit a `limit` error is about: maxApplications, limits.maxParamSets on the way, or
   * maxRenderMs.
   */
  limit?: 'applications' | 'paramSets' | 'renderTime';
  message: string;
}

export interface GenerateApplicationsResult {
  /**
   * Read-only: what comes from constant parts of the template (e.g. a `syncPolicy` without `{{ }}`,
   * the default finalizer list) is one frozen object shared by every Application.
   */
  applications: GeneratedApplication[];
  errors: GenerationError[];
  /**
   * False when a generator failed or an Application could not be rendered far enough to know its
   * name: the set of desired Applications is then incomplete and nothing should be deleted.
   */
  complete: boolean;
  /**
   * Set when a template (the applications' or a generator's) called a function of the clock or
   * chance, or one that changes a map in place: generating again from the same inputs may give
   * something else. (A generator's are counted with whatever else the process rendered while it
   * awaited git: this may be set for nothing, never left out.)
   */
  impure?: true;
}
