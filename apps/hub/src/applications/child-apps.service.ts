import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { decompressBundle, type KubeObject } from '../../../../libs/manifests/src/index.js';
import { AuditService } from '../audit/audit.service.js';
import { runWithActor } from '../auth/request-context.js';
import { ClustersRepository, type ClusterRef } from '../clusters/clusters.repository.js';
import { ValidationFailed } from '../common/validation.js';
import { jsonEqual } from '../common/json-equal.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import type { ProjectGate } from '../projects/project-gate.js';
import { ProjectsService } from '../projects/projects.service.js';
import { BundleStore } from '../render/bundle.store.js';
import { WorkQueue } from '../work/work-queue.js';
import { destinationClusters, targetNamespace } from './application.schemas.js';
import { ApplicationsRepository } from './applications.repository.js';
import {
  childDocuments,
  childServers,
  parseChildren,
  type ChildApp,
  type ChildrenPlan,
  type ChildrenWrite,
} from './child-apps.js';

/** Bundles whose child documents are kept in memory (parents are few; their bundles change). */
const DOCUMENT_CACHE_ENTRIES = 256;
/** Attempts at writing a parent's children when PostgreSQL breaks a lock cycle (see write). */
const WRITE_ATTEMPTS = 3;

/**
 * App of apps: the Argo CD `Application`s in an application's manifests are applications of the
 * hub, children of that one. It creates, updates and (when it prunes) deletes them as its own
 * deployment goes: automated, at each reconcile; by hand, at each sync. They are never applied to a
 * cluster (agents leave them out).
 */
@Injectable()
export class ChildAppsService {
  private readonly documents = new Map<string, Promise<KubeObject[]>>();

  constructor(
    private readonly ds: DataSource,
    private readonly apps: ApplicationsRepository,
    private readonly clusters: ClustersRepository,
    private readonly projects: ProjectsService,
    private readonly bundles: BundleStore,
    private readonly queue: WorkQueue,
    private readonly dispatch: DispatchNotifier,
    private readonly audit: AuditService,
  ) {}

  /** The child documents of a bundle (read once per bundle while it is in memory). */
  documentsOf(bundleHash: string): Promise<KubeObject[]> {
    let p = this.documents.get(bundleHash);
    if (!p) {
      p = this.bundles
        .getCompressed(bundleHash)
        .then((gz) => childDocuments(decompressBundle(gz, bundleHash).objects));
      this.documents.set(bundleHash, p);
      p.catch(() => this.documents.delete(bundleHash));
      if (this.documents.size > DOCUMENT_CACHE_ENTRIES)
        this.documents.delete(this.documents.keys().next().value!);
    }
    return p;
  }

  /**
   * The children a parent's bundle asks for, parsed as `POST /applications` parses them. Each is
   * refused (with why) when its name belongs to another application, when it is in another
   * project than its parent (a parent's manifests reach no further than its project), or when its
   * project refuses its source or its destination.
   */
  async plan(
    parent: { id: string; spec: { project: string } },
    bundleHash: string,
    gate: ProjectGate,
  ): Promise<ChildrenPlan> {
    const docs = await this.documentsOf(bundleHash);
    const servers = new Map<string, string[]>();
    for (const server of childServers(docs))
      servers.set(server, await this.clusters.namesWithServer(server));
    const parsed = parseChildren(docs, servers);
    const errors = [...parsed.errors];
    const taken = parsed.children.length
      ? await this.apps.takenBesidesChildren(
          parsed.children.map((c) => c.name),
          parent.id,
        )
      : new Set<string>();
    const clusters = new Map(
      (
        await this.clusters.destinations([
          ...new Set(parsed.children.flatMap((c) => destinationClusters(c.spec))),
        ])
      ).map((c) => [c.name, c]),
    );
    const children = parsed.children.filter((c) => {
      const why = this.refusal(c, parent.spec.project, taken, clusters, gate);
      if (why) errors.push(`child application "${c.name}": ${why}`);
      return !why;
    });
    const named = new Set(parsed.named);
    const stale = (await this.apps.childrenOf(parent.id))
      .map((c) => c.name)
      .filter((n) => !named.has(n));
    // A document without a readable name might be any child: then none is pruned.
    return { children, errors, stale, keep: parsed.unnamed ? undefined : parsed.named };
  }

  private refusal(
    c: ChildApp,
    project: string,
    taken: ReadonlySet<string>,
    clusters: ReadonlyMap<string, ClusterRef>,
    gate: ProjectGate,
  ): string | undefined {
    if (taken.has(c.name))
      return 'an application of that name exists and is not a child of this one';
    if (c.spec.project !== project)
      return `spec.project: "${c.spec.project}" is not its parent's project ("${project}"): a parent makes applications in its own project only`;
    const namespace = targetNamespace(c.spec);
    const refused = [
      ...gate.check({ project, repoURL: c.spec.source.repoURL, namespace }),
      ...destinationClusters(c.spec).flatMap((n) => {
        const cluster = clusters.get(n);
        return cluster ? gate.check({ project, cluster, namespace }) : [];
      }),
    ];
    return refused.length ? [...new Set(refused)].join('; ') : undefined;
  }

  /**
   * Writes a parent's children in a transaction of its own (never in the one that deployed the
   * parent: that one holds other applications' work items and rows, which a child's would wait
   * on in a cycle). New ones are created, changed ones updated, and those the manifests no longer
   * hold deleted with their resources when pruning. With `expect`, only while the parent still
   * deploys that render by itself (automated, not suspended, same spec): a rollback or an edit
   * that came in meanwhile decides instead. Changed children are marked for reconciling once
   * written (a crash before that leaves them to the periodic resync).
   */
  async write(
    w: ChildrenWrite,
    expect?: { specVersion: number; bundleHash: string },
  ): Promise<{ created: number; updated: number; deleted: number } | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.ds.transaction((tx) => this.writeIn(tx, w, expect));
        if (out?.updated.length)
          await this.queue.apps({ ids: out.updated }, `child of application ${w.parent.name}`);
        return (
          out && {
            created: out.created.length,
            updated: out.updated.length,
            deleted: out.deleted,
          }
        );
      } catch (e) {
        // PostgreSQL broke a lock cycle with another writer (a deletion, a batch): once more.
        if ((e as { code?: string }).code !== '40P01' || attempt >= WRITE_ATTEMPTS) throw e;
      }
    }
  }

  private async writeIn(
    tx: EntityManager,
    w: ChildrenWrite,
    expect: { specVersion: number; bundleHash: string } | undefined,
  ): Promise<{ created: string[]; updated: string[]; deleted: number } | undefined> {
    // One writer of a parent's children at a time (another replica's, a sync's): the render
    // checked below stays the newest written until this one commits.
    await this.apps.serialiseChildWrites(tx, w.parent.id);
    const parent = await this.apps.holdParent(tx, w.parent.id);
    if (!parent) return undefined;
    if (
      expect &&
      (parent.specVersion !== expect.specVersion ||
        parent.renderedBundleHash !== expect.bundleHash ||
        !parent.automated ||
        parent.suspended)
    )
      return undefined;
    const existing = new Map((await this.apps.childrenOf(w.parent.id, tx)).map((c) => [c.name, c]));
    const create = w.children.filter((c) => !existing.has(c.name));
    const update = w.children.flatMap((c) => {
      const e = existing.get(c.name);
      return e && !(jsonEqual(e.spec, c.spec) && jsonEqual(e.labels, c.labels))
        ? [{ id: e.id, name: c.name, spec: c.spec, labels: c.labels }]
        : [];
    });
    // Pruned: only children no document names any more (one refused is still named: kept).
    const keep = w.keep && new Set(w.keep);
    const gone = w.prune && keep ? [...existing.values()].filter((c) => !keep.has(c.name)) : [];
    if (create.length + update.length + gone.length === 0)
      return { created: [], updated: [], deleted: 0 };
    // Projects held until this commits, as for an application written through the API.
    for (const project of [...new Set(w.children.map((c) => c.spec.project))].sort()) {
      await this.projects.holdForApplication(tx, project).catch((e: unknown) => {
        if (!(e instanceof ValidationFailed)) throw e;
        throw new Error(`project "${project}" was deleted meanwhile`);
      });
    }
    await this.apps.lockForUpdate(
      tx,
      [...update, ...gone].map((c) => c.id),
    );
    await this.apps.updateChildren(tx, update);
    const created = await this.apps.insertChildren(tx, w.parent.id, create);
    // New rows are no one's yet: their work items cannot be held by anyone.
    const reason = `child of application ${w.parent.name}`;
    await this.queue.apps({ ids: created.map((c) => c.id) }, reason, tx);
    const removedFrom = await this.apps.deleteWithNotes(
      tx,
      gone.map((c) => c.id),
      true,
    );
    await this.dispatch.notify(removedFrom, tx);
    await runWithActor(`application:${w.parent.name}`, () =>
      this.audit.record(
        'application.children',
        'Application',
        w.parent.name,
        undefined,
        {
          created: created.map((c) => c.name),
          updated: update.map((u) => u.name),
          deleted: gone.map((c) => c.name),
        },
        tx,
      ),
    );
    return {
      created: created.map((c) => c.id),
      updated: update.map((u) => u.id),
      deleted: gone.length,
    };
  }
}
