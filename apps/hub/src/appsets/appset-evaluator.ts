import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import {
  applicationSpecHash,
  evaluationFingerprint,
  generateApplications,
  nameIndex,
  parseApplicationSet,
  planChanges,
  RenderMemo,
  SpecHashMemo,
  planOptionsFor,
  type ApplicationSet,
  type ChangePlan,
  type GeneratedApplication,
} from '../../../../libs/appset/src/index.js';
import type { ClusterInfo, GitTreeReader } from '../../../../libs/generators/src/index.js';
import {
  CachedTreeReader,
  RecordingTreeReader,
  replayReads,
  type RecordedRead,
} from '../../../../libs/git/src/index.js';
import {
  ApplicationsRepository,
  type GeneratedRow,
} from '../applications/applications.repository.js';
import { DEFAULT_NAMESPACE } from '../applications/application.schemas.js';
import { AuditService } from '../audit/audit.service.js';
import { runWithActor } from '../auth/request-context.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { IN_CLUSTER_SERVER, resolveDestination } from '../clusters/in-cluster.js';
import { GeneratorPlugins } from './generator-plugins.js';
import { ScmProviders } from './scm-client.js';
import { DuckTypes } from './duck-types.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { GitService } from '../git/git.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import { Stopwatch } from '../common/stopwatch.js';
import { ValidationFailed } from '../common/validation.js';
import type { Lease } from '../work/work-loop.js';
import { WorkQueue } from '../work/work-queue.js';
import { WorkRepository, type WorkItem } from '../work/work.repository.js';
import type {
  ApplicationSetEntity,
  AppSetCondition,
  AppSetIssue,
  AppSetStatus,
} from './application-set.entity.js';
import { AppSetsRepository } from './appsets.repository.js';
import { readsClockOrChance, serviceGenerators, toApplicationSpec } from './to-application-spec.js';
import { DependenciesService } from '../dependencies/dependencies.service.js';

/** Marks the spec hash of an application generated under RollingSync (stored without automated). */
const ROLLING_HASH_SUFFIX = ':rolling';

export interface Evaluation {
  applications: GeneratedApplication[];
  errors: AppSetIssue[];
  warnings: AppSetIssue[];
  plan: ChangePlan;
  /** Deletions held back by the mass-deletion guard. */
  pendingDeletion: string[];
  complete: boolean;
  /** A template called the clock, chance or changed a map (see GenerateApplicationsResult). */
  impure: boolean;
  /** More applications than one ApplicationSet may generate (AXLE_APPSET_MAX_APPLICATIONS). */
  overLimit: boolean;
  /** The stored form of each application to create or update, by name. */
  rows: Map<string, GeneratedRow>;
  /** The applications the ApplicationSet owned when it was evaluated. */
  owned: { name: string; specHash: string }[];
}

/**
 * A generator's results on the way (before a selector, a merge's other children) may be this many
 * times the applications an ApplicationSet may have: enough for a selector to narrow a large
 * inventory, while a runaway matrix stops early.
 */
const INTERMEDIATE_FACTOR = 5;
const LIMIT_HINT = {
  applications: '(AXLE_APPSET_MAX_APPLICATIONS)',
  paramSets: `(${INTERMEDIATE_FACTOR} × AXLE_APPSET_MAX_APPLICATIONS, for a generator's results before its selector)`,
  renderTime: '(AXLE_APPSET_MAX_RENDER_SECONDS)',
} as const;

/** Whether an evaluation's issue is its rendering running over AXLE_APPSET_MAX_RENDER_SECONDS. */
export const isRenderTimeLimit = (issue: { message: string }): boolean =>
  issue.message.endsWith(LIMIT_HINT.renderTime);

/**
 * After an evaluation that changed something, the ApplicationSet is evaluated once more this much
 * later. Its own writes are among its inputs, so only that next evaluation, changing nothing, can
 * record the fingerprint that lets the ones after it be skipped: run now, it settles while
 * nothing waits on it rather than at the next commit.
 */
const SETTLE_SECONDS = 10;
/**
 * The reason of that run. It is not repeated after a run that changed something again (a template
 * that renders differently each time, with `now` or `randAlpha`): one extra run per change.
 */
const SETTLE_REASON = 'settling after its own changes';

/**
 * Applications remembered across evaluations, over every ApplicationSet (see memoOf), each
 * counted twice (once per memo): about 0.6 KiB of memory in each memo and 0.8 KiB in both, with
 * bench:appset's 100,000 (measured on the library), for half of a no-op re-evaluation's time.
 */
const MEMO_APPLICATIONS = 250_000;

/** What is remembered of an ApplicationSet's last evaluation (see memoOf). */
interface EvaluationMemo {
  hashes: SpecHashMemo;
  renders: RenderMemo;
}

/**
 * How many applications a memo keeps alive: each counted in both memos, which keep different
 * objects of it (the generated application and its parameters; the hub's placed copy).
 */
function memoSize(memo: EvaluationMemo): number {
  return memo.hashes.applications + memo.renders.applications;
}

/** Names listed in an audit record of one evaluation (the counts are always complete). */
const AUDIT_NAMES = 100;

/**
 * Evaluates ApplicationSets: generators over the cluster inventory and git, the template per
 * parameter set, then the change plan under `applicationsSync`. Per-application errors are
 * isolated; a failing generator deletes nothing; deleting more than the configured share of an
 * ApplicationSet's applications waits for an explicit confirmation. An evaluation is one unit of
 * work of the shared reconcile loop (ReconcileWorker): its writes, the marks of the applications
 * it created or changed, and the end of its work item commit together.
 */
@Injectable()
export class AppSetEvaluator {
  private readonly log = new Logger('AppSetEvaluator');
  private readonly reader: CachedTreeReader;
  private readonly owned = new Map<
    string,
    { stamp: string; list: { name: string; specHash: string }[] }
  >();
  /** The index by name of an owned list (see nameIndex), built once per list. */
  private readonly ownedIndexes = new WeakMap<object, Map<string, number>>();
  /** What is remembered of the last evaluations, per ApplicationSet (see memoOf). */
  private readonly memos = new Map<string, EvaluationMemo>();
  /** ApplicationSets being evaluated here (see previewRemembering). */
  private readonly evaluating = new Set<string>();
  /** Generated applications with the hub's destination, by the generated one (see placed). */
  private readonly placedApps = new WeakMap<GeneratedApplication, GeneratedApplication>();

  constructor(
    private readonly ds: DataSource,
    private readonly git: GitService,
    private readonly appsets: AppSetsRepository,
    private readonly apps: ApplicationsRepository,
    private readonly clusters: ClustersRepository,
    private readonly work: WorkRepository,
    private readonly queue: WorkQueue,
    private readonly dispatch: DispatchNotifier,
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
    private readonly projects: ProjectsService,
    private readonly dependencies: DependenciesService,
    private readonly plugins: GeneratorPlugins,
    private readonly scm: ScmProviders,
    private readonly duckTypes: DuckTypes,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {
    this.reader = new CachedTreeReader(git.cache, undefined, (url, rev) => git.resolve(url, rev));
  }

  /** Generates and plans without changing anything (dry run, and the first half of evaluate). */
  async preview(
    appset: ApplicationSet,
    appSetId: string | null,
    opts: {
      /** Deletions confirmed (the mass-deletion guard lets exactly these through). */
      confirmed?: string[];
      watch?: Stopwatch;
      /** The cluster inventory, when the caller read it already. */
      inventory?: ClusterInfo[];
      /** The stamp of what the ApplicationSet owns (see ownedBy), when read already or being read. */
      ownedStamp?: string | Promise<string>;
      git?: GitTreeReader;
      /** Abandons the preview (its rendering stops at its next yield). */
      signal?: AbortSignal;
      /** What is remembered of the ApplicationSet's last evaluation (its rounds are started). */
      memo?: EvaluationMemo;
    },
  ): Promise<Evaluation> {
    const { confirmed = [], watch = new Stopwatch(), inventory, ownedStamp, signal, memo } = opts;
    const git = opts.git ?? this.reader;
    const clusters = inventory ?? (await this.inventory());
    const clusterByName = new Map(clusters.map((c) => [c.name, c]));
    watch.lap('inventory');
    const gate = await this.projects.gate();
    watch.lap('projects');
    const { renders, hashOf } = startRounds(memo);
    const result = await generateApplications(appset, {
      renders,
      clusters,
      git,
      plugins: this.plugins,
      scm: this.scm,
      duckTypes: this.duckTypes,
      maxApplications: this.config.appsetMaxApplications,
      maxRenderMs: this.config.appsetMaxRenderSeconds * 1000,
      signal,
      limits: { maxParamSets: INTERMEDIATE_FACTOR * this.config.appsetMaxApplications },
    });
    watch.lap('generate');
    const errors: AppSetIssue[] = result.errors.map((e) => ({
      ...(e.name ? { name: e.name } : {}),
      path: e.index >= 0 ? `applications[${e.index}]` : `spec.generators[${e.generator}]`,
      message: e.limit ? `${e.message} ${LIMIT_HINT[e.limit]}` : e.message,
    }));
    const overLimit = result.errors.some((e) => e.stage === 'limit');
    const keep = new Set(planOptionsFor(result).keep ?? []);

    // Names that belong to someone else are not taken over (only names it does not own yet can
    // be someone else's: on a re-evaluation that is usually none).
    const owned = appSetId ? await this.ownedBy(appSetId, await ownedStamp) : [];
    const index = this.indexOf(owned);
    const taken = await this.apps.takenByOthers(
      result.applications.map((a) => a.metadata.name).filter((n) => !index.has(n)),
      appSetId,
    );
    watch.lap('owned');
    const candidates: GeneratedApplication[] = [];
    for (const app of result.applications) {
      const name = app.metadata.name;
      if (taken.has(name)) {
        errors.push({
          name,
          message: `an application named "${name}" already exists and is not generated by this ApplicationSet`,
        });
        continue;
      }
      // Destination by name or server (Argo CD's in-cluster too), as a registered cluster's name.
      const resolved = resolveDestination(app.spec.destination, clusters, this.config.inCluster);
      if ('error' in resolved) {
        errors.push({ name, message: resolved.error });
        keep.add(name);
        continue;
      }
      const placed = this.placed(app, resolved.name);
      // Project check at generation, through the one gate (remembered per distinct request):
      // an application outside its project is refused on its own.
      const { source, destination, project } = placed.spec;
      const cluster = clusterByName.get(destination.name);
      const namespace = destination.namespace || DEFAULT_NAMESPACE;
      const bySource = gate.check({
        project: project || 'default',
        repoURL: source.repoURL,
        namespace,
      });
      const byDestination = cluster
        ? gate.check({ project: project || 'default', cluster, namespace })
        : [];
      if (bySource.length || byDestination.length) {
        errors.push({ name, message: [...new Set([...bySource, ...byDestination])].join('; ') });
        keep.add(name);
        continue;
      }
      candidates.push(placed);
    }

    watch.lap('check');
    const rolling = appset.spec.rollingSync !== undefined;
    const plan = planChanges(owned, candidates, appset.spec.syncPolicy.applicationsSync, {
      hashSuffix: rolling ? ROLLING_HASH_SUFFIX : '',
      keep,
      skipDelete: !result.complete,
      hashOf,
      index,
    });
    // Only what will be written is converted to the hub's spec (and validated with the API's
    // schema): an application the hub cannot honour fails on its own, by name, and is kept.
    // (Indexed on the first: a re-evaluation usually converts nothing.)
    let byName: Map<string, GeneratedApplication> | undefined;
    const named = (name: string) =>
      (byName ??= new Map(candidates.map((a) => [a.metadata.name, a]))).get(name)!;
    const rows = new Map<string, GeneratedRow>();
    const refused = new Set<string>();
    const convert = (names: string[]) =>
      names.filter((name) => {
        const app = named(name);
        const converted = toApplicationSpec(app, rolling);
        if ('error' in converted) {
          errors.push({ name, message: converted.error });
          refused.add(name);
          return false;
        }
        rows.set(name, {
          name,
          spec: converted.spec,
          // Under RollingSync the stored spec differs (no automated sync): so does its hash.
          specHash: hashOf(app) + (rolling ? ROLLING_HASH_SUFFIX : ''),
          labels: app.metadata.labels ?? {},
        });
        return true;
      });
    watch.lap('plan');
    const createOk = convert(plan.create);
    const updateOk = convert(plan.update);
    // Dependencies that would close a cycle fail their application, by name (as at the API).
    if ([...rows.values()].some((r) => r.spec.dependsOn?.length)) {
      const cycles = await this.dependencies.cyclesAmong([...rows.values()]);
      for (const [name, cycle] of cycles) {
        errors.push({ name, message: `spec.dependsOn: dependency cycle: ${cycle.join(' → ')}` });
        refused.add(name);
        rows.delete(name);
      }
    }
    plan.unchanged.push(...plan.update.filter((n) => !rows.has(n)));
    plan.create = createOk.filter((n) => rows.has(n));
    plan.update = updateOk.filter((n) => rows.has(n));
    const applications = candidates.filter((a) => !refused.has(a.metadata.name));
    watch.lap('convert');

    // Mass-deletion guard: more than the allowed share waits for confirmation of exactly that set.
    let pendingDeletion: string[] = [];
    const share = owned.length ? plan.delete.length / owned.length : 0;
    if (plan.delete.length > 0 && share > this.config.appsetMaxDeleteShare) {
      const ok = new Set(confirmed);
      if (!plan.delete.every((n) => ok.has(n))) {
        pendingDeletion = plan.delete;
        plan.unchanged.push(...plan.delete);
        plan.delete = [];
      }
    }
    return {
      applications,
      errors,
      warnings: [],
      plan,
      pendingDeletion,
      complete: result.complete,
      impure: result.impure === true,
      overLimit,
      rows,
      owned,
    };
  }

  /** Evaluates the ApplicationSet of a claimed work item and finishes the item. */
  async evaluate(item: WorkItem, lease: Lease): Promise<void> {
    const entity = await this.appsets.findById(item.key);
    if (!entity) {
      this.memos.delete(item.key);
      await this.finish(item, lease, () => Promise.resolve());
      return;
    }
    const parsed = parseApplicationSet(entity.document);
    if (!parsed.appset) {
      const error = parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
      await this.finish(item, lease, (tx) =>
        this.appsets.saveStatus(
          entity.id,
          status(entity, {
            conditions: conditions(entity, { error, generated: false, upToDate: false }),
          }),
          tx,
        ),
      );
      return;
    }
    const appset = parsed.appset;
    const end = this.metrics.appsetEvaluationDuration.startTimer();
    const watch = new Stopwatch();
    // The owned applications' summary is computed by PostgreSQL while the rest is read here.
    const ownedSummary = this.apps.ownedSummary(entity.id);
    ownedSummary.catch(() => undefined); // awaited below; not unhandled meanwhile
    const inventory = await this.inventory();
    watch.lap('inventory');
    // A plugin's or provider's answer is not among the inputs, nor the time or chance a template
    // reads: those are always evaluated.
    const skippable =
      serviceGenerators(entity.document).length === 0 && !readsClockOrChance(entity.document);
    // Nothing it reads changed since the last evaluation that changed nothing: nothing to do.
    // Only an evaluation that may be skipped waits for the summary before it generates; the others
    // (no fingerprint: after a change, a refresh) generate while PostgreSQL computes it.
    const unchanged =
      skippable &&
      !!entity.status.fingerprint &&
      (await this.unchanged(entity, inventory, await ownedSummary));
    watch.lap('fingerprint');
    if (unchanged) {
      this.metrics.appsetEvaluations.inc({ outcome: 'skipped' });
      await this.finish(item, lease, () => Promise.resolve());
      return;
    }
    this.metrics.appsetEvaluations.inc({ outcome: 'evaluated' });
    // The refs as they are before generating: the fingerprint of an evaluation whose git reads
    // could not be recorded (too many, or one failed) names them instead, so that a fetch landing
    // meanwhile is not taken for read.
    const refsBefore = skippable ? this.refsRead(entity) : undefined;
    refsBefore?.catch(() => undefined); // awaited below; not unhandled meanwhile
    const recorder = new RecordingTreeReader(this.reader);
    const stamp = ownedSummary.then(stampOf);
    stamp.catch(() => undefined); // awaited by preview once it has generated
    const ev = await this.previewRemembering(appset, entity.id, {
      confirmed: entity.deletionConfirmed,
      watch,
      inventory,
      ownedStamp: stamp,
      git: recorder,
    });
    const owned = await ownedSummary;
    const reads = skippable ? recorder.recorded() : undefined;
    const ownedCount = ev.owned.length;
    const preserve = appset.spec.syncPolicy.preserveResourcesOnDeletion;
    const { create, update, delete: del } = ev.plan;
    const changed = create.length + update.length + del.length;
    // Recorded only when the evaluation changed nothing: its own writes change the owned-apps
    // part of the inputs, so the evaluation after a change runs once more and then settles.
    // Errors may clear without any input changing (a project or a conflicting application fixed,
    // a transient failure): only a clean, complete evaluation may be skipped next time. The
    // inputs are those this evaluation read, with its git reads in place of whole refs when it
    // has them (the refs otherwise as they were before it read). Nor is it recorded when a
    // template called the clock or chance as it ran (through `tpl` over a parameter, no name in
    // the document shows it).
    const inputs =
      skippable && changed === 0 && clean(ev) && !ev.impure
        ? this.fingerprint(entity, inventory, owned, reads ?? (await refsBefore!))
        : undefined;
    watch.lap('fingerprint');
    // Once more later, to record the fingerprint (of no use when never skipped).
    const settles = skippable && changed > 0 && item.reason !== SETTLE_REASON;

    const written = await this.finish(
      item,
      lease,
      async (tx) => {
        // An evaluation that changes nothing writes only its status.
        if (changed > 0) await this.writeChanges(tx, entity, ev, preserve);
        // A confirmation is for one deletion: used, or no longer needed (the plan changed, the
        // generation was incomplete), it goes; a later deletion of the same names asks again.
        if (entity.deletionConfirmed.length > 0 && ev.pendingDeletion.length === 0)
          await this.appsets.setDeletionConfirmed(entity.id, [], tx);
        if (changed > 0) {
          // One event per evaluation that changed something, naming (some of) what it changed.
          await runWithActor(`applicationset:${entity.name}`, () =>
            this.audit.record(
              'applicationset.apply',
              'ApplicationSet',
              entity.name,
              undefined,
              {
                created: create.slice(0, AUDIT_NAMES),
                updated: update.slice(0, AUDIT_NAMES),
                deleted: del.slice(0, AUDIT_NAMES),
                counts: { created: create.length, updated: update.length, deleted: del.length },
              },
              tx,
            ),
          );
        }
        const errorText = ev.errors
          .slice(0, 5)
          .map((e) => {
            const where = e.name ?? e.path;
            // Generator errors already start with their path.
            return where && !e.message.startsWith(`${where}:`)
              ? `${where}: ${e.message}`
              : e.message;
          })
          .join('; ');
        await this.appsets.saveStatus(
          entity.id,
          status(entity, {
            conditions: conditions(entity, {
              error: ev.errors.length ? `${ev.errors.length} error(s): ${errorText}` : '',
              generated: ev.complete,
              upToDate: ev.errors.length === 0 && ev.pendingDeletion.length === 0,
              pending: ev.pendingDeletion,
              total: ownedCount,
            }),
            applicationErrors: ev.errors.slice(0, 1000),
            pendingDeletion: ev.pendingDeletion,
            applications: ownedCount + create.length - del.length,
            fingerprint: inputs,
            gitReads: reads?.map(({ digest: _, ...r }) => r),
          }),
          tx,
        );
      },
      settles ? SETTLE_SECONDS : undefined,
    );
    end({ changed: String(changed > 0) });
    watch.lap('write');
    // Only what was written: a result dropped (lease lost) must not be taken for what it owns.
    if (changed > 0 && written)
      await this.rememberOwned(entity.id, ev, owned.lastUpdate).catch(() => undefined);
    this.log.debug(`${entity.name}: evaluated (ms: ${watch.toString()})`);
    if (changed) {
      this.log.log(
        `${entity.name}: created ${create.length}, updated ${update.length}, deleted ${del.length}` +
          (ev.errors.length ? `, ${ev.errors.length} error(s)` : ''),
      );
    }
  }

  /** Writes the applications an evaluation creates, updates and deletes (in its transaction). */
  private async writeChanges(
    tx: EntityManager,
    entity: ApplicationSetEntity,
    ev: Evaluation,
    preserve: boolean,
  ): Promise<void> {
    const { create, update, delete: del } = ev.plan;
    // The cycle check of the plan ran outside this transaction: again, serialised with the
    // other writers of dependencies (an application edited meanwhile may close a cycle with
    // these). Then the evaluation runs again, and refuses what closes one.
    const withDeps = [...create, ...update]
      .map((n) => ev.rows.get(n)!)
      .filter((r) => r.spec.dependsOn?.length);
    if (withDeps.length && (await this.dependencies.cyclesAmong(withDeps, tx)).size > 0)
      throw new Error('a dependency cycle was closed meanwhile: evaluating again');
    // The projects written into are held until this commits, as for an application written
    // through the API: a project deleted at the same time is not left with applications. One
    // deleted since the plan: evaluated again (its applications then fail the project check).
    const projects = new Set([...create, ...update].map((n) => ev.rows.get(n)!.spec.project));
    for (const project of [...projects].sort()) {
      await this.projects.holdForApplication(tx, project).catch((e: unknown) => {
        if (!(e instanceof ValidationFailed)) throw e;
        throw new Error(`project "${project}" was deleted meanwhile: evaluating again`);
      });
    }
    const ids = await this.apps.idsByName(tx, entity.id, [...update, ...del]);
    const updated = update.map((n) => ({ ...ev.rows.get(n)!, id: ids.get(n)! }));
    // Work items before rows, as a batch reconciling them takes them (fence, then the
    // applications): the other order could deadlock with one. New rows are no one's yet.
    await this.queue.apps({ ids: updated.map((u) => u.id) }, `applicationset ${entity.name}`, tx);
    await this.apps.updateGenerated(tx, updated);
    const created = await this.apps.insertGenerated(
      tx,
      entity.id,
      create.map((n) => ev.rows.get(n)!),
    );
    await this.queue.apps({ ids: created }, `applicationset ${entity.name}`, tx);
    const removedFrom = await this.apps.deleteWithNotes(
      tx,
      del.map((n) => ids.get(n)!),
      !preserve,
    );
    await this.dispatch.notify(removedFrom, tx);
  }

  /**
   * Writes an evaluation's results and ends its work item, fenced by the lease, in one
   * transaction; false when the lease was lost (nothing written). With `againAfterSeconds`, the
   * item is not ended but runs again then (see SETTLE_SECONDS).
   */
  private async finish(
    item: WorkItem,
    lease: Lease,
    write: (tx: EntityManager) => Promise<void>,
    againAfterSeconds?: number,
  ): Promise<boolean> {
    if (lease.lost) return false;
    return this.ds.transaction(async (tx) => {
      const held = await this.work.fence(tx, 'appset', lease.owner, [item.key]);
      if (!held.has(item.key)) {
        this.log.warn(`ApplicationSet ${item.key}: its lease was lost; result dropped`);
        return false;
      }
      await write(tx);
      if (againAfterSeconds === undefined) {
        await this.work.complete(tx, 'appset', lease.owner, [item]);
      } else {
        await this.work.retryLater(tx, 'appset', lease.owner, [
          {
            key: item.key,
            dirty: item.dirty,
            delaySeconds: againAfterSeconds,
            reason: SETTLE_REASON,
          },
        ]);
      }
      return true;
    });
  }

  private async inventory(): Promise<ClusterInfo[]> {
    const rows = await this.clusters.inventory();
    // The rows are shared (and frozen); templates may change the maps they are given (sprig's
    // set, unset, merge): each evaluation gets its own.
    return rows.map((c) =>
      c.name === this.config.inCluster
        ? {
            name: c.name,
            server: IN_CLUSTER_SERVER,
            labels: { ...c.labels },
            annotations: { ...c.annotations },
            inCluster: true,
          }
        : {
            name: c.name,
            server: c.server || `axle://${c.name}`,
            labels: { ...c.labels },
            annotations: { ...c.annotations },
          },
    );
  }

  /**
   * The applications an ApplicationSet owns (name, spec hash). The last list read is kept per
   * ApplicationSet with the stamp of what it owned then (count and last change): while the stamp
   * is the same, so is the list, and 100,000 rows are not read again.
   */
  private async ownedBy(
    appSetId: string,
    stamp: string | undefined,
  ): Promise<{ name: string; specHash: string }[]> {
    const hit = this.owned.get(appSetId);
    if (stamp && hit?.stamp === stamp) return hit.list;
    const list = await this.apps.ownedBy(appSetId);
    if (stamp) {
      this.owned.set(appSetId, { stamp, list });
      if (this.owned.size > 64) this.owned.delete(this.owned.keys().next().value!);
    }
    return list;
  }

  /** The index by name of an owned list (see nameIndex): built once per list read. */
  private indexOf(owned: { name: string }[]): Map<string, number> {
    let index = this.ownedIndexes.get(owned);
    if (!index) this.ownedIndexes.set(owned, (index = nameIndex(owned)));
    return index;
  }

  /**
   * {@link preview} with what is remembered of the ApplicationSet's last evaluation (see memoOf).
   * An evaluation of the same ApplicationSet already running here (its lease lapsed, and it was
   * claimed again) goes without: the memos follow one evaluation at a time.
   */
  private async previewRemembering(
    appset: ApplicationSet,
    appSetId: string,
    opts: Omit<Parameters<AppSetEvaluator['preview']>[2], 'memo'>,
  ): Promise<Evaluation> {
    if (this.evaluating.has(appSetId)) return this.preview(appset, appSetId, opts);
    this.evaluating.add(appSetId);
    try {
      const memo = this.memoOf(appSetId);
      const ev = await this.preview(appset, appSetId, { ...opts, memo });
      // Larger than all memos may be: its applications are not kept until the next evaluation.
      if (memoSize(memo) > MEMO_APPLICATIONS) this.memos.delete(appSetId);
      if (memo.hashes.mismatches > 0 || memo.renders.mismatches > 0) {
        // A defect (an application changed after it was hashed, or a parameter set after it was
        // rendered): this plan may have missed updates.
        this.memos.delete(appSetId);
        throw new Error(
          'a remembered application or spec hash differed from what it was for: evaluating again without them',
        );
      }
      return ev;
    } finally {
      this.evaluating.delete(appSetId);
    }
  }

  /**
   * What is remembered of an ApplicationSet's last evaluation: its applications, by what they
   * were rendered from (RenderMemo) and with their spec hashes (SpecHashMemo). Those of the
   * ApplicationSets evaluated last are kept, up to MEMO_APPLICATIONS applications in all (and 64
   * ApplicationSets).
   */
  private memoOf(appSetId: string): EvaluationMemo {
    const memo = this.memos.get(appSetId) ?? {
      hashes: new SpecHashMemo(),
      renders: new RenderMemo(),
    };
    this.memos.delete(appSetId);
    let held = memoSize(memo);
    let kept = 1;
    for (const [id, m] of [...this.memos].reverse()) {
      held += memoSize(m);
      if (held > MEMO_APPLICATIONS || kept >= 64) this.memos.delete(id);
      else kept++;
    }
    this.memos.set(appSetId, memo);
    return memo;
  }

  /**
   * A generated application with the hub's destination: the cluster's name, no server. Generated
   * applications are not changed (a RenderMemo may hand the same one to the next evaluation): one
   * taken over gets the same placed application as before while its cluster is the same.
   */
  private placed(app: GeneratedApplication, cluster: string): GeneratedApplication {
    const seen = this.placedApps.get(app);
    if (seen?.spec.destination.name === cluster) return seen;
    const { namespace } = app.spec.destination;
    const placed: GeneratedApplication = {
      metadata: app.metadata,
      spec: {
        ...app.spec,
        destination: {
          name: cluster,
          server: '',
          // None, or "" as a template may give it: the application has no namespace of its own.
          ...(namespace ? { namespace } : {}),
        },
      },
    };
    this.placedApps.set(app, placed);
    return placed;
  }

  /** After its writes: what the ApplicationSet owns now, and the stamp that goes with it. */
  private async rememberOwned(appSetId: string, ev: Evaluation, since: Date | null): Promise<void> {
    const gone = new Set(ev.plan.delete);
    const list = ev.owned
      .filter((o) => !gone.has(o.name))
      .map((o) =>
        ev.rows.has(o.name) ? { name: o.name, specHash: ev.rows.get(o.name)!.specHash } : o,
      );
    for (const name of ev.plan.create) list.push({ name, specHash: ev.rows.get(name)!.specHash });
    const s = await this.apps.ownedSummary(appSetId);
    if (s.count !== list.length) return; // someone else changed it meanwhile: read it next time
    // An edit by someone else since the list was read (the count stays) is read next time too.
    const written = [...ev.rows.values()].map((r) => ({ name: r.name, specHash: r.specHash }));
    if (await this.apps.changedBesides(appSetId, since, written)) return;
    this.owned.set(appSetId, { stamp: stampOf(s), list });
  }

  /**
   * Whether the inputs of an evaluation are those of the last one that changed nothing (its
   * fingerprint, recorded): false without one (after a change, a refresh).
   */
  private async unchanged(
    entity: ApplicationSetEntity,
    inventory: ClusterInfo[],
    owned: Awaited<ReturnType<ApplicationsRepository['ownedSummary']>>,
  ): Promise<boolean> {
    if (!entity.status.fingerprint) return false;
    // What the generators read from git last time, read again at the current commits.
    const replayed = entity.status.gitReads
      ? await replayReads(this.reader, entity.status.gitReads)
      : undefined;
    const read = replayed ?? (await this.refsRead(entity));
    return this.fingerprint(entity, inventory, owned, read) === entity.status.fingerprint;
  }

  /** The refs of every repository an ApplicationSet's generators may read (local clone, no fetch). */
  private async refsRead(
    entity: ApplicationSetEntity,
  ): Promise<Record<string, Record<string, string> | null>> {
    const repositories: Record<string, Record<string, string> | null> = {};
    const repos = entity.repos.includes('*') ? await this.git.knownRepositories() : entity.repos;
    for (const url of repos) repositories[url] = await this.git.cache.refs(url).catch(() => null);
    return repositories;
  }

  /**
   * Hash of everything an evaluation reads: the document, the inventory, what its generators read
   * from git (the listings and files, by digest; when those could not be recorded, the refs of
   * every repository they may read) and the applications it owns (their summary).
   */
  private fingerprint(
    entity: ApplicationSetEntity,
    inventory: ClusterInfo[],
    owned: Awaited<ReturnType<ApplicationsRepository['ownedSummary']>>,
    read: RecordedRead[] | Record<string, Record<string, string> | null>,
  ): string {
    const [reads, repositories] = Array.isArray(read) ? [read, {}] : [undefined, read];
    return evaluationFingerprint({
      document: entity.document,
      clusters: inventory,
      repositories,
      extra: {
        projects: owned.projectsUpdate,
        owned: owned.count,
        last: owned.lastUpdate,
        confirmed: entity.deletionConfirmed,
        version: entity.specVersion,
        // What bounds an evaluation: lowering a limit must be noticed (refused, not skipped).
        limits: [this.config.appsetMaxApplications, this.config.appsetMaxRenderSeconds],
        reads: reads?.map((r) => [r.url, r.revision, r.op, r.path ?? '', r.digest]) ?? null,
      },
    });
  }
}

/** What an ApplicationSet owns, as a stamp: its count and last change (see ownedBy). */
function stampOf(s: { count: number; lastUpdate: Date | null }): string {
  return `${s.count}|${s.lastUpdate?.toISOString() ?? ''}`;
}

/** An evaluation without errors, complete, with no deletion waiting for confirmation. */
function clean(ev: Evaluation): boolean {
  return ev.errors.length === 0 && ev.complete && ev.pendingDeletion.length === 0;
}

/**
 * How an evaluation renders and hashes its applications: through `memo` when given (the round of
 * its hashes starts here, that of its renders with the generation).
 */
function startRounds(memo: EvaluationMemo | undefined): {
  renders: RenderMemo | undefined;
  hashOf: (app: GeneratedApplication) => string;
} {
  if (!memo) return { renders: undefined, hashOf: applicationSpecHash };
  memo.hashes.round();
  return { renders: memo.renders, hashOf: (app) => memo.hashes.hash(app) };
}

function status(entity: ApplicationSetEntity, s: Partial<AppSetStatus>): AppSetStatus {
  return {
    applicationErrors: [],
    pendingDeletion: [],
    applications: entity.status.applications ?? 0,
    ...s,
    conditions: s.conditions ?? [],
    lastEvaluatedAt: new Date().toISOString(),
    lastEvaluatedVersion: entity.specVersion,
  };
}

function conditions(
  entity: ApplicationSetEntity,
  s: { error: string; generated: boolean; upToDate: boolean; pending?: string[]; total?: number },
): AppSetCondition[] {
  const prev = entity.status.conditions ?? [];
  const make = (
    type: AppSetCondition['type'],
    status: AppSetCondition['status'],
    reason: string,
    message: string,
  ) => {
    const old = prev.find((c) => c.type === type);
    const lastTransitionTime =
      old && old.status === status ? old.lastTransitionTime : new Date().toISOString();
    return { type, status, reason, message, lastTransitionTime };
  };
  const pending = s.pending ?? [];
  return [
    make(
      'ErrorOccurred',
      s.error ? 'True' : 'False',
      s.error ? 'ApplicationGenerationError' : 'NoError',
      s.error || 'all applications generated and applied',
    ),
    make(
      'ParametersGenerated',
      s.generated ? 'True' : 'False',
      s.generated ? 'ParametersGenerated' : 'ErrorGeneratingParameters',
      s.generated
        ? 'parameters generated by every generator'
        : 'a generator failed: nothing was deleted',
    ),
    make(
      'ResourcesUpToDate',
      s.upToDate ? 'True' : 'False',
      pending.length
        ? 'DeletionPending'
        : s.upToDate
          ? 'ApplicationSetUpToDate'
          : 'ApplicationGenerationError',
      pending.length
        ? `would delete ${pending.length} of ${s.total ?? 0} applications (${pending.slice(0, 10).join(', ')}${pending.length > 10 ? ', …' : ''}); confirm with \`axle appset confirm-deletion ${entity.name}\``
        : s.upToDate
          ? 'all applications are up to date'
          : 'some applications could not be generated; the others were applied',
    ),
  ];
}
