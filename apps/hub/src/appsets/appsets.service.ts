import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { parse as parseYaml } from 'yaml';
import { parseApplicationSet, type ApplicationSet } from '../../../../libs/appset/src/index.js';
import { ApplicationsRepository } from '../applications/applications.repository.js';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound, ValidationFailed } from '../common/validation.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { GitService } from '../git/git.service.js';
import { WorkQueue } from '../work/work-queue.js';
import type { ApplicationSetEntity, AppSetIssue, AppSetStatus } from './application-set.entity.js';
import { AppSetEvaluator, isRenderTimeLimit, type Evaluation } from './appset-evaluator.js';
import { AppSetsRepository } from './appsets.repository.js';
import { generatorInputs, requeueSeconds } from './to-application-spec.js';
import { checkDepth, jsonLargerThan } from '../common/body-depth.js';

export interface AppSetView {
  name: string;
  document: Record<string, unknown>;
  /** Fields Axle does not support, by path: reported, never silently dropped. */
  warnings: AppSetIssue[];
  status: AppSetStatus;
  /**
   * Generated applications that fail at reconcile (render, source, destination, project), at
   * most 50: an ApplicationSet is not healthy while one of them is not.
   */
  applicationConditions: { name: string; type: string; message: string }[];
  applications: string[];
  createdAt: string;
}

const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** How long create and update wait for the admission evaluation (see refuseUnrenderable). */
const ADMISSION_EVALUATION_MS = 10_000;

/** How often ApplicationSets due for their requeueAfterSeconds are looked for. */
const REQUEUE_CHECK_MS = 5000;

@Injectable()
export class AppSetsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('AppSets');
  private requeueTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly repo: AppSetsRepository,
    private readonly apps: ApplicationsRepository,
    private readonly evaluator: AppSetEvaluator,
    private readonly work: WorkQueue,
    private readonly dispatch: DispatchNotifier,
    private readonly git: GitService,
    private readonly audit: AuditService,
  ) {}

  /**
   * ApplicationSets that ask services (plugin, pullRequest, scmProvider, clusterDecisionResource)
   * are evaluated again every requeueAfterSeconds (Argo CD's defaults when not given).
   */
  onApplicationBootstrap(): void {
    this.requeueTimer = setInterval(() => {
      void this.repo
        .dueForRequeue()
        .then((ids) => (ids.length ? this.work.appsets({ ids }, 'requeueAfterSeconds') : 0))
        .catch((e: unknown) => this.log.warn(`requeue: ${(e as Error).message}`));
    }, REQUEUE_CHECK_MS);
    this.requeueTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.requeueTimer);
  }

  async create(body: unknown): Promise<AppSetView> {
    const { appset, document, warnings } = this.parse(body);
    await this.refuseUnrenderable(appset, null);
    const inputs = { ...generatorInputs(document.spec), requeueSeconds: requeueSeconds(document) };
    try {
      await this.ds.transaction(async (tx) => {
        const id = await this.repo.insert(tx, {
          name: appset.metadata.name,
          document,
          warnings,
          ...inputs,
          status: emptyStatus(),
        });
        await this.audit.record(
          'applicationset.create',
          'ApplicationSet',
          appset.metadata.name,
          undefined,
          document,
          tx,
        );
        await this.work.appsets({ ids: [id] }, 'created', tx);
      });
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`ApplicationSet "${appset.metadata.name}" already exists`);
      }
      throw e;
    }
    return this.view(await this.entity(appset.metadata.name));
  }

  async update(name: string, body: unknown): Promise<AppSetView> {
    const existing = await this.entity(name);
    const { appset, document, warnings } = this.parse(body);
    if (appset.metadata.name !== name) {
      throw new ValidationFailed('invalid ApplicationSet', [
        { field: 'metadata.name', reason: `must be "${name}" (renaming is not supported)` },
      ]);
    }
    await this.refuseUnrenderable(appset, existing.id);
    const inputs = { ...generatorInputs(document.spec), requeueSeconds: requeueSeconds(document) };
    await this.ds.transaction(async (tx) => {
      // Its work item first, then the set: the order an evaluation writing its results takes
      // (fence, applications, status), so the two wait for each other instead of deadlocking.
      await this.work.appsets({ ids: [existing.id] }, 'updated', tx);
      await this.repo.updateDocument(tx, existing.id, { document, warnings, ...inputs });
      await this.audit.record(
        'applicationset.update',
        'ApplicationSet',
        name,
        existing.document,
        document,
        tx,
      );
    });
    return this.view(await this.entity(name));
  }

  /** Deletes the ApplicationSet and the applications it generated (resources kept when preserveResourcesOnDeletion). */
  async delete(name: string): Promise<void> {
    const existing = await this.entity(name);
    const parsed = parseApplicationSet(existing.document);
    const prune = !(parsed.appset?.spec.syncPolicy.preserveResourcesOnDeletion ?? false);
    await this.ds.transaction(async (tx) => {
      // Its work item first (see update): an evaluation writing its results finishes before the
      // applications are read here, or writes nothing after (the set is gone).
      await this.work.appsets({ ids: [existing.id] }, 'deleted', tx);
      const owned = await this.apps.ownedIds(tx, existing.id);
      const clusters = await this.apps.deleteWithNotes(tx, owned, prune);
      await this.repo.delete(tx, existing.id);
      await this.audit.record(
        'applicationset.delete',
        'ApplicationSet',
        name,
        existing.document,
        undefined,
        tx,
      );
      await this.dispatch.notify(clusters, tx);
    });
  }

  async list(): Promise<AppSetView[]> {
    const all = await this.repo.list();
    return Promise.all(all.map((e) => this.view(e)));
  }

  async get(name: string): Promise<AppSetView> {
    return this.view(await this.entity(name));
  }

  /** What applying this document would generate, create, update and delete; changes nothing. */
  async dryRun(
    body: unknown,
  ): Promise<Omit<Evaluation, 'rows' | 'owned' | 'impure'> & { warnings: AppSetIssue[] }> {
    const { document, warnings } = this.parse(body);
    // Evaluated as stored, so an unchanged document plans no change (see asStored).
    const appset = parseApplicationSet(await this.repo.asStored(document)).appset!;
    const existing = await this.repo.findByName(appset.metadata.name);
    const {
      rows: _rows,
      owned: _owned,
      impure: _impure,
      ...ev
    } = await this.evaluator.preview(appset, existing?.id ?? null, {
      confirmed: existing?.deletionConfirmed ?? [],
    });
    return { ...ev, applications: ev.applications.map(asArgoApplication) as never, warnings };
  }

  /**
   * Refuses a template that renders for none of its parameter sets (a typo in a key under
   * `missingkey=error`, a function that does not exist, …), or one that generates more
   * applications than AXLE_APPSET_MAX_APPLICATIONS: evaluated once at admission, as a dry run would. Generators that fail (an unreachable repository, say) are not a reason: the
   * status reports them. An evaluation slower than ADMISSION_EVALUATION_MS is not waited for.
   */
  private async refuseUnrenderable(appset: ApplicationSet, id: string | null): Promise<void> {
    // Past ADMISSION_EVALUATION_MS the set is taken as it is (its evaluation tells the rest),
    // and this preview stops rendering: the evaluation does the same work again.
    const abandon = new AbortController();
    const evaluation = this.evaluator
      .preview(appset, id, { signal: abandon.signal })
      .catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const ev = await Promise.race([
      evaluation,
      new Promise<undefined>((r) => {
        timer = setTimeout(() => {
          abandon.abort(new Error('admission check abandoned'));
          r(undefined);
        }, ADMISSION_EVALUATION_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (ev?.overLimit) {
      throw new ValidationFailed(
        ev.errors.some(isRenderTimeLimit)
          ? 'invalid ApplicationSet: its applications take longer to render than one ApplicationSet may'
          : 'invalid ApplicationSet: it generates more applications than one ApplicationSet may have',
        ev.errors.map((e) => {
          const field = e.path ?? 'spec.generators';
          // The generator's path is the field: not said again in the reason.
          const reason = e.message.startsWith(`${field}: `)
            ? e.message.slice(field.length + 2)
            : e.message;
          return { field, reason };
        }),
      );
    }
    if (!ev || ev.applications.length > 0 || ev.errors.length === 0) return;
    if (!ev.errors.every((e) => e.path?.startsWith('applications['))) return;
    const reasons = [...new Set(ev.errors.map((e) => e.message))];
    throw new ValidationFailed(
      'invalid ApplicationSet: its template renders for none of the generated parameter sets',
      reasons.slice(0, 5).map((reason) => ({ field: 'spec.template', reason })),
    );
  }

  /** Confirms the deletions the mass-deletion guard is holding back, then re-evaluates. */
  async confirmDeletion(name: string): Promise<{ confirmed: string[] }> {
    const e = await this.entity(name);
    const pending = e.status.pendingDeletion ?? [];
    await this.ds.transaction(async (tx) => {
      await this.work.appsets({ ids: [e.id] }, 'deletion confirmed', tx); // first: see update
      await this.repo.setDeletionConfirmed(e.id, pending, tx);
      await this.audit.record(
        'applicationset.confirm-deletion',
        'ApplicationSet',
        name,
        undefined,
        { confirmed: pending },
        tx,
      );
    });
    return { confirmed: pending };
  }

  /**
   * Fetches the repositories its generators read, then evaluates it fully (not skipped even when
   * nothing it reads changed).
   */
  async refresh(name: string): Promise<void> {
    const e = await this.entity(name);
    const repos = e.repos.includes('*') ? await this.git.knownRepositories() : e.repos;
    await Promise.all(repos.map((url) => this.git.refresh(url)));
    await this.ds.transaction(async (tx) => {
      await this.work.appsets({ ids: [e.id] }, 'refresh requested', tx); // first: see update
      await this.repo.clearFingerprint(e.id, tx);
    });
  }

  private parse(body: unknown): {
    appset: ApplicationSet;
    document: Record<string, unknown>;
    warnings: AppSetIssue[];
  } {
    let doc: unknown = body;
    if (typeof body === 'string') {
      if (Buffer.byteLength(body) > MAX_DOCUMENT_BYTES) {
        throw new ValidationFailed('invalid ApplicationSet', [
          { field: '', reason: 'document larger than 1 MiB' },
        ]);
      }
      try {
        // A repeated key keeps its last value, as kubectl and Argo CD read it.
        doc = parseYaml(body, { maxAliasCount: 100, uniqueKeys: false });
      } catch (e) {
        throw new ValidationFailed('invalid ApplicationSet', [
          { field: '', reason: `invalid YAML: ${(e as Error).message.split('\n')[0]}` },
        ]);
      }
      // Aliases repeat what they name: 1 MiB of YAML can stand for 100 MiB of document.
      if (jsonLargerThan(doc, MAX_DOCUMENT_BYTES)) {
        throw new ValidationFailed('invalid ApplicationSet', [
          { field: '', reason: 'document larger than 1 MiB once its YAML aliases are expanded' },
        ]);
      }
      checkDepth(doc, 'ApplicationSet');
    }
    const r = parseApplicationSet(doc);
    if (!r.appset || r.errors.length > 0) {
      throw new ValidationFailed(
        'invalid ApplicationSet',
        r.errors.map((e) => ({ field: e.path === '(root)' ? '' : e.path, reason: e.message })),
      );
    }
    return {
      appset: r.appset,
      document: doc as Record<string, unknown>,
      warnings: r.warnings.map((w) => ({ path: w.path, message: w.message })),
    };
  }

  private async entity(name: string): Promise<ApplicationSetEntity> {
    const e = await this.repo.findByName(name);
    if (!e) throw new NotFound(`ApplicationSet "${name}" not found`);
    return e;
  }

  private async view(e: ApplicationSetEntity): Promise<AppSetView> {
    const apps = await this.apps.ownedNames(e.id);
    return {
      name: e.name,
      document: e.document,
      warnings: e.warnings,
      status: { ...emptyStatus(), ...e.status },
      applicationConditions: await this.apps.failingConditionsOf(e.id),
      applications: apps,
      createdAt: e.createdAt.toISOString(),
    };
  }
}

function emptyStatus(): AppSetStatus {
  return { conditions: [], applicationErrors: [], pendingDeletion: [], applications: 0 };
}

/** A generated application as a complete Argo CD `Application` object. */
export function asArgoApplication(app: {
  metadata: object;
  spec: object;
}): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: app.metadata,
    spec: app.spec,
  };
}
