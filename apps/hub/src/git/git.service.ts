import { Inject, Injectable, Logger } from '@nestjs/common';
import { Subject } from 'rxjs';
import { DataSource, type Repository } from 'typeorm';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { GitCache } from '../../../../libs/git/src/index.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CredentialsService } from '../repositories/credentials.service.js';
import { RepositoryEntity } from './repository.entity.js';

/**
 * Git for the hub: one bare clone per repository, fetched on an interval and on webhooks.
 * When a fetch moves any ref, `changed$` emits the repository URL so only the applications
 * reading that repository are reconciled again.
 */
@Injectable()
export class GitService {
  private readonly log = new Logger('Git');
  readonly cache: GitCache;
  readonly changed$ = new Subject<string>();
  private readonly repos: Repository<RepositoryEntity>;

  constructor(
    @Inject(HUB_CONFIG) config: HubConfig,
    private readonly ds: DataSource,
    credentials: CredentialsService,
    metrics: MetricsService,
  ) {
    this.cache = new GitCache(
      config.gitCacheDir,
      config.gitTimeoutSeconds * 1000,
      5_000,
      (url) => credentials.forUrl(url),
      (_url, ok) => metrics.gitFetches.inc({ result: ok ? 'ok' : 'error' }),
    );
    this.repos = ds.getRepository(RepositoryEntity);
  }

  /** Fetches `url` now; returns whether any branch or tag moved since the last fetch. */
  async refresh(url: string): Promise<boolean> {
    const before = (await this.repos.findOneBy({ url }))?.refs ?? {};
    let refs: Record<string, string>;
    try {
      refs = await this.cache.fetch(url, { force: true });
    } catch (e) {
      const message = (e as Error).message;
      await this.repos.upsert({ url, lastError: message, lastFetchedAt: new Date() }, ['url']);
      this.log.warn(message);
      return false;
    }
    await this.repos.upsert({ url, refs, lastError: null, lastFetchedAt: new Date() }, ['url']);
    const moved = !sameRefs(before, refs);
    if (moved) {
      this.log.log(`${url}: refs changed`);
      this.changed$.next(url);
    }
    return moved;
  }

  /**
   * Resolves a revision for rendering or generation. Replicas share the refs last fetched by any of
   * them (repositories.refs): when that differs from this replica's clone, fetch first, so a
   * replica that has not polled yet never deploys (or generates from) an older commit.
   */
  async resolve(url: string, revision: string): Promise<string> {
    const local = await this.cache.resolve(url, revision);
    if (/^[0-9a-f]{40}$/.test(revision)) return local;
    const shared = (await this.repos.findOneBy({ url }))?.refs ?? {};
    const known =
      revision === 'HEAD'
        ? shared['refs/axle/HEAD']
        : (shared[`refs/heads/${revision}`] ?? shared[`refs/tags/${revision}`]);
    if (known && known !== local) {
      await this.cache.fetch(url, { force: true });
      return this.cache.resolve(url, revision);
    }
    return local;
  }

  /** Every repository some application or ApplicationSet generator reads. */
  async knownRepositories(): Promise<string[]> {
    const rows = await this.ds.query<{ url: string }[]>(
      `SELECT spec->'source'->>'repoURL' AS url FROM applications
       UNION SELECT unnest(repos) FROM application_sets ORDER BY 1`,
    );
    return rows.map((r) => r.url).filter((u) => u && u !== '*');
  }

  /** Fetches every known repository, a few at a time. */
  async pollAll(): Promise<void> {
    const urls = await this.knownRepositories();
    const queue = [...urls];
    const worker = async () => {
      for (let u = queue.shift(); u !== undefined; u = queue.shift()) await this.refresh(u);
    };
    await Promise.all(Array.from({ length: Math.min(4, urls.length) }, worker));
  }
}

function sameRefs(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Comparable form of a repository URL: lower-case host, no trailing `/` or `.git`, no credentials. */
export function normalizeRepoUrl(url: string): string {
  let u = url
    .trim()
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  const m = /^([a-z+]+:\/\/)(?:[^@/]*@)?([^/]+)(.*)$/i.exec(u);
  if (m) u = `${m[1].toLowerCase()}${m[2].toLowerCase()}${m[3]}`;
  return u;
}
