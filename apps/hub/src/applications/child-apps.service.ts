import { Injectable } from '@nestjs/common';
import { decompressBundle, type KubeObject } from '../../../../libs/manifests/src/index.js';
import { AuditService } from '../audit/audit.service.js';
import { runWithActor } from '../auth/request-context.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { jsonEqual } from '../common/json-equal.js';
import type { Db } from '../database/sql.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import type { ProjectGate } from '../projects/project-gate.js';
import { ProjectsService } from '../projects/projects.service.js';
import { BundleStore } from '../render/bundle.store.js';
import { WorkQueue } from '../work/work-queue.js';
import { targetNamespace } from './application.schemas.js';
import { ApplicationsRepository } from './applications.repository.js';
import {
  childDocuments,
  childServers,
  parseChildren,
  type ChildrenPlan,
  type ChildrenWrite,
} from './child-apps.js';

/** Bundles whose child documents are kept in memory (parents are few; their bundles change). */
const DOCUMENT_CACHE_ENTRIES = 256;

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
   * The children a parent's bundle asks for: parsed as `POST /applications` parses them, each
   * refused (with why) when its name belongs to another application or its project refuses its
   * source or namespace.
   */
  async plan(parent: { id: string }, bundleHash: string, gate: ProjectGate): Promise<ChildrenPlan> {
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
    const children = parsed.children.filter((c) => {
      if (taken.has(c.name)) {
        errors.push(
          `child application "${c.name}": an application of that name exists and is not a child of this one`,
        );
        return false;
      }
      const refused = gate.check({
        project: c.spec.project,
        repoURL: c.spec.source.repoURL,
        namespace: targetNamespace(c.spec),
      });
      if (refused.length) errors.push(`child application "${c.name}": ${refused.join('; ')}`);
      return refused.length === 0;
    });
    const wanted = new Set(parsed.children.map((c) => c.name));
    const stale = (await this.apps.childrenOf(parent.id))
      .map((c) => c.name)
      .filter((n) => !wanted.has(n));
    return { children, errors, stale };
  }

  /**
   * Writes a parent's children in the caller's transaction: new ones created, changed ones
   * updated (and reconciled), and those the manifests no longer hold deleted with their resources
   * when pruning. Returns how many of each.
   */
  async write(
    tx: Db,
    w: ChildrenWrite,
  ): Promise<{ created: number; updated: number; deleted: number }> {
    const existing = new Map((await this.apps.childrenOf(w.parent.id, tx)).map((c) => [c.name, c]));
    const create = w.children.filter((c) => !existing.has(c.name));
    const update = w.children.flatMap((c) => {
      const e = existing.get(c.name);
      return e && !(jsonEqual(e.spec, c.spec) && jsonEqual(e.labels, c.labels))
        ? [{ id: e.id, name: c.name, spec: c.spec, labels: c.labels }]
        : [];
    });
    const wanted = new Set(w.children.map((c) => c.name));
    const gone = w.prune ? [...existing.values()].filter((c) => !wanted.has(c.name)) : [];
    if (create.length + update.length + gone.length === 0)
      return { created: 0, updated: 0, deleted: 0 };
    // Projects held until this commits, as for an application written through the API.
    for (const project of [...new Set(w.children.map((c) => c.spec.project))].sort())
      await this.projects.holdForApplication(tx, project);
    const reason = `child of application ${w.parent.name}`;
    // Work items before rows, as a batch reconciling them takes them (fence, then applications).
    await this.queue.apps({ ids: update.map((u) => u.id) }, reason, tx);
    await this.apps.updateChildren(tx, update);
    const created = await this.apps.insertChildren(tx, w.parent.id, create);
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
    return { created: created.length, updated: update.length, deleted: gone.length };
  }
}
