import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Renderer, type RenderResult } from '../../../../libs/render/src/index.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { GitService } from '../git/git.service.js';

/**
 * Rendering for the hub: plain directories, Kustomize, Helm (from git or a chart repository) and
 * configured plugins, through the real binaries (libs/render). Renders are single-flighted by a
 * content key, so applications with identical sources render once.
 */
@Injectable()
export class RenderService implements OnModuleDestroy {
  private readonly log = new Logger('Render');
  readonly renderer: Renderer;

  constructor(git: GitService, @Inject(HUB_CONFIG) config: HubConfig) {
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

  /** Renders an application's source at `commit` (ignored for Helm repository charts). */
  render(name: string, spec: ApplicationSpec, commit: string): Promise<RenderResult> {
    const { source } = spec;
    const ctx = {
      appName: name,
      namespace: spec.destination.namespace,
      revision: source.targetRevision,
    };
    return this.renderer.render(
      source.chart
        ? {
            ...source,
            commit: '',
            chartVersion: source.targetRevision === 'HEAD' ? '' : source.targetRevision,
          }
        : { ...source, commit },
      ctx,
    );
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
