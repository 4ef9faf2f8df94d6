import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { GitCache, redactUrl } from '../../../../libs/git/src/index.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CredentialsService } from '../repositories/credentials.service.js';
import { WorkQueue } from '../work/work-queue.js';
import { GitReposRepository } from './git-repos.repository.js';
import { pollEach } from './poll-each.js';
import { refMoves } from './ref-moves.js';
import { groupBy } from '../common/group-by.js';

const SHA_RE = /^[0-9a-f]{40}$/;

/**
 * Git for the hub: one bare clone per repository, fetched on an interval and on webhooks. When a
 * fetch moves any ref, the applications and ApplicationSets reading that repository are marked
 * for reconciliation in the same transaction that records the new refs.
 */
@Injectable()
export class GitService implements OnModuleDestroy {
  private readonly log = new Logger('Git');
  readonly cache: GitCache;

  constructor(
    @Inject(HUB_CONFIG) config: HubConfig,
    private readonly ds: DataSource,
    private readonly repos: GitReposRepository,
    private readonly work: WorkQueue,
    credentials: CredentialsService,
    metrics: MetricsService,
  ) {
    this.cache = new GitCache(
      config.gitCacheDir,
      {
        inactivityMs: config.gitTimeoutSeconds * 1000,
        deadlineMs: config.gitDeadlineSeconds * 1000,
      },
      5_000,
      (url) => credentials.forUrl(url),
      (_url, ok) => metrics.gitFetches.inc({ result: ok ? 'ok' : 'error' }),
    );
  }

  /** Work started after a request returned (moves), awaited on shutdown. */
  private readonly inFlight = new Set<Promise<void>>();

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.inFlight);
    this.cache.close();
  }

  /** Fetches `url` now; returns whether any branch or tag moved since the last fetch. */
  async refresh(url: string): Promise<boolean> {
    // The refs last recorded, or (first record) those of this replica's clone: what its
    // applications were rendered from.
    const before =
      (await this.repos.refs([url])).get(url) ?? (await this.cache.refs(url).catch(() => ({})));
    let refs: Record<string, string>;
    try {
      refs = await this.cache.fetch(url, { force: true });
    } catch (e) {
      const message = (e as Error).message;
      await this.repos.recordFailure(url, message);
      this.log.warn(message);
      return false;
    }
    const moves = refMoves(before, refs);
    // What each move changed (one git diff per distinct pair of commits): applications whose
    // rendered directory it does not touch only move their render to the new commit.
    const diffs = new Map<string, string[] | undefined>();
    for (const m of moves) {
      if (!m.from || !m.to || diffs.has(`${m.from}..${m.to}`)) continue;
      diffs.set(
        `${m.from}..${m.to}`,
        await this.cache.changedPaths(url, m.from, m.to).catch(() => undefined),
      );
    }
    let marked = 0;
    let moveRecorded = false;
    await this.ds.transaction(async (tx) => {
      await this.repos.recordFetch(tx, url, refs);
      // Moves an earlier commit recorded and nobody applied yet come first: the marks below
      // count an application as unaffected only when its render is at the commit just before.
      if (moves.length) await this.work.applyMoves(tx, url, true);
      // Refs that moved together (HEAD and its branch, say) are one statement.
      for (const same of groupBy(moves, (m) => `${m.from ?? ''}..${m.to ?? ''}`).values()) {
        const { from, to } = same[0];
        const r = await this.work.commitMoved(
          {
            repoURL: url,
            revisions: [...new Set(same.flatMap((m) => m.revisions))],
            from,
            to,
            changed: from && to ? diffs.get(`${from}..${to}`) : undefined,
          },
          `${same.map((m) => m.ref).join(', ')} of ${url} moved to ${to?.slice(0, 12) ?? '(deleted)'}`,
          tx,
        );
        marked += r.marked;
        moveRecorded ||= r.moveRecorded;
      }
      if (moves.length) await this.work.appsets({ readsRepo: url }, `refs of ${url} moved`, tx);
    });
    if (moves.length) {
      this.log.log(
        `${url}: refs changed (${moves.map((m) => m.ref).join(', ')}): ${marked} application(s) to reconcile`,
      );
    }
    // The applications the commit left alone move to it now, while the marked ones reconcile.
    if (moveRecorded) this.track(this.applyMoves(url));
    return moves.length > 0;
  }

  /**
   * Resolves a revision for rendering or generation. Replicas share the refs last fetched by any of
   * them (repositories.refs): when that differs from this replica's clone, fetch first, so a
   * replica that has not polled yet never deploys (or generates from) an older commit.
   */
  async resolve(url: string, revision: string): Promise<string> {
    const [r] = await this.resolveMany([{ url, revision }]);
    if (r instanceof Error) throw r;
    return r;
  }

  /** Resolves many (repository, revision) pairs: each distinct pair once, shared refs read once. */
  async resolveMany(pairs: { url: string; revision: string }[]): Promise<(string | Error)[]> {
    const named = pairs.filter((p) => !SHA_RE.test(p.revision)).map((p) => p.url);
    const shared = named.length
      ? await this.repos.refs(named)
      : new Map<string, Record<string, string>>();
    const memo = new Map<string, Promise<string>>();
    return Promise.all(
      pairs.map(async ({ url, revision }) => {
        const id = `${url}\u0000${revision}`;
        let p = memo.get(id);
        if (!p) {
          p = this.resolveOne(url, revision, shared.get(url) ?? {});
          memo.set(id, p);
        }
        try {
          return await p;
        } catch (e) {
          return e instanceof Error ? e : new Error(String(e));
        }
      }),
    );
  }

  private async resolveOne(
    url: string,
    revision: string,
    shared: Record<string, string>,
  ): Promise<string> {
    const local = await this.cache.resolve(url, revision);
    if (SHA_RE.test(revision)) return local;
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
  knownRepositories(): Promise<string[]> {
    return this.repos.known();
  }

  /**
   * Applies the recorded moves of `url` (of every repository when undefined) in a transaction of
   * their own; moves another replica is applying are left to it. Failures are logged: the move
   * stays recorded, and the next refresh or poll applies it.
   */
  async applyMoves(url?: string): Promise<void> {
    try {
      const moved = await this.ds.transaction((tx) => this.work.applyMoves(tx, url, false));
      if (moved)
        this.log.log(`${url ?? 'repositories'}: ${moved} render(s) moved to the new commit`);
    } catch (e) {
      this.log.warn(`moving renders to the new commit failed: ${(e as Error).message}`);
    }
  }

  /**
   * Fetches every known repository, a few at a time. Each repository gets twice the fetch
   * deadline and half a minute (a forced fetch may wait for a running one, then run its own):
   * one that takes longer is left to end on its own and the others are polled meanwhile.
   */
  async pollAll(): Promise<void> {
    // Moves a replica recorded and did not apply (it stopped in between).
    await this.applyMoves();
    const urls = await this.knownRepositories();
    await pollEach(urls, (u) => this.refresh(u), {
      concurrency: 4,
      boundMs: 2 * this.cache.deadlineMs + 30_000,
      onOverrun: (u) =>
        this.log.warn(`${redactUrl(u)}: poll still running after its time, left to end on its own`),
      onError: (u, e) => this.log.warn(`${redactUrl(u)}: poll failed: ${(e as Error).message}`),
    });
  }
}

/** Comparable form of a repository URL: lower-case host, no trailing `/` or `.git`, no credentials. */
export function normalizeRepoUrl(url: string): string {
  let u = url.trim();
  // A loop, not /\/+$/: that regex takes time in the square of a run of slashes not at the end
  // (a webhook anyone may call could hold the event loop for seconds).
  let end = u.length;
  while (end > 0 && u.charCodeAt(end - 1) === 0x2f) end--;
  u = u.slice(0, end).replace(/\.git$/, '');
  const m = /^([a-z+]+:\/\/)(?:[^@/]*@)?([^/]+)(.*)$/i.exec(u);
  if (m) u = `${m[1].toLowerCase()}${m[2].toLowerCase()}${m[3]}`;
  return u;
}
