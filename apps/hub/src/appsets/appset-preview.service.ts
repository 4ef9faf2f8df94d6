import { Injectable } from '@nestjs/common';
import {
  parseApplicationSet,
  type GeneratedApplication,
} from '../../../../libs/appset/src/index.js';
import { fieldChanges, type FieldChange } from '../../../../libs/diff/src/index.js';
import {
  decompressBundle,
  resourceId,
  resourceKey,
  type KubeObject,
} from '../../../../libs/manifests/src/index.js';
import { destinationClusters } from '../applications/application.schemas.js';
import { ApplicationsRepository } from '../applications/applications.repository.js';
import { TargetsRepository } from '../applications/targets.repository.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { redactSecret } from '../common/redact-secrets.js';
import { NotFound, ValidationFailed } from '../common/validation.js';
import { GitService } from '../git/git.service.js';
import { BundleStore } from '../render/bundle.store.js';
import { RenderService } from '../render/render.service.js';
import { AppSetEvaluator } from './appset-evaluator.js';
import { AppSetsRepository } from './appsets.repository.js';
import { toApplicationSpec } from './to-application-spec.js';

/** One resource change, with how far it reaches. */
export interface FleetChange {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  action: 'add' | 'remove' | 'change';
  fields: FieldChange[];
  /** How many applications and clusters this exact change reaches (and the first few apps). */
  apps: number;
  clusters: number;
  examples: string[];
}

export interface FleetPreview {
  applicationSet: string;
  repo: string;
  revision: string;
  commit: string;
  added: { name: string; clusters: string[] }[];
  removed: { name: string; clusters: string[] }[];
  changed: { name: string; clusters: string[] }[];
  unchanged: number;
  /** Applications that could not be generated or rendered at that revision. */
  errors: { name?: string; message: string }[];
  changes: FleetChange[];
}

const MAX_CHANGES = 200;

/** A change being gathered: which applications and clusters it reaches. */
type Tracked = FleetChange & { appSet: Set<string>; clusterSet: Set<string> };
const EXAMPLES = 5;

/**
 * What a revision (a pull request's branch, say) would do to an ApplicationSet's fleet: its
 * generators and applications read `repo` at that revision, every application is rendered there,
 * and each cluster's desired bundle is compared with the one rendered: applications added and
 * removed, resources and fields changed, and how many applications and clusters each change
 * reaches. Nothing is stored or dispatched. Secret values are shown as markers (redactSecret).
 */
@Injectable()
export class AppSetPreviewService {
  constructor(
    private readonly appsets: AppSetsRepository,
    private readonly evaluator: AppSetEvaluator,
    private readonly apps: ApplicationsRepository,
    private readonly targets: TargetsRepository,
    private readonly clusters: ClustersRepository,
    private readonly git: GitService,
    private readonly renderer: RenderService,
    private readonly bundles: BundleStore,
  ) {}

  async preview(name: string, revision: string, repoParam?: string): Promise<FleetPreview> {
    const e = await this.appsets.findByName(name);
    if (!e) throw new NotFound(`ApplicationSet "${name}" not found`);
    const doc = structuredClone(e.document);
    const owned = await this.apps.owned(e.id);
    const repo = await this.previewedRepo(e, doc, owned, repoParam);
    await this.git.refresh(repo);
    let commit: string;
    try {
      commit = await this.git.resolve(repo, revision);
    } catch (err) {
      throw new ValidationFailed('cannot preview', [
        { field: 'revision', reason: (err as Error).message },
      ]);
    }
    // Generators and templates that read `repo` read it at the commit.
    pinRevisions(doc, repo, commit);
    const parsed = parseApplicationSet(doc);
    if (!parsed.appset) {
      throw new ValidationFailed(
        'cannot preview',
        parsed.errors.map((i) => ({ field: i.path, reason: i.message })),
      );
    }
    const ev = await this.evaluator.preview(parsed.appset, e.id, {
      confirmed: e.deletionConfirmed,
    });
    const errors: FleetPreview['errors'] = ev.errors.map((x) => ({
      ...(x.name ? { name: x.name } : {}),
      message: x.message,
    }));

    // Now: each owned application's desired bundle per cluster.
    const ownedId = new Map(owned.map((o) => [o.name, o.id]));
    const now = await this.desiredNow(owned);

    // Then: every generated application rendered at the revision.
    const generated = ev.applications.filter((a) => !ev.plan.delete.includes(a.metadata.name));
    const rendered = await this.renderAll(generated, repo, commit, errors);

    const result: FleetPreview = {
      applicationSet: name,
      repo,
      revision,
      commit,
      added: [],
      removed: [],
      changed: [],
      unchanged: 0,
      errors,
      changes: [],
    };
    const changes = new Map<string, Tracked>();
    for (const a of generated) {
      const bundle = rendered.get(a.metadata.name);
      if (bundle === undefined) continue;
      const cluster = a.spec.destination.name;
      const before = now.get(a.metadata.name);
      if (!ownedId.has(a.metadata.name)) {
        result.added.push({ name: a.metadata.name, clusters: [cluster] });
        await this.collect(changes, a.metadata.name, cluster, undefined, bundle);
        continue;
      }
      const was = before?.get(cluster);
      if (was === bundle) {
        result.unchanged++;
        continue;
      }
      result.changed.push({ name: a.metadata.name, clusters: [cluster] });
      await this.collect(changes, a.metadata.name, cluster, was, bundle);
    }
    for (const gone of ev.plan.delete) {
      const clusters = [...(now.get(gone)?.keys() ?? [])];
      result.removed.push({ name: gone, clusters });
      for (const c of clusters)
        await this.collect(changes, gone, c, now.get(gone)!.get(c), undefined);
    }
    result.changes = [...changes.values()]
      .sort((x, y) => y.clusters - x.clusters || x.name.localeCompare(y.name))
      .slice(0, MAX_CHANGES)
      .map(({ appSet: _apps, clusterSet: _clusters, ...c }) => c);
    return result;
  }

  /**
   * The repository a preview reads at the revision: the one named, else the template's; only
   * one this ApplicationSet reads (its generators, its template, its applications).
   */
  private async previewedRepo(
    e: { name: string; repos: string[] },
    doc: unknown,
    owned: { id: string }[],
    repoParam: string | undefined,
  ): Promise<string> {
    const templateRepo = (
      doc as { spec?: { template?: { spec?: { source?: { repoURL?: unknown } } } } }
    ).spec?.template?.spec?.source?.repoURL;
    const literal =
      typeof templateRepo === 'string' && !templateRepo.includes('{{') ? templateRepo : undefined;
    const repo = repoParam ?? literal;
    if (!repo) {
      throw new ValidationFailed('cannot preview', [
        { field: 'repo', reason: "the template's repoURL is templated: name the repository" },
      ]);
    }
    const reads = new Set([
      ...e.repos,
      ...(literal ? [literal] : []),
      ...(await this.apps.sourceRepos(owned.map((o) => o.id))),
    ]);
    if (!reads.has(repo)) {
      throw new ValidationFailed('cannot preview', [
        { field: 'repo', reason: `ApplicationSet "${e.name}" does not read ${repo}` },
      ]);
    }
    return repo;
  }

  /** Each owned application's desired bundle per cluster (by names). */
  private async desiredNow(
    owned: { id: string; name: string }[],
  ): Promise<Map<string, Map<string, string>>> {
    const desired = await this.targets.desiredOf(owned.map((o) => o.id));
    const clusterNames = new Map(
      (await this.clusters.byIds([...new Set(desired.map((d) => d.clusterId))])).map((c) => [
        c.id,
        c.name,
      ]),
    );
    const appOf = new Map(owned.map((o) => [o.id, o.name]));
    const now = new Map<string, Map<string, string>>();
    for (const d of desired) {
      const app = appOf.get(d.appId)!;
      if (!now.has(app)) now.set(app, new Map());
      now.get(app)!.set(clusterNames.get(d.clusterId) ?? d.clusterId, d.bundleHash);
    }
    return now;
  }

  /** Renders each application at its revision (the commit when it reads `repo`), by name. */
  private async renderAll(
    apps: GeneratedApplication[],
    repo: string,
    commit: string,
    errors: FleetPreview['errors'],
  ): Promise<Map<string, string>> {
    const specs = apps.flatMap((a) => {
      const converted = toApplicationSpec(a);
      if ('error' in converted) {
        errors.push({ name: a.metadata.name, message: converted.error });
        return [];
      }
      return [{ name: a.metadata.name, spec: converted.spec }];
    });
    const commits = await this.git.resolveMany(
      specs.map(({ spec }) => ({
        url: spec.source.repoURL,
        revision: spec.source.repoURL === repo ? commit : spec.source.targetRevision,
      })),
    );
    // Rendered as the reconciler renders them: for what their clusters serve (Helm, plugins).
    const caps = await this.clusters.capabilitiesOfEach(
      specs.map(({ spec }) => destinationClusters(spec)),
    );
    const reqs = specs.flatMap(({ name, spec }, i) => {
      const c = spec.source.chart
        ? `chart:${spec.source.chart}@${spec.source.targetRevision}`
        : commits[i];
      if (c instanceof Error) {
        errors.push({ name, message: c.message });
        return [];
      }
      const capabilities = caps[i];
      return [{ appName: name, spec, commit: c, ...(capabilities && { capabilities }) }];
    });
    const out = new Map<string, string>();
    const results = await this.renderer.renderMany(reqs);
    reqs.forEach((r, i) => {
      const x = results[i];
      if (x instanceof Error) errors.push({ name: r.appName, message: x.message });
      else out.set(r.appName, x.hash);
    });
    return out;
  }

  private readonly objects = new Map<string, Map<string, KubeObject>>();

  /**
   * A bundle's objects by id, as a preview shows them: Secret values are markers (equal for equal
   * values, so changed keys still show), never the values (readonly users may preview).
   */
  private async bundleObjects(hash: string): Promise<Map<string, KubeObject>> {
    let m = this.objects.get(hash);
    if (!m) {
      const b = decompressBundle(await this.bundles.getCompressed(hash), hash);
      m = new Map(b.objects.map((o) => [resourceId(resourceKey(o)), redactSecret(o)]));
      if (this.objects.size > 256) this.objects.clear();
      this.objects.set(hash, m);
    }
    return m;
  }

  /** Adds what moving one app on one cluster from bundle `was` to `next` changes. */
  private async collect(
    changes: Map<string, Tracked>,
    app: string,
    cluster: string,
    was: string | undefined,
    next: string | undefined,
  ): Promise<void> {
    const a = was ? await this.bundleObjects(was) : new Map<string, KubeObject>();
    const b = next ? await this.bundleObjects(next) : new Map<string, KubeObject>();
    for (const id of new Set([...a.keys(), ...b.keys()])) {
      const x = a.get(id);
      const y = b.get(id);
      const { changes: fields } = fieldChanges(x ?? {}, y ?? {});
      if (x && y && fields.length === 0) continue;
      const action = !x ? 'add' : !y ? 'remove' : 'change';
      const k = resourceKey((y ?? x)!);
      const key = `${id}|${action}|${JSON.stringify(action === 'change' ? fields : [])}`;
      let c = changes.get(key);
      if (!c) {
        c = {
          group: k.group,
          kind: k.kind,
          namespace: k.namespace,
          name: k.name,
          action,
          fields: action === 'change' ? fields : [],
          apps: 0,
          clusters: 0,
          examples: [],
          appSet: new Set(),
          clusterSet: new Set(),
        };
        changes.set(key, c);
      }
      c.clusterSet.add(cluster);
      c.clusters = c.clusterSet.size;
      if (!c.appSet.has(app)) {
        c.appSet.add(app);
        c.apps++;
        if (c.examples.length < EXAMPLES) c.examples.push(app);
      }
    }
  }
}

/**
 * Sets `revision` on every generator that reads `repo`, and the template's targetRevision when
 * its source is `repo` (literally), to `commit`.
 */
function pinRevisions(doc: unknown, repo: string, commit: string): void {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (o.repoURL === repo) {
      if ('revision' in o) o.revision = commit;
      if ('targetRevision' in o || 'path' in o) o.targetRevision = commit;
    }
    for (const child of Object.values(o)) walk(child);
  };
  walk((doc as { spec?: unknown }).spec);
}
