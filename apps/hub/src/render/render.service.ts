import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  isExactChartVersion,
  Renderer,
  type RenderContext,
  type RenderResult,
  type RenderSource,
} from '../../../../libs/render/src/index.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { DataSource } from 'typeorm';
import { GitService } from '../git/git.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { BundleStore } from './bundle.store.js';

/**
 * Rendering for the hub: plain directories, Kustomize, Helm (from git or a chart repository) and
 * configured plugins, through the real binaries (libs/render). Renders are single-flighted by a
 * content key, so applications with identical sources render once.
 */
@Injectable()
export class RenderService implements OnModuleDestroy {
  private readonly log = new Logger('Render');
  readonly renderer: Renderer;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    git: GitService,
    private readonly ds: DataSource,
    private readonly bundles: BundleStore,
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
      // Axle renders plain directories recursively unless `directory.recurse: false`.
      directoryRecurseDefault: true,
      timeoutMs: config.render.timeoutSeconds * 1000,
      cacheSalt: toolVersions(tools),
    });
  }

  /**
   * Renders an application's source at `commit` (ignored for Helm repository charts) into a stored
   * bundle and returns its hash. A render key seen before (same repository, commit, path, tool,
   * options and parameters) is answered from the cache without running anything.
   */
  async renderToStore(name: string, spec: ApplicationSpec, commit: string): Promise<string> {
    const { source } = spec;
    const ctx: RenderContext = {
      appName: name,
      namespace: spec.destination.namespace,
      revision: source.targetRevision,
    };
    const chartVersion = source.targetRevision === 'HEAD' ? '' : source.targetRevision;
    const src: RenderSource = source.chart
      ? { ...source, commit: '', chartVersion }
      : { ...source, commit };
    // A chart's "latest" or a version range moves without any commit: never cached.
    if (source.chart && !isExactChartVersion(chartVersion))
      return this.renderAndStore(src, ctx, undefined);
    // The exact key (tool resolved): directory and Kustomize renders do not depend on the
    // application, so every application with this source shares one render.
    const key = this.renderer.renderKey(
      { ...src, tool: await this.renderer.resolveTool(src) },
      ctx,
    );
    // Concurrent reconciles of applications with the same source share one render.
    const running = this.inflight.get(key);
    if (running) {
      this.metrics.renderCacheHits.inc();
      return running;
    }
    const p = this.cachedOrRender(src, ctx, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async cachedOrRender(
    src: RenderSource,
    ctx: RenderContext,
    key: string,
  ): Promise<string> {
    const hit = await this.ds.query<{ bundle_hash: string }[]>(
      'SELECT bundle_hash FROM render_cache WHERE key = $1',
      [key],
    );
    if (hit[0]) {
      this.metrics.renderCacheHits.inc();
      return hit[0].bundle_hash;
    }
    return this.renderAndStore(src, ctx, key);
  }

  private async renderAndStore(
    src: RenderSource,
    ctx: RenderContext,
    key: string | undefined,
  ): Promise<string> {
    let result: RenderResult;
    try {
      result = await this.renderer.render(src, ctx);
    } catch (e) {
      this.metrics.renders.inc({ tool: 'unknown', result: 'error' });
      throw e;
    }
    this.metrics.renders.inc({ tool: result.tool, result: 'ok' });
    await this.bundles.put(result);
    if (key) {
      for (const k of new Set([key, result.key])) {
        await this.ds.query(
          'INSERT INTO render_cache (key, bundle_hash) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
          [k, result.hash],
        );
      }
    }
    return result.hash;
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
