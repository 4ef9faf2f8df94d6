import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  isExactChartVersion,
  Renderer,
  type RenderContext,
  type RenderResult,
  type RenderSource,
  type RenderTool,
} from '../../../../libs/render/src/index.js';
import { targetNamespace, type ApplicationSpec } from '../applications/application.schemas.js';
import type { Capabilities } from '../clusters/capabilities.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { GitService } from '../git/git.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { BundleStore } from './bundle.store.js';
import { BundlesRepository } from './bundles.repository.js';

/** A rendered bundle, and the tool that rendered it (or would have: a cache hit). */
export interface Rendered {
  hash: string;
  tool: RenderTool;
  /** The render depends on more than its key (see RenderResult.unpinned): make it again later. */
  unpinned?: boolean;
}

export interface RenderRequest {
  appName: string;
  spec: ApplicationSpec;
  /** The commit to render at (ignored for Helm repository charts). */
  commit: string;
  /**
   * What the destination clusters serve (see commonCapabilities): Helm's `.Capabilities` and a
   * plugin's KUBE_VERSION / KUBE_API_VERSIONS, unless the source names its own.
   */
  capabilities?: Capabilities;
}

/**
 * Rendering for the hub: plain directories, Kustomize, Helm (from git or a chart repository) and
 * configured plugins, through the real binaries (libs/render). Renders are single-flighted by a
 * content key, so applications with identical sources render once.
 */
@Injectable()
export class RenderService implements OnModuleDestroy {
  private readonly log = new Logger('Render');
  readonly renderer: Renderer;
  private readonly inflight = new Map<string, Promise<{ hash: string; unpinned: boolean }>>();
  private readonly tools = new Map<string, Promise<RenderTool>>();

  constructor(
    git: GitService,
    private readonly bundles: BundlesRepository,
    private readonly store: BundleStore,
    private readonly metrics: MetricsService,
    @Inject(HUB_CONFIG) config: HubConfig,
  ) {
    const tools = config.render.tools;
    this.log.log(
      `tools: helm ${tools.helm ?? '(none)'}, kustomize ${tools.kustomize ?? '(none)'}, kubectl ${tools.kubectl ?? '(none)'}; plugins: ${config.render.plugins.map((p) => p.name).join(', ') || '(none)'}`,
    );
    this.renderer = new Renderer({
      git: git.cache,
      workDir: join(config.dataDir, 'render'),
      tools,
      plugins: config.render.plugins,
      // As Argo CD: a plain directory without its sub-directories unless `directory.recurse: true`
      // (a repository's sub-directories are often other applications, or not manifests at all).
      directoryRecurseDefault: false,
      timeoutMs: config.render.timeoutSeconds * 1000,
      // "2": renders of git charts whose dependencies float are no longer cached; older entries
      // may hold some, so none of them is used.
      cacheSalt: `2|${toolVersions(tools)}`,
    });
  }

  /** Renders one application (see renderMany). */
  async renderToStore(name: string, spec: ApplicationSpec, commit: string): Promise<string> {
    const [r] = await this.renderMany([{ appName: name, spec, commit }]);
    if (r instanceof Error) throw r;
    return r.hash;
  }

  /**
   * Renders many applications' sources into stored bundles and answers each with its bundle hash
   * or its error. Each distinct render key (repository, commit, path, tool, options, parameters,
   * and for Helm and plugins the application's name and namespace) is looked up in the render
   * cache once, in one round trip for all, and rendered at most once; requests that share a key
   * share its result. Helm repository charts on a floating version are never cached.
   */
  async renderMany(reqs: RenderRequest[]): Promise<(Rendered | Error)[]> {
    const keys = new Map<string, string>();
    const prepared = await Promise.all(reqs.map((r) => this.prepare(r, keys)));
    const distinct = [...new Set(keys.values())];
    const cached = distinct.length
      ? await this.bundles.cached(distinct)
      : new Map<string, string>();
    const runs = new Map<string, Promise<{ hash: string; unpinned: boolean }>>();
    let rendered = 0;
    const results = await Promise.all(
      prepared.map(async (p, i) => {
        if (p instanceof Error) return p;
        const hit = p.key ? cached.get(p.key) : undefined;
        if (hit) return { hash: hit, tool: p.tool };
        const runKey = p.key ?? `floating:${i}`;
        let run = runs.get(runKey);
        if (!run) {
          rendered++;
          run = this.renderOnce(p.src, p.ctx, p.key);
          runs.set(runKey, run);
        }
        try {
          const { hash, unpinned } = await run;
          return { hash, tool: p.tool, ...(unpinned ? { unpinned } : {}) };
        } catch (e) {
          return e instanceof Error ? e : new Error(String(e));
        }
      }),
    );
    const hits = reqs.length - rendered - prepared.filter((p) => p instanceof Error).length;
    if (hits > 0) this.metrics.renderCacheHits.inc(hits);
    return results;
  }

  /**
   * The source, context and exact render key of a request (undefined key: never cached). Keys are
   * computed once per distinct source in `keys` (and per application only for the tools whose
   * output depends on it: Helm and plugins).
   */
  private async prepare(
    req: RenderRequest,
    keys: Map<string, string>,
  ): Promise<{ src: RenderSource; ctx: RenderContext; tool: RenderTool; key?: string } | Error> {
    const { source } = req.spec;
    // As Argo CD: the source's helm.kubeVersion and helm.apiVersions when given, else what the
    // destination clusters' agents reported.
    const caps = req.capabilities;
    const kubeVersion = source.helm?.kubeVersion || caps?.kubeVersion;
    const own = source.helm?.apiVersions;
    const apiVersions = own?.length ? own : caps?.apiVersions;
    const ctx: RenderContext = {
      appName: req.appName,
      namespace: targetNamespace(req.spec),
      revision: source.targetRevision,
      ...(kubeVersion ? { kubeVersion } : {}),
      ...(apiVersions?.length ? { apiVersions } : {}),
    };
    const chartVersion = source.targetRevision === 'HEAD' ? '' : source.targetRevision;
    const src: RenderSource = source.chart
      ? { ...source, commit: '', chartVersion }
      : { ...source, commit: req.commit };
    // A chart's "latest" or a version range moves without any commit: never cached.
    if (source.chart && !isExactChartVersion(chartVersion)) return { src, ctx, tool: 'helm' };
    try {
      const sig = JSON.stringify(src);
      const tool = await this.toolOf(src, sig);
      const id =
        tool === 'helm' || tool === 'plugin'
          ? `${sig}\u0000${ctx.appName}\u0000${ctx.namespace}\u0000${ctx.revision}\u0000${caps?.hash ?? ''}`
          : sig;
      let key = keys.get(id);
      if (!key) {
        key = this.renderer.renderKey({ ...src, tool }, ctx);
        keys.set(id, key);
      }
      return { src, ctx, tool, key };
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  }

  /** The tool of a source, detected once per distinct source (the listing is read from git). */
  private toolOf(src: RenderSource, id: string): Promise<RenderTool> {
    let p = this.tools.get(id);
    if (!p) {
      p = this.renderer.resolveTool(src);
      this.tools.set(id, p);
      // Forget it soon: a batch shares it; the next commit has other sources anyway.
      void p
        .catch(() => undefined)
        .finally(() => setTimeout(() => this.tools.delete(id), 5000).unref());
    }
    return p;
  }

  /** Renders one key (concurrent callers on this replica share the run) and stores the bundle. */
  private renderOnce(
    src: RenderSource,
    ctx: RenderContext,
    key: string | undefined,
  ): Promise<{ hash: string; unpinned: boolean }> {
    if (!key) return this.renderAndStore(src, ctx, undefined);
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.renderAndStore(src, ctx, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async renderAndStore(
    src: RenderSource,
    ctx: RenderContext,
    key: string | undefined,
  ): Promise<{ hash: string; unpinned: boolean }> {
    let result: RenderResult;
    try {
      result = await this.renderer.render(src, ctx);
    } catch (e) {
      this.metrics.renders.inc({ tool: 'unknown', result: 'error' });
      throw e;
    }
    this.metrics.renders.inc({ tool: result.tool, result: 'ok' });
    for (const w of result.warnings ?? [])
      this.log.warn(`${ctx.appName}: ${w} (${src.repoURL}@${src.commit.slice(0, 12)})`);
    await this.store.put(result);
    // A chart whose dependencies float (a range, no lock file) is rendered again each time.
    if (key && !result.unpinned) await this.bundles.cache([key, result.key], result.hash);
    return { hash: result.hash, unpinned: result.unpinned === true };
  }

  async onModuleDestroy(): Promise<void> {
    await this.renderer.close();
  }
}

/** Tool versions, mixed into render keys so an upgrade invalidates cached renders. */
function toolVersions(tools: { helm?: string; kustomize?: string; kubectl?: string }): string {
  const v = (bin: string | undefined, args: string[]) => {
    if (!bin) return '-';
    try {
      return execFileSync(bin, args, {
        timeout: 10_000,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '?';
    }
  };
  return [
    v(tools.helm, ['version', '--short']),
    v(tools.kustomize, ['version']),
    v(tools.kubectl, ['version', '--client']),
  ].join('|');
}
