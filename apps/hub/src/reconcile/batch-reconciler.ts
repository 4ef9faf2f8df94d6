import { jsonEqual } from '../common/json-equal.js';
import { isExactChartVersion } from '../../../../libs/render/src/index.js';
import type { AppCondition } from '../applications/application.entity.js';
import type { AppForReconcile, ReconciledApp } from '../applications/applications.repository.js';
import { destinationClusters, targetNamespace } from '../applications/application.schemas.js';
import type { DesiredTarget, HistoryRow } from '../applications/targets.repository.js';
import type { ClusterRef } from '../clusters/clusters.repository.js';
import {
  capabilitiesForEach,
  capabilitiesKey,
  readsCapabilities,
  type Capabilities,
} from '../clusters/capabilities.js';
import type { ProjectGate } from '../projects/project-gate.js';
import { blockedMessage, type WindowBlock } from '../projects/sync-windows.js';
import type { ResourceRef } from '../projects/project-policy.js';
import type { Rendered, RenderRequest } from '../render/render.service.js';
import type { Lease } from '../work/work-loop.js';
import type { WorkItem } from '../work/work.repository.js';
import { Stopwatch } from '../common/stopwatch.js';
import {
  dispatchesOnReconcile,
  standingPolicy,
  syncsAutomatically,
  toSyncPolicy,
} from './sync-policy.js';
import { groupBy } from '../common/group-by.js';
import {
  holdsChildren,
  type ChildrenPlan,
  type ChildrenWrite,
} from '../applications/child-apps.js';

const MAX_ERROR_CHARS = 4000;

/** Everything a batch decided, written in one transaction by `ReconcilePorts.commit`. */
export interface BatchOutcome {
  /** Applications whose stored conditions or render changed. */
  apps: ReconciledApp[];
  /** Applications whose render moved to another commit and nothing else changed. */
  appRevisions: { id: string; specVersion: number; revision: string }[];
  /** Targets to insert or move to a new generation. */
  upserts: DesiredTarget[];
  /** Targets no longer desired. */
  removals: { appId: string; clusterId: string }[];
  /** One history entry per application whose desired state changed (filled in by commit). */
  history: Omit<HistoryRow, 'clusters'>[];
  /**
   * Child applications of automated parents (app of apps), written after the batch's commit, each
   * parent's in a transaction of its own (see ChildAppsService.write).
   */
  children: (ChildrenWrite & { expect: { specVersion: number; bundleHash: string } })[];
  /** Items finished by this batch. */
  done: WorkItem[];
  /** Items to run again later (source errors), with the delay. */
  retry: { item: WorkItem; delaySeconds: number; error: string }[];
}

/** What the batch reconciler needs from the world (repositories, git, renderer, projects). */
export interface ReconcilePorts {
  loadApps(ids: string[]): Promise<AppForReconcile[]>;
  resolve(pairs: { url: string; revision: string }[]): Promise<(string | Error)[]>;
  render(reqs: RenderRequest[]): Promise<(Rendered | Error)[]>;
  clustersByName(names: string[]): Promise<ClusterRef[]>;
  /** The capability sets with these hashes (see ClustersRepository.capabilities). */
  capabilities(hashes: string[]): Promise<Map<string, Capabilities>>;
  gate(): Promise<ProjectGate>;
  bundleResources(hashes: string[]): Promise<Map<string, ResourceRef[]>>;
  /** The child applications a parent's bundle holds, checked (see ChildAppsService.plan). */
  planChildren(
    parent: { id: string; spec: { project: string } },
    bundleHash: string,
    gate: ProjectGate,
  ): Promise<ChildrenPlan>;
  /** Writes a parent's children while it still deploys that render (see ChildAppsService.write). */
  writeChildren(
    w: ChildrenWrite,
    expect: { specVersion: number; bundleHash: string },
  ): Promise<void>;
  currentTargets(appIds: string[]): Promise<DesiredTarget[]>;
  /**
   * Writes the outcome atomically, only for items this replica still holds (fenced), finishes
   * them and tells the replicas holding the affected clusters' streams. Returns what it wrote.
   */
  commit(outcome: BatchOutcome, lease: Lease, watch?: Stopwatch): Promise<CommitResult>;
  /** An expected failure of one application (logged, not thrown). */
  warn(app: string, type: AppCondition['type'], message: string): void;
}

export interface CommitResult {
  /** Targets whose desired generation moved. */
  changed: number;
  /** Clusters told to deliver. */
  clusters: number;
  /** Items another replica took over meanwhile (nothing written for them). */
  lost: number;
}

export interface BatchReport extends CommitResult {
  apps: number;
  failed: number;
  rendered: number;
  /**
   * Milliseconds per step: load, resolve, render, plan, then the commit's fence, apps, upserts,
   * removals and finish (nothing after plan when the lease was lost).
   */
  ms: Record<string, number>;
}

/** How long a source error waits before the next attempt, by attempt. */
export function sourceRetryDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.min(Math.max(attempts - 1, 0), 6));
}

/**
 * Reconciles a batch of applications as one unit of work: each repository revision resolved
 * once, each distinct render key rendered (or found in the render cache) once, each distinct
 * (project, repository, cluster, namespace, bundle) checked once, and the desired state of every
 * affected application × cluster written in a few set-based statements. One application's failure
 * records its condition and keeps its last good desired state; it never holds back the others.
 */
export class BatchReconciler {
  constructor(
    private readonly ports: ReconcilePorts,
    private readonly replica: string,
  ) {}

  async run(items: WorkItem[], lease: Lease): Promise<BatchReport> {
    const startedAt = new Date();
    const watch = new Stopwatch();
    const byKey = new Map(items.map((i) => [i.key, i]));
    const apps = await this.ports.loadApps(items.map((i) => i.key));
    watch.lap('load');
    const loaded = new Set(apps.map((a) => a.id));
    const outcome: BatchOutcome = {
      apps: [],
      appRevisions: [],
      upserts: [],
      removals: [],
      history: [],
      children: [],
      done: items.filter((i) => !loaded.has(i.key)), // deleted meanwhile
      retry: [],
    };

    // 1. Revisions: each (repository, revision) once; a Helm chart's is its version, not a
    // commit (its repository is no git repository: asking git would only wait and fail).
    const gitApps = apps.filter((a) => !a.spec.source.chart);
    const resolved = await this.ports.resolve(
      gitApps.map((a) => ({ url: a.spec.source.repoURL, revision: a.spec.source.targetRevision })),
    );
    const commitById = new Map(gitApps.map((a, i) => [a.id, resolved[i]]));
    const commits = apps.map((a) => commitById.get(a.id) ?? '');

    watch.lap('resolve');

    // 2. Renders: only what is not rendered at this commit, spec and (for Helm charts and
    // plugins) the capabilities of the destination clusters already.
    const { clusters, capsOf, bundleOf, toolOf, unpinnedOf, failures, rendered } =
      await this.renders(apps, commits);

    watch.lap('render');

    // 3. Destinations and the project gate, per distinct combination.
    const ok = apps.filter((a) => bundleOf.has(a.id));
    const resources = await this.ports.bundleResources([...new Set(bundleOf.values())]);
    const gate = await this.ports.gate();
    const current = groupBy(await this.ports.currentTargets(ok.map((a) => a.id)), (t) => t.appId);
    const childPlans = await this.childPlans(ok, bundleOf, resources, gate);

    let failed = 0;
    for (let i = 0; i < apps.length; i++) {
      const app = apps[i];
      const item = byKey.get(app.id)!;
      const failure = failures.get(app.id);
      if (failure) {
        this.fail(outcome, app, item, failure.type, failure.message);
        failed++;
        continue;
      }
      const bundleHash = bundleOf.get(app.id)!;
      const commit = commitOf(app, commits[i]);
      const names = destinationClusters(app.spec);
      const targets = names.flatMap((n) => clusters.get(n) ?? []);
      const missing = names.filter((n) => !clusters.has(n));
      const namespace = targetNamespace(app.spec);
      const bundle = { hash: bundleHash, resources: resources.get(bundleHash) ?? [] };
      const violations = gate.checkDeployment(
        { project: app.spec.project, repoURL: app.spec.source.repoURL, namespace, bundle },
        targets,
      );
      if (violations.length) {
        this.fail(outcome, app, item, 'ProjectViolation', violations.join('; '));
        failed++;
        continue;
      }
      const conditions = missing.length
        ? [condition(app, 'DestinationError', `clusters not registered: ${missing.join(', ')}`)]
        : [];
      // Sync windows: a blocked cluster keeps what it runs until its window lets the sync in.
      const auto = dispatchesOnReconcile(app);
      const policy = toSyncPolicy(app.spec, gate.clusterKinds(app.spec.project));
      const desired: DesiredTarget[] = targets.map((c) => ({
        appId: app.id,
        clusterId: c.id,
        bundleHash,
        revision: commit,
        namespace,
        policy,
      }));
      // By cluster: an application may target 10,000 clusters (no search per cluster).
      const now = new Map((current.get(app.id) ?? []).map((t) => [t.clusterId, t]));
      // Without automated sync (or with it suspended by a rollback, or rolled out in waves) the
      // new desired state is only recorded, as the application's render below, and shown
      // OutOfSync until a sync (or the rollout) asks for it.
      const changing = auto
        ? desired.filter((d) => {
            const t = now.get(d.clusterId);
            // Same bundle, namespace and policy at another commit: what runs is already what
            // this commit wants. Only the render moves to the commit (below): no new generation,
            // nothing to deliver (see clusterStatus for how the target's revision is shown then).
            return !t || !sameContent(t, d);
          })
        : [];
      // Sync windows: a cluster with something to change keeps what it runs while its window
      // holds the sync back, and the application is looked at again when the window lets it in.
      const changingIds = new Set(changing.map((d) => d.clusterId));
      const blocked = changing.length
        ? gate.windowBlocks(
            { project: app.spec.project, app: app.name, namespace },
            targets.filter((c) => changingIds.has(c.id)),
            startedAt,
            false,
          )
        : new Map<string, WindowBlock>();
      if (blocked.size)
        conditions.push(condition(app, 'SyncBlocked', blockedMessage(targets, blocked)));
      // Children follow what the parent deploys by itself: not held by a window, not rolled out.
      const children = this.children(app, childPlans.get(app.id), {
        placed: targets.length > 0,
        deploys: auto && blocked.size === 0,
        bundleHash,
      });
      outcome.children.push(...children.writes);
      conditions.push(...children.messages.map((m) => condition(app, 'ChildApplicationError', m)));
      const upserts = changing.filter((d) => !blocked.has(d.clusterId));
      const keep = new Set(desired.map((d) => d.clusterId));
      // Clusters dropped from the destinations lose the app at once, also when waves or
      // dependencies roll out what remains.
      const removals = (syncsAutomatically(app) ? [...now.values()] : [])
        .filter((t) => !keep.has(t.clusterId))
        .map((t) => ({ appId: app.id, clusterId: t.clusterId }));
      outcome.upserts.push(...upserts);
      outcome.removals.push(...removals);
      if (upserts.length || removals.length) {
        outcome.history.push({
          appId: app.id,
          revision: commit,
          bundleHash,
          specVersion: app.specVersion,
          reason: item.reason,
          replica: this.replica,
          startedAt,
        });
      }
      const unpinned = unpinnedOf.get(app.id) ?? app.renderedUnpinned;
      // Rendered now, or not reading them: what it is (now) rendered for.
      const capabilities = toolOf.has(app.id)
        ? capsOf.get(app.id)!.key
        : (app.renderedCapabilities ?? capsOf.get(app.id)!.key);
      if (
        renderChanged(app, { bundleHash, unpinned, capabilities }) ||
        !sameConditions(app.conditions, conditions)
      ) {
        outcome.apps.push({
          id: app.id,
          specVersion: app.specVersion,
          conditions,
          rendered: {
            revision: commit,
            bundleHash,
            tool: toolOf.get(app.id) ?? app.renderedTool,
            unpinned,
            capabilities,
          },
        });
      } else if (app.renderedRevision !== commit) {
        outcome.appRevisions.push({ id: app.id, specVersion: app.specVersion, revision: commit });
      }
      if (blocked.size) {
        // Run again when the first blocked cluster may sync (re-checked at least daily).
        const until = Math.min(...[...blocked.values()].map((b) => b.until?.getTime() ?? Infinity));
        const delaySeconds = Math.ceil(
          Math.min(Math.max(until - startedAt.getTime(), 1000), 86_400_000) / 1000,
        );
        outcome.retry.push({ item, delaySeconds, error: 'waiting for a sync window' });
      } else {
        outcome.done.push(item);
      }
    }

    watch.lap('plan');
    // Also when the lease on some items was lost: the commit's fence writes the results of the
    // items still held only, and those are not thrown away with the others.
    const result = await this.ports.commit(outcome, lease, watch);
    // After the commit, each parent's children in a transaction of their own: a failure there
    // never fails the batch (the parent runs again later: see ReconcileStore.writeChildren).
    for (const { expect, ...w } of outcome.children) {
      await this.ports.writeChildren(w, expect).catch((e: unknown) => {
        this.ports.warn(w.parent.name, 'ChildApplicationError', (e as Error).message);
      });
    }
    if (outcome.children.length) watch.lap('children');
    return {
      ...result,
      ms: watch.laps,
      apps: apps.length,
      failed,
      rendered,
    };
  }

  /**
   * What to write of a parent's children (deployed by itself: now; otherwise at its next sync or
   * rollout step), and what to say of those refused or kept. They are made only once the parent
   * reaches a registered cluster: its project checked the `Application` objects there, as for any
   * other resource.
   */
  private children(
    app: AppForReconcile,
    plan: ChildrenPlan | Error | undefined,
    at: { placed: boolean; deploys: boolean; bundleHash: string },
  ): { writes: BatchOutcome['children']; messages: string[] } {
    if (plan === undefined) return { writes: [], messages: [] };
    if (plan instanceof Error)
      return { writes: [], messages: [`child applications: ${plan.message}`] };
    if (!at.placed) {
      return {
        writes: [],
        messages: [
          'child applications are made once the application is placed on a registered cluster (its destination)',
        ],
      };
    }
    const prune = app.spec.syncPolicy.automated?.prune ?? false;
    const kept = prune || plan.stale.length === 0 ? [] : plan.stale;
    const lines = [
      ...plan.errors,
      ...(kept.length
        ? [
            `child application(s) no longer in the manifests, kept until pruned (sync with prune): ${kept.slice(0, 20).join(', ')}${kept.length > 20 ? `, and ${kept.length - 20} more` : ''}`,
          ]
        : []),
    ];
    return {
      writes: at.deploys
        ? [
            {
              parent: { id: app.id, name: app.name },
              children: plan.children,
              prune,
              keep: plan.keep,
              expect: { specVersion: app.specVersion, bundleHash: at.bundleHash },
            },
          ]
        : [],
      messages: lines.length ? [lines.join('; ')] : [],
    };
  }

  /**
   * The bundle of every application: its last render when it is of this commit, spec and (for
   * Helm charts and plugins) its clusters' capabilities, else a render made now; or why not.
   */
  private async renders(apps: AppForReconcile[], commits: (string | Error)[]) {
    const clusters = new Map(
      (await this.ports.clustersByName(apps.flatMap((a) => destinationClusters(a.spec)))).map(
        (c) => [c.name, c],
      ),
    );
    const capsOf = new Map(
      apps.map((a) => [a.id, capabilitiesKey(destinationClusters(a.spec), clusters)]),
    );
    const toRender: { app: AppForReconcile; commit: string }[] = [];
    const bundleOf = new Map<string, string>();
    const toolOf = new Map<string, string>();
    const unpinnedOf = new Map<string, boolean>();
    const failures = new Map<string, { type: AppCondition['type']; message: string }>();
    apps.forEach((app, i) => {
      const { source } = app.spec;
      const c = commits[i];
      const commit = source.chart ? `chart:${source.chart}@${source.targetRevision}` : c;
      if (!source.chart && commit instanceof Error) {
        failures.set(app.id, { type: 'SourceError', message: commit.message });
        return;
      }
      // What may change without a commit is rendered again: a chart's version range, and a
      // render whose Helm dependencies float (a range, no lock file).
      const floating =
        app.renderedUnpinned ||
        (source.chart !== undefined &&
          !isExactChartVersion(source.targetRevision === 'HEAD' ? '' : source.targetRevision));
      const upToDate =
        !floating &&
        app.renderedBundleHash !== null &&
        app.renderedRevision === commit &&
        app.renderedSpecVersion === app.specVersion &&
        (!readsCapabilities(app) || app.renderedCapabilities === capsOf.get(app.id)!.key);
      if (upToDate) bundleOf.set(app.id, app.renderedBundleHash!);
      else toRender.push({ app, commit: commit as string });
    });
    const keys = toRender.map(({ app }) => capsOf.get(app.id)!);
    const sets = await this.ports.capabilities([...new Set(keys.flatMap((k) => k.hashes))]);
    const caps = capabilitiesForEach(keys, sets);
    const rendered = await this.ports.render(
      toRender.map(({ app, commit }, i) => {
        const capabilities = caps[i];
        return { appName: app.name, spec: app.spec, commit, ...(capabilities && { capabilities }) };
      }),
    );
    toRender.forEach(({ app }, i) => {
      const r = rendered[i];
      if (r instanceof Error) failures.set(app.id, { type: 'RenderError', message: r.message });
      else {
        bundleOf.set(app.id, r.hash);
        toolOf.set(app.id, r.tool);
        unpinnedOf.set(app.id, r.unpinned === true);
      }
    });

    return { clusters, capsOf, bundleOf, toolOf, unpinnedOf, failures, rendered: toRender.length };
  }

  /** App of apps: what the parents' manifests ask of their children (parents are few). */
  private async childPlans(
    apps: AppForReconcile[],
    bundleOf: ReadonlyMap<string, string>,
    resources: ReadonlyMap<string, ResourceRef[]>,
    gate: ProjectGate,
  ): Promise<Map<string, ChildrenPlan | Error>> {
    const plans = new Map<string, ChildrenPlan | Error>();
    const holding = new Set([...resources].filter(([, r]) => holdsChildren(r)).map(([h]) => h));
    for (const app of apps) {
      const hash = bundleOf.get(app.id)!;
      if (!holding.has(hash) && !app.hasChildren) continue;
      plans.set(
        app.id,
        await this.ports
          .planChildren(app, hash, gate)
          .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
      );
    }
    return plans;
  }

  private fail(
    outcome: BatchOutcome,
    app: AppForReconcile,
    item: WorkItem,
    type: AppCondition['type'],
    raw: string,
  ): void {
    const message = raw.slice(0, MAX_ERROR_CHARS);
    this.ports.warn(app.name, type, message);
    const conditions = [condition(app, type, message)];
    if (!sameConditions(app.conditions, conditions))
      outcome.apps.push({ id: app.id, specVersion: app.specVersion, conditions });
    if (type === 'SourceError') {
      // Often transient (a repository unreachable): try again with a backoff.
      outcome.retry.push({
        item,
        delaySeconds: sourceRetryDelaySeconds(item.attempts),
        error: message,
      });
    } else {
      outcome.done.push(item);
    }
  }
}

function commitOf(app: AppForReconcile, resolved: string | Error): string {
  const { source } = app.spec;
  return source.chart ? `chart:${source.chart}@${source.targetRevision}` : (resolved as string);
}

function condition(
  app: AppForReconcile,
  type: AppCondition['type'],
  message: string,
): AppCondition {
  const prev = app.conditions.find((c) => c.type === type && c.message === message);
  return {
    type,
    message,
    lastTransitionTime: prev?.lastTransitionTime ?? new Date().toISOString(),
  };
}

/** Whether what is stored of an application's render differs from this render of its spec. */
function renderChanged(
  app: AppForReconcile,
  r: { bundleHash: string; unpinned: boolean; capabilities: string },
): boolean {
  return (
    app.renderedBundleHash !== r.bundleHash ||
    app.renderedSpecVersion !== app.specVersion ||
    app.renderedUnpinned !== r.unpinned ||
    app.renderedCapabilities !== r.capabilities
  );
}

function sameConditions(a: AppCondition[], b: AppCondition[]): boolean {
  return (
    a.length === b.length && a.every((c, i) => c.type === b[i].type && c.message === b[i].message)
  );
}

/**
 * Whether a stored target `a` already has the content of the desired state `b`: bundle, namespace
 * and policy (compared as JSON values, whatever their key order). The commit may differ, and so
 * may a person's prune confirmation (see standingPolicy): the generation that carries it stays
 * until the content changes, and the one after it does not carry it.
 */
function sameContent(a: DesiredTarget, b: DesiredTarget): boolean {
  return (
    a.bundleHash === b.bundleHash &&
    a.namespace === b.namespace &&
    jsonEqual(standingPolicy(a.policy), standingPolicy(b.policy))
  );
}
