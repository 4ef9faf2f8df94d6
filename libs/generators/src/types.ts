import type { TemplateBudget } from './runtime.js';

/**
 * One set of parameters produced by a generator. In goTemplate mode values keep their structure
 * (`{ path: { basename: 'x' } }`); in fasttemplate mode keys are flattened and values are strings
 * (`{ 'path.basename': 'x' }`), exactly as Argo CD produces them.
 *
 * Param sets are shared between generators (matrix combinations reuse the objects of their
 * children) and must be treated as read-only.
 */
export type ParamSet = Record<string, unknown>;

/** A cluster known to the hub (Argo: a cluster Secret). */
export interface ClusterInfo {
  name: string;
  server: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Argo's cluster Secret `project` field; exposed as the `project` parameter ('' when absent). */
  project?: string;
  /**
   * The hub's own cluster (Argo CD's local cluster, whose server is
   * `https://kubernetes.default.svc`): its `name` parameter is `in-cluster`, as in Argo CD.
   */
  inCluster?: boolean;
}

/** Read access to git, implemented by the hub over a checkout at a resolved commit. */
export interface GitTreeReader {
  resolve(repoURL: string, revision: string): Promise<string /* commit sha */>;
  /** Every directory path in the tree, posix, relative, no leading './'. */
  listDirectories(repoURL: string, commit: string): Promise<string[]>;
  /** Every file path in the tree, posix, relative, no leading './'. */
  listFiles(repoURL: string, commit: string): Promise<string[]>;
  /** Bounded size; throws on oversized files. */
  readFile(repoURL: string, commit: string, path: string): Promise<Buffer>;
}

export interface GeneratorLimits {
  /** Most parameter sets any generator (including matrix products) may produce. Default 1,000,000. */
  maxParamSets: number;
  /** Largest JSON/YAML file the git files generator parses. Default 4 MiB. */
  maxFileBytes?: number;
  /** Most files one git files generator may read. Default 10,000. */
  maxFiles?: number;
}

export const DEFAULT_GENERATOR_LIMITS: Required<GeneratorLimits> = {
  maxParamSets: 1_000_000,
  maxFileBytes: 4 * 1024 * 1024,
  maxFiles: 10_000,
};

export interface GeneratorContext {
  clusters: ClusterInfo[];
  git: GitTreeReader;
  goTemplate: boolean;
  goTemplateOptions?: string[];
  limits?: GeneratorLimits;
  /**
   * Use Argo's "new" git file globbing (doublestar: `*` stays within a path segment, `**` spans
   * segments). Default false = Argo's default `git ls-files` pathspec matching.
   */
  newGitFileGlobbing?: boolean;
  /** Generator plugins, and the name of the ApplicationSet they generate for. */
  plugins?: PluginGeneratorClient;
  appSetName?: string;
  /** Pull request providers (absent: pull request generators fail). */
  scm?: ScmClient;
  /** Duck-typed cluster decisions (absent: clusterDecisionResource generators fail). */
  duckTypes?: DuckTypeReader;
  /**
   * The run's render time, shared with whatever else renders for the same ApplicationSet
   * (absent: unbounded in all, 2 s per template, still handing the event loop back).
   */
  templateBudget?: TemplateBudget;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/**
 * A per-generator Application template (Argo's `generators[].<type>.template`). Opaque to this
 * library: it is handed back with the parameters and validated/merged by `libs/appset`.
 */
export type TemplateOverride = Record<string, unknown>;

export interface ListGeneratorSpec {
  elements?: Record<string, unknown>[];
  elementsYaml?: string;
  template?: TemplateOverride;
}

export interface ClusterGeneratorSpec {
  selector?: LabelSelector;
  values?: Record<string, string>;
  flatList?: boolean;
  template?: TemplateOverride;
}

export interface GitPathItem {
  path: string;
  exclude?: boolean;
}

export interface GitGeneratorSpec {
  repoURL: string;
  revision: string;
  directories?: GitPathItem[];
  files?: GitPathItem[];
  pathParamPrefix?: string;
  values?: Record<string, string>;
  template?: TemplateOverride;
  requeueAfterSeconds?: number;
}

/** Argo CD's plugin generator: parameters from an HTTP service (`getparams.execute`). */
export interface PluginGeneratorSpec {
  /** Argo names a ConfigMap holding the service's URL and token; Axle, a hub-configured plugin. */
  configMapRef: { name: string };
  input?: { parameters?: Record<string, unknown> };
  values?: Record<string, string>;
  template?: TemplateOverride;
  requeueAfterSeconds?: number;
}

/** Argo CD's pull request generator (one provider set). */
export interface PullRequestGeneratorSpec {
  github?: { owner: string; repo: string; api?: string; labels?: string[] };
  gitea?: { owner: string; repo: string; api: string; labels?: string[]; insecure?: boolean };
  gitlab?: {
    project: string;
    api?: string;
    labels?: string[];
    pullRequestState?: string;
    insecure?: boolean;
  };
  bitbucketServer?: { project: string; repo: string; api: string };
  filters?: { branchMatch?: string; targetBranchMatch?: string; titleMatch?: string }[];
  values?: Record<string, string>;
  template?: TemplateOverride;
  requeueAfterSeconds?: number;
  continueOnRepoNotFoundError?: boolean;
}

/** One open pull (merge) request, as every provider is mapped. */
export interface PullRequest {
  number: number;
  title: string;
  branch: string;
  targetBranch: string;
  headSha: string;
  labels: string[];
  author: string;
}

/** Argo CD's SCM provider generator (one provider set). */
export interface ScmProviderGeneratorSpec {
  github?: { organization: string; api?: string; allBranches?: boolean };
  gitea?: { owner: string; api: string; allBranches?: boolean; insecure?: boolean };
  gitlab?: {
    group: string;
    api?: string;
    allBranches?: boolean;
    includeSubgroups?: boolean;
    topic?: string;
    insecure?: boolean;
  };
  bitbucketServer?: { project: string; api: string; allBranches?: boolean };
  /** `ssh` (default) or `https`: which clone URL `url` is. */
  cloneProtocol?: string;
  filters?: {
    repositoryMatch?: string;
    pathsExist?: string[];
    pathsDoNotExist?: string[];
    labelMatch?: string;
    branchMatch?: string;
  }[];
  values?: Record<string, string>;
  template?: TemplateOverride;
  requeueAfterSeconds?: number;
}

/** One repository at one branch, as every provider is mapped. */
export interface ScmRepository {
  organization: string;
  repository: string;
  repositoryId: number;
  url: string;
  branch: string;
  sha: string;
  labels: string[];
}

/** Reads pull requests and repositories of the provider a generator names (the hub's clients). */
export interface ScmClient {
  listPullRequests(spec: PullRequestGeneratorSpec): Promise<PullRequest[]>;
  listRepositories(spec: ScmProviderGeneratorSpec): Promise<ScmRepository[]>;
  /** Whether `path` (a file or a directory) exists in the repository at its branch. */
  pathExists(spec: ScmProviderGeneratorSpec, repo: ScmRepository, path: string): Promise<boolean>;
}

/** Argo CD's cluster decision resource generator (a duck-typed resource listing clusters). */
export interface ClusterDecisionResourceGeneratorSpec {
  /** Names the duck type (Argo: a ConfigMap with apiVersion, kind, statusListKey, matchKey). */
  configMapRef: string;
  name?: string;
  labelSelector?: LabelSelector;
  values?: Record<string, string>;
  template?: TemplateOverride;
  requeueAfterSeconds?: number;
}

/** Reads duck-typed decision resources (the hub's Kubernetes client). */
export interface DuckTypeReader {
  /** The entries of `status.<statusListKey>` of the resources selected, and the key naming the cluster. */
  decisions(
    configMapRef: string,
    select: { name?: string; labelSelector?: LabelSelector },
  ): Promise<{ matchKey: string; decisions: Record<string, unknown>[] }>;
}

/** Calls generator plugins (the hub's HTTP client; absent: plugin generators fail). */
export interface PluginGeneratorClient {
  /**
   * POST `{"applicationSetName", "input": {"parameters"}}` to the plugin; returns
   * `output.parameters`, validated to be a list of maps.
   */
  getParams(
    plugin: string,
    request: { applicationSetName: string; input: { parameters: Record<string, unknown> } },
  ): Promise<Record<string, unknown>[]>;
}

export interface MatrixGeneratorSpec {
  generators: GeneratorSpec[];
  template?: TemplateOverride;
}

export interface MergeGeneratorSpec {
  generators: GeneratorSpec[];
  mergeKeys: string[];
  template?: TemplateOverride;
}

/** One entry of `spec.generators` (or of a matrix/merge `generators` list): exactly one generator. */
export interface GeneratorSpec {
  list?: ListGeneratorSpec;
  clusters?: ClusterGeneratorSpec;
  git?: GitGeneratorSpec;
  plugin?: PluginGeneratorSpec;
  pullRequest?: PullRequestGeneratorSpec;
  scmProvider?: ScmProviderGeneratorSpec;
  clusterDecisionResource?: ClusterDecisionResourceGeneratorSpec;
  matrix?: MatrixGeneratorSpec;
  merge?: MergeGeneratorSpec;
  /** Argo's post-selector, applied to the parameter sets this entry produces. */
  selector?: LabelSelector;
}

export const GENERATOR_TYPES = [
  'list',
  'clusters',
  'git',
  'plugin',
  'pullRequest',
  'scmProvider',
  'clusterDecisionResource',
  'matrix',
  'merge',
] as const;
export type GeneratorType = (typeof GENERATOR_TYPES)[number];

/** The parameter sets of one top-level generator, with that generator's own template (if any). */
export interface GeneratorOutput {
  params: ParamSet[];
  /** `generators[i].<type>.template`, to be merged over `spec.template` the way Argo does. */
  template?: TemplateOverride;
}
