import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type Repository } from 'typeorm';
import { parse as parseYaml } from 'yaml';
import { parseApplicationSet, type ApplicationSet } from '../../../../libs/appset/src/index.js';
import { ApplicationEntity } from '../applications/application.entity.js';
import { ApplicationsService, type AppChange } from '../applications/applications.service.js';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound, ValidationFailed } from '../common/validation.js';
import {
  ApplicationSetEntity,
  type AppSetIssue,
  type AppSetStatus,
} from './application-set.entity.js';
import { AppSetEvaluator, type Evaluation } from './appset-evaluator.js';
import { generatorInputs } from './to-application-spec.js';

export interface AppSetView {
  name: string;
  document: Record<string, unknown>;
  /** Fields Axle does not support, by path: reported, never silently dropped. */
  warnings: AppSetIssue[];
  status: AppSetStatus;
  applications: string[];
  createdAt: string;
}

const MAX_DOCUMENT_BYTES = 1024 * 1024;

@Injectable()
export class AppSetsService {
  private readonly repo: Repository<ApplicationSetEntity>;

  constructor(
    private readonly ds: DataSource,
    private readonly evaluator: AppSetEvaluator,
    private readonly apps: ApplicationsService,
    private readonly audit: AuditService,
  ) {
    this.repo = ds.getRepository(ApplicationSetEntity);
  }

  async create(body: unknown): Promise<AppSetView> {
    const { appset, document, warnings } = this.parse(body);
    const inputs = generatorInputs(document.spec);
    try {
      await this.repo.save(
        this.repo.create({
          name: appset.metadata.name,
          document,
          warnings,
          ...inputs,
          status: emptyStatus(),
        }),
      );
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`ApplicationSet "${appset.metadata.name}" already exists`);
      }
      throw e;
    }
    const saved = await this.entity(appset.metadata.name);
    await this.audit.record(
      'applicationset.create',
      'ApplicationSet',
      saved.name,
      undefined,
      document,
    );
    this.evaluator.enqueue(saved.id);
    return this.view(saved);
  }

  async update(name: string, body: unknown): Promise<AppSetView> {
    const existing = await this.entity(name);
    const { appset, document, warnings } = this.parse(body);
    if (appset.metadata.name !== name) {
      throw new ValidationFailed('invalid ApplicationSet', [
        { field: 'metadata.name', reason: `must be "${name}" (renaming is not supported)` },
      ]);
    }
    const before = existing.document;
    const inputs = generatorInputs(document.spec);
    await this.ds.query(
      `UPDATE application_sets SET document = $2, warnings = $3, repos = $4, reads_clusters = $5,
         spec_version = spec_version + 1, deletion_confirmed = '[]', updated_at = now() WHERE id = $1`,
      [
        existing.id,
        JSON.stringify(document),
        JSON.stringify(warnings),
        inputs.repos,
        inputs.readsClusters,
      ],
    );
    await this.audit.record('applicationset.update', 'ApplicationSet', name, before, document);
    this.evaluator.enqueue(existing.id);
    return this.view(await this.entity(name));
  }

  /** Deletes the ApplicationSet and the applications it generated (resources kept when preserveResourcesOnDeletion). */
  async delete(name: string): Promise<void> {
    const existing = await this.entity(name);
    const parsed = parseApplicationSet(existing.document);
    const prune = !(parsed.appset?.spec.syncPolicy.preserveResourcesOnDeletion ?? false);
    const changes = await this.ds.transaction(async (tx) => {
      const owned = await tx.find(ApplicationEntity, {
        select: { id: true },
        where: { appSetId: existing.id },
      });
      const out: AppChange[] = [];
      for (const a of owned) out.push(await this.apps.deleteInTx(tx, a.id, prune));
      await tx.delete(ApplicationSetEntity, { id: existing.id });
      await this.audit.record(
        'applicationset.delete',
        'ApplicationSet',
        name,
        existing.document,
        undefined,
        tx,
      );
      return out;
    });
    this.apps.announce(...changes);
  }

  async list(): Promise<AppSetView[]> {
    const all = await this.repo.find({ order: { name: 'ASC' } });
    return Promise.all(all.map((e) => this.view(e)));
  }

  async get(name: string): Promise<AppSetView> {
    return this.view(await this.entity(name));
  }

  /** What applying this document would generate, create, update and delete; changes nothing. */
  async dryRun(body: unknown): Promise<Evaluation & { warnings: AppSetIssue[] }> {
    const { appset, warnings } = this.parse(body);
    const existing = await this.repo.findOneBy({ name: appset.metadata.name });
    const ev = await this.evaluator.preview(
      appset,
      existing?.id ?? null,
      existing?.deletionConfirmed ?? [],
    );
    return { ...ev, applications: ev.applications.map(asArgoApplication) as never, warnings };
  }

  /** Confirms the deletions the mass-deletion guard is holding back, then re-evaluates. */
  async confirmDeletion(name: string): Promise<{ confirmed: string[] }> {
    const e = await this.entity(name);
    const pending = e.status.pendingDeletion ?? [];
    await this.repo.update({ id: e.id }, { deletionConfirmed: pending });
    await this.audit.record('applicationset.confirm-deletion', 'ApplicationSet', name, undefined, {
      confirmed: pending,
    });
    this.evaluator.enqueue(e.id);
    return { confirmed: pending };
  }

  async refresh(name: string): Promise<void> {
    this.evaluator.enqueue((await this.entity(name)).id);
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
        doc = parseYaml(body, { maxAliasCount: 100, uniqueKeys: true });
      } catch (e) {
        throw new ValidationFailed('invalid ApplicationSet', [
          { field: '', reason: `invalid YAML: ${(e as Error).message.split('\n')[0]}` },
        ]);
      }
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
    const e = await this.repo.findOneBy({ name });
    if (!e) throw new NotFound(`ApplicationSet "${name}" not found`);
    return e;
  }

  private async view(e: ApplicationSetEntity): Promise<AppSetView> {
    const apps = await this.ds.getRepository(ApplicationEntity).find({
      select: { name: true },
      where: { appSetId: e.id },
      order: { name: 'ASC' },
    });
    return {
      name: e.name,
      document: e.document,
      warnings: e.warnings,
      status: { ...emptyStatus(), ...e.status },
      applications: apps.map((a) => a.name),
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
