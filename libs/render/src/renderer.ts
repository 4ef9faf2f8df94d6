import { randomBytes } from 'node:crypto';
import { cp, lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import { GitError, type GitCache, type TreeEntry } from '../../git/src/index.js';
import {
  DEFAULT_LIMITS,
  makeBundle,
  ManifestError,
  parseManifests,
  type KubeObject,
  type ManifestLimits,
} from '../../manifests/src/index.js';
import { detectTool, explicitTool } from './detect.js';
import { readDirectoryObjects } from './directory.js';
import { RenderError } from './errors.js';
import {
  helmTemplateArgs,
  inlineValues,
  isExactChartVersion,
  missingDependencies,
  readChartDependencies,
  readLockedDependencies,
  type ChartDependency,
} from './helm.js';
import {
  applyKustomizeEdits,
  hasKustomizeOverrides,
  kustomizeEditCommands,
} from './kustomize-edit.js';
import { checkKustomizeReferences } from './kustomize-refs.js';
import { normalizeRepoPath, PathEscapeError, resolveInside } from './paths.js';
import { pluginEnv } from './plugin.js';
import { ProcessError, runProcess, Semaphore } from './process.js';
import { computeRenderKey, type KeyInputs } from './render-key.js';
import { DEFAULT_TREE_LIMITS, TreeCache } from './tree-cache.js';
import type {
  PluginConfig,
  RenderContext,
  RendererOptions,
  RenderResult,
  RenderSource,
  RenderTool,
  TreeLimits,
} from './types.js';

const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const PROXY_VARS = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
];

/** A private scratch directory of one render: HOME, TMPDIR, helm homes, values, copies. */
interface Scratch {
  dir: string;
  home: string;
  tmp: string;
  /** Given back when the scratch directory is gone (a place for a private copy). */
  releases: (() => void)[];
}

/** Directories to hide in error messages: repository roots and scratch directories. */
interface Scrub {
  repo: string[];
  tmp: string[];
}

/**
 * Renders application sources to manifest bundles: plain directories (read from git), Kustomize
 * and Helm (the real binaries, on a materialized checkout of the commit), charts from HTTP(S) Helm
 * repositories, and configured plugin commands. Concurrent renders with the same key run once.
 * Every tool runs with a minimal environment (PATH, a private HOME/TMPDIR, private Helm
 * directories), a time limit and an output limit, and is killed with its whole process group
 * when it exceeds either.
 */
export class Renderer {
  private readonly git: GitCache;
  private readonly workDir: string;
  private readonly limits: ManifestLimits;
  private readonly treeLimits: TreeLimits;
  private readonly timeoutMs: number;
  private readonly maxOutputBytes: number;
  private readonly trees: TreeCache;
  private readonly slots: Semaphore;
  /**
   * Private copies of a repository existing at once (one per render that edits files: plugins,
   * Kustomize overrides, Helm dependencies), as many as tools run at once: each is up to the
   * tree limit, and a batch of thousands of applications started them all together.
   */
  private readonly copies: Semaphore;
  private readonly keyInputs: KeyInputs;
  private readonly toolEnv: Record<string, string>;
  private readonly inflight = new Map<string, Promise<RenderResult>>();
  private ready: Promise<void> | undefined;

  constructor(private readonly opts: RendererOptions) {
    this.git = opts.git;
    this.workDir = resolve(opts.workDir);
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.treeLimits = { ...DEFAULT_TREE_LIMITS, ...opts.tree };
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxOutputBytes = opts.maxOutputBytes ?? this.limits.maxBundleBytes;
    this.trees = new TreeCache(this.git, join(this.workDir, 'trees'), this.treeLimits);
    this.slots = new Semaphore(opts.maxConcurrency ?? Math.max(2, availableParallelism()));
    this.copies = new Semaphore(opts.maxConcurrency ?? Math.max(2, availableParallelism()));
    const names = new Set<string>();
    for (const p of opts.plugins ?? []) {
      if (names.has(p.name)) throw new Error(`plugin "${p.name}" is configured twice`);
      if (p.command.length === 0) throw new Error(`plugin "${p.name}" has an empty command`);
      names.add(p.name);
    }
    this.keyInputs = {
      directoryRecurseDefault: opts.directoryRecurseDefault ?? false,
      toolIdentity: { ...opts.tools },
      plugins: opts.plugins ?? [],
      salt: opts.cacheSalt ?? '',
    };
    this.toolEnv = opts.toolEnv ?? pickProxyEnv();
  }

  /**
   * The cache key of `render(src, ctx)`. Exact when the tool is explicit (see `explicitTool`);
   * otherwise conservative (it includes every tool's inputs): call `resolveTool` first and pass
   * `{ ...src, tool }` for the exact key. Equal keys give equal bundles. Throws on an invalid path.
   */
  renderKey(src: RenderSource, ctx: RenderContext): string {
    return computeRenderKey(
      { ...src, path: normalizeRepoPath(src.path ?? '') },
      ctx,
      this.keyInputs,
    );
  }

  /** The tool that renders `src`: explicit, or detected from the files at its path. */
  async resolveTool(src: RenderSource): Promise<RenderTool> {
    return (await this.prepareSource(src)).tool;
  }

  /** Renders; concurrent calls with the same (exact) key share one run. */
  async render(src: RenderSource, ctx: RenderContext): Promise<RenderResult> {
    const { source, tool, listing } = await this.prepareSource(src);
    const key = computeRenderKey(source, ctx, this.keyInputs, tool);
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.run(source, ctx, tool, listing)
      .then((b): RenderResult => ({ ...b, tool, key }))
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Deletes the materialized trees (those in use when their renders finish). */
  async close(): Promise<void> {
    await this.trees.clear();
  }

  // --- dispatch -------------------------------------------------------------------------------

  private async prepareSource(
    src: RenderSource,
  ): Promise<{ source: RenderSource; tool: RenderTool; listing?: TreeEntry[] }> {
    const path = normalizeRepoPath(src.path ?? '');
    const source = { ...src, path };
    if (src.chart) {
      if (!CHART_NAME.test(src.chart)) throw new RenderError(`invalid chart name "${src.chart}"`);
      if (!/^https?:\/\//i.test(src.repoURL)) {
        throw new RenderError(`chart repository "${src.repoURL}" must be an http(s) URL`, 'helm');
      }
      if (src.chartVersion?.startsWith('-')) {
        throw new RenderError(`invalid chart version "${src.chartVersion}"`, 'helm');
      }
      return { source, tool: 'helm' };
    }
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(src.commit)) {
      throw new RenderError(`"${src.commit}" is not a full commit SHA`, undefined, path);
    }
    const explicit = explicitTool(src);
    if (explicit && explicit !== 'directory') return { source, tool: explicit };
    let listing: TreeEntry[];
    try {
      listing = await this.git.listTree(src.repoURL, src.commit, path);
    } catch (e) {
      if (e instanceof GitError)
        throw new RenderError(e.message, undefined, path, undefined, { cause: e });
      throw e;
    }
    return { source, tool: explicit ?? detectTool(listing, path), listing };
  }

  private async run(
    src: RenderSource,
    ctx: RenderContext,
    tool: RenderTool,
    listing: TreeEntry[] | undefined,
  ): Promise<Omit<RenderResult, 'tool' | 'key'>> {
    await (this.ready ??= this.prepareWorkDir().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    }));
    switch (tool) {
      case 'directory': {
        const warnings: string[] = [];
        const objects = await readDirectoryObjects(
          this.git,
          src.repoURL,
          src.commit,
          src.path,
          {
            ...src.directory,
            recurse: src.directory?.recurse ?? this.keyInputs.directoryRecurseDefault,
          },
          this.limits,
          listing,
          (w) => warnings.push(w),
        );
        return { ...makeBundle(objects, this.limits), ...(warnings.length ? { warnings } : {}) };
      }
      case 'kustomize':
        return this.kustomize(src);
      case 'helm':
        return src.chart ? this.helmFromRepository(src, ctx) : this.helmFromGit(src, ctx);
      case 'plugin':
        return this.plugin(src, ctx);
    }
  }

  private async prepareWorkDir(): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
    await Promise.all(
      ['trees', 'runs'].map((d) => rm(join(this.workDir, d), { recursive: true, force: true })),
    );
    await mkdir(join(this.workDir, 'trees'), { recursive: true });
    await mkdir(join(this.workDir, 'runs'), { recursive: true });
  }

  // --- kustomize ------------------------------------------------------------------------------

  private async kustomize(src: RenderSource) {
    const { kustomize, kubectl } = this.opts.tools ?? {};
    if (!kustomize && !kubectl) {
      throw new RenderError(
        'no kustomize or kubectl binary on the hub: put kustomize on PATH or set AXLE_KUSTOMIZE_PATH (npm install builds it when Go is present)',
        'kustomize',
        src.path,
      );
    }
    return this.withTree(src, 'kustomize', async (tree, scratch) => {
      let root = tree;
      const overrides = hasKustomizeOverrides(src.kustomize) ? src.kustomize : undefined;
      if (overrides) root = await this.copyTree(tree, scratch);
      const appDir = await this.appDir(root, src.path, 'kustomize');
      const env = this.toolProcessEnv(scratch);
      const hide = { repo: [root, tree], tmp: [scratch.dir] };
      if (overrides && kustomize) {
        for (const args of kustomizeEditCommands(overrides)) {
          await this.exec('kustomize edit', src.path, kustomize, args, { cwd: appDir, env }, hide);
        }
      } else if (overrides) {
        await applyKustomizeEdits(appDir, overrides).catch((e: unknown) => {
          throw e instanceof RenderError
            ? new RenderError(e.message, 'kustomize edit', src.path)
            : e;
        });
      }
      await checkKustomizeReferences(root, appDir, src.path);
      const [cmd, args, label] = kustomize
        ? [kustomize, ['build', appDir], 'kustomize build']
        : [kubectl!, ['kustomize', appDir], 'kubectl kustomize'];
      const out = await this.exec(label, src.path, cmd, args, { cwd: root, env }, hide);
      return this.bundle(out, label, src.path);
    });
  }

  // --- helm -----------------------------------------------------------------------------------

  private helmBinary(src: RenderSource): string {
    const helm = this.opts.tools?.helm;
    if (!helm)
      throw new RenderError(
        'no helm binary on the hub: put helm on PATH or set AXLE_HELM_PATH (npm install builds it when Go is present)',
        'helm',
        src.path,
      );
    return helm;
  }

  private async helmFromGit(src: RenderSource, ctx: RenderContext) {
    const helm = this.helmBinary(src);
    return this.withTree(src, 'helm', async (tree, scratch) => {
      let root = tree;
      let chartDir = await this.appDir(root, src.path, 'helm');
      const env = await this.helmEnv(scratch);
      const deps = await readChartDependencies(chartDir).catch((e: unknown) => {
        throw e instanceof RenderError ? new RenderError(e.message, 'helm', src.path) : e;
      });
      const missing = await missingDependencies(chartDir, deps);
      const unpinned = missing.length > 0 && !(await hasLockFile(chartDir)) && ranged(missing);
      if (missing.length > 0) {
        root = await this.copyTree(tree, scratch);
        chartDir = await this.appDir(root, src.path, 'helm');
        await this.helmDependencyBuild(helm, src, root, chartDir, deps, env, scratch);
      }
      const valueFiles = await this.valueFiles(src, root, src.path, 'repository');
      const hide = { repo: [root, tree], tmp: [scratch.dir] };
      const out = await this.helmTemplate(helm, src, ctx, chartDir, valueFiles, env, scratch, hide);
      return unpinned ? { ...out, unpinned: true as const } : out;
    });
  }

  private async helmFromRepository(src: RenderSource, ctx: RenderContext) {
    const helm = this.helmBinary(src);
    return this.withScratch(async (scratch) => {
      const env = await this.helmEnv(scratch);
      const untar = join(scratch.dir, 'chart');
      const args = ['pull', `--repo=${src.repoURL}`, '--untar', `--untardir=${untar}`];
      if (src.chartVersion) args.push(`--version=${src.chartVersion}`);
      args.push('--', src.chart!);
      const label = `helm pull ${src.chart}`;
      await this.exec(
        label,
        src.path,
        helm,
        args,
        { cwd: scratch.dir, env },
        { repo: [], tmp: [scratch.dir] },
      );
      const chartDir = join(untar, src.chart!);
      const st = await stat(chartDir).catch(() => undefined);
      if (!st?.isDirectory()) {
        throw new RenderError(`the pulled archive has no ${src.chart}/ directory`, label);
      }
      await checkPulledChart(chartDir, this.treeLimits, label);
      const valueFiles = await this.valueFiles(src, chartDir, '', 'chart');
      const hide = { repo: [], tmp: [scratch.dir] };
      return this.helmTemplate(helm, src, ctx, chartDir, valueFiles, env, scratch, hide);
    });
  }

  private async helmTemplate(
    helm: string,
    src: RenderSource,
    ctx: RenderContext,
    chartDir: string,
    valueFiles: string[],
    env: Record<string, string>,
    scratch: Scratch,
    hide: Scrub,
  ) {
    const inline = inlineValues(src.helm);
    let inlineFile: string | undefined;
    if (inline !== undefined) {
      inlineFile = join(scratch.dir, 'inline-values.yaml');
      await writeFile(inlineFile, inline);
    }
    const args = helmTemplateArgs(src.helm, ctx, valueFiles, inlineFile);
    const out = await this.exec(
      'helm template',
      src.path,
      helm,
      args,
      { cwd: chartDir, env },
      hide,
    );
    return this.bundle(out, 'helm template', src.path);
  }

  /**
   * Value files, resolved below `base` (the repository root, or a pulled chart): relative to the
   * chart, or with a leading `/` to `base`, as Argo CD resolves them; `..` may leave the chart but
   * never `base`.
   */
  private async valueFiles(
    src: RenderSource,
    base: string,
    chartRel: string,
    within: string,
  ): Promise<string[]> {
    const out: string[] = [];
    for (const f of src.helm?.valueFiles ?? []) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(f)) {
        throw new RenderError(
          `value file "${f}": remote value files are not supported`,
          'helm',
          src.path,
        );
      }
      let file: string;
      try {
        if (f.includes('\0')) throw new PathEscapeError('NUL');
        file = await resolveInside(
          base,
          f.startsWith('/') ? f.replace(/^\/+/, '') : posix.join(chartRel, f),
        );
      } catch (e) {
        if (!(e instanceof PathEscapeError)) throw e;
        throw new RenderError(`value file "${f}" is outside the ${within}`, 'helm', src.path);
      }
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) {
        if (src.helm?.ignoreMissingValueFiles) continue;
        throw new RenderError(`value file "${f}" does not exist`, 'helm', src.path);
      }
      out.push(file);
    }
    return out;
  }

  private async helmDependencyBuild(
    helm: string,
    src: RenderSource,
    root: string,
    chartDir: string,
    deps: ChartDependency[],
    env: Record<string, string>,
    scratch: Scratch,
  ): Promise<void> {
    const max = this.opts.maxChartDependencies ?? 20;
    if (deps.length > max) {
      throw new RenderError(
        `chart has ${deps.length} dependencies, more than ${max}`,
        'helm',
        src.path,
      );
    }
    const hide = { repo: [root], tmp: [scratch.dir] };
    const repos = new Set<string>();
    for (const d of deps) {
      if (await this.checkDependencySource(d, '', src, root, chartDir)) repos.add(d.repository!);
    }
    // helm takes what a lock names when its digest matches, and anyone can compute that digest:
    // each locked dependency must come from where the chart declares it, and stay in the repository.
    const locks = await readLockedDependencies(chartDir).catch((e: unknown) => {
      throw e instanceof RenderError ? new RenderError(e.message, 'helm', src.path) : e;
    });
    for (const { file, dependencies } of locks) {
      for (const l of dependencies) {
        await this.checkDependencySource(l, `${file}: `, src, root, chartDir);
        const declared = deps.filter((d) => d.name === l.name);
        if (!declared.some((d) => d.repository === l.repository)) {
          const names = declared.length
            ? `the chart declares it from ${declared.map((d) => `"${d.repository ?? ''}"`).join(', ')}`
            : 'the chart declares no such dependency';
          throw new RenderError(
            `${file}: dependency ${l.name} from "${l.repository ?? ''}", but ${names}`,
            'helm',
            src.path,
          );
        }
      }
    }
    let i = 0;
    for (const url of repos) {
      const args = ['repo', 'add', `axle-dep-${i++}`, url];
      await this.exec('helm repo add', src.path, helm, args, { cwd: chartDir, env }, hide);
    }
    const args = ['dependency', 'build', '--skip-refresh', '.'];
    await this.exec('helm dependency build', src.path, helm, args, { cwd: chartDir, env }, hide);
  }

  /**
   * Refuses a dependency (`where` names the lock file it comes from, if any) that is neither in an
   * http(s), oci or file repository, or whose file:// path leaves the repository; true for http(s).
   */
  private async checkDependencySource(
    d: ChartDependency,
    where: string,
    src: RenderSource,
    root: string,
    chartDir: string,
  ): Promise<boolean> {
    const repo = d.repository ?? '';
    if (/^https?:\/\//i.test(repo)) return true;
    if (repo.startsWith('file://')) {
      const path = repo.slice('file://'.length);
      // Helm reads file:///abs as an absolute path: anywhere on the hub's disk.
      const inside = posix.isAbsolute(path)
        ? Promise.reject(new PathEscapeError(`${path} is absolute`))
        : resolveInside(root, posix.join(relative(root, chartDir), path));
      await inside.catch((e: unknown) => {
        if (!(e instanceof PathEscapeError)) throw e;
        throw new RenderError(
          `${where}dependency ${d.name}: ${repo} is outside the repository`,
          'helm',
          src.path,
        );
      });
    } else if (!repo.startsWith('oci://')) {
      throw new RenderError(
        `${where}dependency ${d.name} is not in charts/ and its repository "${repo}" is not an http(s), oci or file URL`,
        'helm',
        src.path,
      );
    }
    return false;
  }

  private async helmEnv(scratch: Scratch): Promise<Record<string, string>> {
    const helmHome = join(scratch.dir, 'helm');
    const env = {
      ...this.toolProcessEnv(scratch),
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
      KUBECONFIG: join(helmHome, 'kubeconfig'),
    };
    await mkdir(helmHome, { recursive: true });
    return env;
  }

  // --- plugins --------------------------------------------------------------------------------

  private async plugin(src: RenderSource, ctx: RenderContext) {
    const name = src.plugin?.name;
    const config: PluginConfig | undefined = this.opts.plugins?.find((p) => p.name === name);
    if (!name || !config) {
      throw new RenderError(
        `plugin "${name ?? ''}" is not configured on this hub`,
        'plugin',
        src.path,
      );
    }
    const label = `plugin ${name}`;
    const vars = pluginEnv(src, ctx, src.plugin!);
    return this.withTree(src, label, async (tree, scratch) => {
      const root = await this.copyTree(tree, scratch);
      const appDir = await this.appDir(root, src.path, label);
      const env = { ...vars, ...this.baseEnv(scratch) };
      const timeoutMs = config.timeoutSeconds ? config.timeoutSeconds * 1000 : this.timeoutMs;
      const [cmd, ...args] = config.command;
      const hide = { repo: [root, tree], tmp: [scratch.dir] };
      const out = await this.exec(
        label,
        src.path,
        cmd,
        args,
        { cwd: appDir, env, timeoutMs },
        hide,
      );
      return this.bundle(out, label, src.path);
    });
  }

  // --- shared machinery -----------------------------------------------------------------------

  private async withScratch<T>(fn: (s: Scratch) => Promise<T>): Promise<T> {
    const dir = join(this.workDir, 'runs', `r-${randomBytes(6).toString('hex')}`);
    const scratch: Scratch = { dir, home: join(dir, 'home'), tmp: join(dir, 'tmp'), releases: [] };
    try {
      await mkdir(scratch.home, { recursive: true });
      await mkdir(scratch.tmp, { recursive: true });
      return await fn(scratch);
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      for (const release of scratch.releases) release();
    }
  }

  private async withTree<T>(
    src: RenderSource,
    tool: string,
    fn: (tree: string, s: Scratch) => Promise<T>,
  ): Promise<T> {
    let lease;
    try {
      lease = await this.trees.acquire(src.repoURL, src.commit);
    } catch (e) {
      if (e instanceof RenderError && !e.tool) {
        throw new RenderError(e.message, tool, src.path, undefined, { cause: e });
      }
      if (e instanceof GitError)
        throw new RenderError(e.message, tool, src.path, undefined, { cause: e });
      throw e;
    }
    try {
      // A file too large to check out fails the application whose directory holds it, alone.
      const dir = src.path.replace(/\/+$/, '');
      const own = lease.withheld.filter((p) => !dir || p === dir || p.startsWith(`${dir}/`));
      if (own.length) {
        throw new RenderError(
          `file is larger than ${this.treeLimits.maxFileBytes} bytes: ${own[0]}`,
          tool,
          src.path,
        );
      }
      return await this.withScratch((s) => fn(lease.root, s));
    } catch (e) {
      // Elsewhere in the repository it was left out: say so should the tool have wanted it.
      if (e instanceof RenderError && lease.withheld.length && !e.message.includes('larger than')) {
        const list = lease.withheld.slice(0, 3).join(', ');
        e.message = `${e.message} (files over ${this.treeLimits.maxFileBytes} bytes were left out of the checkout: ${list})`;
      }
      throw e;
    } finally {
      lease.release();
    }
  }

  /** A private, writable copy of a materialized tree (tools that edit files work on this). */
  private async copyTree(tree: string, scratch: Scratch): Promise<string> {
    // Held until the scratch directory (and the copy in it) is removed. A render holding one
    // then waits for a tool slot; tool slots are never held while waiting for a copy.
    scratch.releases.push(await this.copies.acquire());
    const copy = join(scratch.dir, 'repo');
    await cp(tree, copy, {
      recursive: true,
      verbatimSymlinks: true,
      errorOnExist: true,
      force: false,
    });
    return copy;
  }

  /** The source directory in a tree: it must exist, be a directory, and stay inside. */
  private async appDir(root: string, path: string, tool: string): Promise<string> {
    let dir: string;
    try {
      dir = await resolveInside(root, path);
    } catch (e) {
      if (!(e instanceof PathEscapeError)) throw e;
      throw new RenderError(`the source path leads out of the repository`, tool, path);
    }
    const st = await stat(dir).catch(() => undefined);
    if (!st) throw new RenderError('the source path does not exist at this commit', tool, path);
    if (!st.isDirectory()) throw new RenderError('the source path is not a directory', tool, path);
    return dir;
  }

  private baseEnv(scratch: Scratch): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: scratch.home,
      TMPDIR: scratch.tmp,
    };
  }

  private toolProcessEnv(scratch: Scratch): Record<string, string> {
    return { ...this.toolEnv, ...this.baseEnv(scratch) };
  }

  private async exec(
    label: string,
    path: string,
    cmd: string,
    args: string[],
    o: { cwd: string; env: Record<string, string>; timeoutMs?: number },
    scrub: Scrub,
  ): Promise<string> {
    try {
      const { stdout } = await this.slots.run(() =>
        runProcess(cmd, args, {
          cwd: o.cwd,
          env: o.env,
          timeoutMs: o.timeoutMs ?? this.timeoutMs,
          maxStdoutBytes: this.maxOutputBytes,
        }),
      );
      return stdout;
    } catch (e) {
      if (!(e instanceof ProcessError)) throw e;
      const detail = scrubPaths(e.stderr, scrub);
      throw new RenderError(e.message, label, path, detail, { cause: e });
    }
  }

  private bundle(text: string, label: string, path: string) {
    let objects: KubeObject[];
    const warnings: string[] = [];
    try {
      objects = parseManifests(text, `${label} output`, this.limits, (w) => warnings.push(w));
      return { ...makeBundle(objects, this.limits), ...(warnings.length ? { warnings } : {}) };
    } catch (e) {
      if (e instanceof ManifestError) {
        throw new RenderError(`invalid output: ${e.message}`, label, path, undefined, { cause: e });
      }
      throw e;
    }
  }
}

/** Whether a chart directory has the lock file `helm dependency build` pins versions from. */
async function hasLockFile(chartDir: string): Promise<boolean> {
  for (const f of ['Chart.lock', 'requirements.lock']) {
    if ((await stat(join(chartDir, f)).catch(() => undefined))?.isFile()) return true;
  }
  return false;
}

/** Whether some dependency is fetched from a chart repository by anything but one version. */
function ranged(deps: ChartDependency[]): boolean {
  return deps.some((d) => !d.repository?.startsWith('file://') && !isExactChartVersion(d.version));
}

/** Replaces the tree and scratch directories in tool messages with `<repo>` and `<tmp>`. */
function scrubPaths(text: string, scrub: Scrub): string {
  const pairs: [string, string][] = [
    ...scrub.repo.map((d): [string, string] => [d, '<repo>']),
    ...scrub.tmp.map((d): [string, string] => [d, '<tmp>']),
  ].sort((a, b) => b[0].length - a[0].length);
  let out = text;
  for (const [d, r] of pairs) out = out.split(d).join(r);
  return out;
}

function pickProxyEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PROXY_VARS) {
    const v = process.env[k];
    if (v) env[k] = v;
  }
  return env;
}

/** A pulled chart must respect the tree limits and contain no symbolic links. */
async function checkPulledChart(dir: string, limits: TreeLimits, label: string): Promise<void> {
  let entries = 0;
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d)) {
      const p = join(d, name);
      const st = await lstat(p);
      if (++entries > limits.maxEntries) {
        throw new RenderError(`chart has more than ${limits.maxEntries} entries`, label);
      }
      if (st.isSymbolicLink())
        throw new RenderError(`chart contains a symbolic link: ${name}`, label);
      if (st.isDirectory()) await walk(p);
      else {
        if (st.size > limits.maxFileBytes) {
          throw new RenderError(
            `chart file is larger than ${limits.maxFileBytes} bytes: ${name}`,
            label,
          );
        }
        bytes += st.size;
        if (bytes > limits.maxBytes) {
          throw new RenderError(`chart files add up to more than ${limits.maxBytes} bytes`, label);
        }
      }
    }
  };
  await walk(dir);
}
