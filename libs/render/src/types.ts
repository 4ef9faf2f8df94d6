import type { Bundle, ManifestLimits } from '../../manifests/src/index.js';
import type { GitCache } from '../../git/src/index.js';

/** How a source is turned into manifests. */
export type RenderTool = 'directory' | 'kustomize' | 'helm' | 'plugin';

/** Options of a plain directory of YAML/JSON manifests (Argo CD's `source.directory`). */
export interface DirectoryOptions {
  /** Descend into sub-directories. Default: the renderer's `directoryRecurseDefault` (false). */
  recurse?: boolean;
  /**
   * Glob matched against each file's path relative to the source path (gobwas/glob semantics as in
   * Argo CD: `*` also crosses `/`, `{a,b}` alternatives, `?`, `[a-z]`, `[!x]`).
   */
  include?: string;
  /** Glob (same syntax) of files to leave out; wins over `include`. */
  exclude?: string;
}

/** App-level Kustomize overrides, applied like Argo CD: `kustomize edit …` on a private copy. */
export interface KustomizeOptions {
  namePrefix?: string;
  nameSuffix?: string;
  /** `kustomize edit set image` arguments: `name=new:tag`, `name:tag`, `name@digest`, … */
  images?: string[];
  commonLabels?: Record<string, string>;
  /** Override labels the kustomization already sets (`edit add label --force`). */
  forceCommonLabels?: boolean;
  commonAnnotations?: Record<string, string>;
  /** Override annotations the kustomization already sets (`edit add annotation --force`). */
  forceCommonAnnotations?: boolean;
  namespace?: string;
}

export interface HelmParameter {
  name: string;
  value: string;
  /** `--set-string` instead of `--set` (no type coercion). */
  forceString?: boolean;
}

/** Argo CD's `source.helm`. */
export interface HelmOptions {
  /** Default: the application name. */
  releaseName?: string;
  /** Default: the application's destination namespace. */
  namespace?: string;
  /** Inline values (YAML text), applied after `valueFiles`. */
  values?: string;
  /** Inline values as an object; wins over `values` when both are given (as in Argo CD). */
  valuesObject?: Record<string, unknown>;
  /** Values files relative to the chart directory; must stay inside the repository (or chart). */
  valueFiles?: string[];
  /** Missing `valueFiles` are skipped instead of failing the render. */
  ignoreMissingValueFiles?: boolean;
  parameters?: HelmParameter[];
  /** Leave the chart's `crds/` out (otherwise `--include-crds`, as Argo CD does). */
  skipCrds?: boolean;
  /** `--skip-tests`: leave out test hooks. */
  skipTests?: boolean;
  /** `--skip-schema-validation`. */
  skipSchemaValidation?: boolean;
}

export interface PluginEnvVar {
  name: string;
  value: string;
}

/** A reference to a plugin configured on the renderer (Argo CD's `source.plugin`). */
export interface PluginSourceOptions {
  name: string;
  /** Exposed as `ARGOCD_ENV_<name>` (and `AXLE_ENV_<name>`). */
  env?: PluginEnvVar[];
  /**
   * Exposed as `PARAM_<NAME>` and in `ARGOCD_APP_PARAMETERS` (JSON): by name, or as Argo CD
   * writes them (a list of a string, an array or a map each).
   */
  parameters?: Record<string, string> | PluginParameter[];
}

/** An Argo CD plugin parameter: one of `string`, `array` and `map`. */
export interface PluginParameter {
  name: string;
  string?: string;
  array?: string[];
  map?: Record<string, string>;
}

/**
 * What to render: a path in a git repository at a resolved commit, or (with `chart`) a chart in an
 * HTTP(S) Helm chart repository.
 */
export interface RenderSource {
  /** Git repository URL, or the Helm chart repository URL when `chart` is set. */
  repoURL: string;
  /** Full commit SHA (git sources). Ignored for `chart` sources. */
  commit: string;
  /** Directory inside the repository; `''` is the root. No `..`, not absolute. */
  path: string;
  /**
   * Explicit tool. Without it: `helm` when `chart` is set; else the one tool whose options object
   * is given (`directory`/`kustomize`/`helm`/`plugin`, as Argo CD's "explicit type"); else detected
   * from the files at `path` (see `detectTool`).
   */
  tool?: RenderTool;
  directory?: DirectoryOptions;
  kustomize?: KustomizeOptions;
  helm?: HelmOptions;
  plugin?: PluginSourceOptions;
  /** Chart name in the Helm repository `repoURL`. */
  chart?: string;
  /** Chart version (the application's targetRevision). Empty: the latest. */
  chartVersion?: string;
}

/** The application a source is rendered for. Tools may see these (Helm, plugins). */
export interface RenderContext {
  appName: string;
  /** Destination namespace. */
  namespace: string;
  /** The source's targetRevision as written (e.g. `main`); default: the commit. */
  revision?: string;
  /** Destination cluster version (`helm template --kube-version`, `KUBE_VERSION`). */
  kubeVersion?: string;
  /** Destination cluster API versions (`helm template --api-versions`, `KUBE_API_VERSIONS`). */
  apiVersions?: string[];
}

/** A render command configured on the hub (like an Argo CD config management plugin). */
export interface PluginConfig {
  name: string;
  /** argv; run in (a private copy of) the application directory; stdout is the manifests. */
  command: string[];
  /** Default: the renderer's `timeoutMs`. */
  timeoutSeconds?: number;
}

/** Paths of the tool binaries. */
export interface RenderTools {
  /** `kustomize` binary; when given, Kustomize sources run `kustomize build` (and `edit`). */
  kustomize?: string;
  /** `kubectl` binary; used (`kubectl kustomize`) when `kustomize` is not given. */
  kubectl?: string;
  /** `helm` (v3) binary. */
  helm?: string;
}

/** Bounds of a materialized repository checkout. */
export interface TreeLimits {
  /** Most entries (files, directories, links) in one repository tree. */
  maxEntries: number;
  /** Largest sum of file sizes in one tree. */
  maxBytes: number;
  /** Largest single file. */
  maxFileBytes: number;
  /** Materialized trees kept (least recently used ones are deleted beyond this). */
  cacheSize: number;
}

export interface RendererOptions {
  git: GitCache;
  /** Scratch and cache directory owned by the renderer (emptied when it first runs). */
  workDir: string;
  tools?: RenderTools;
  plugins?: PluginConfig[];
  /** Parsing limits of the rendered manifests. Default: DEFAULT_LIMITS. */
  limits?: ManifestLimits;
  /** Time limit of each tool process, in ms. Default 60 000. */
  timeoutMs?: number;
  /** Largest stdout of a tool process. Default: `limits.maxBundleBytes`. */
  maxOutputBytes?: number;
  tree?: Partial<TreeLimits>;
  /** `directory.recurse` when a source does not say. Default false (Argo CD's default). */
  directoryRecurseDefault?: boolean;
  /** Tool processes running at once. Default: max(2, available parallelism). */
  maxConcurrency?: number;
  /**
   * Extra environment for helm and kustomize (not plugins), e.g. proxies. Default: the hub's
   * `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (any case) when set.
   */
  toolEnv?: Record<string, string>;
  /** Mixed into every render key, e.g. the tool versions, so an upgrade invalidates caches. */
  cacheSalt?: string;
  /** Most Helm chart dependencies fetched by `helm dependency build`. Default 20. */
  maxChartDependencies?: number;
}

/** A rendered bundle, plus how it was made. Shared between concurrent callers: do not mutate. */
export interface RenderResult extends Bundle {
  tool: RenderTool;
  /** `renderKey` of the (tool-resolved) source: equal keys give equal bundles. */
  key: string;
  /** What was accepted but deserves a look (e.g. a mapping key given twice), by file and line. */
  warnings?: string[];
  /**
   * The output depends on more than the key: Helm dependencies resolved from a chart repository
   * by a version range, with no lock file pinning them. Such a render is not to be cached (a
   * newer matching release changes it without any commit), as a chart source's range is not.
   */
  unpinned?: true;
}
