import { Injectable } from '@nestjs/common';
import { DataSource, In, type Repository } from 'typeorm';
import { groupBy } from '../common/group-by.js';
import { chunks, returned, type Db } from '../database/sql.js';
import {
  ApplicationEntity,
  type AppCondition,
  type AppRender,
  type AutoSyncSuspension,
} from './application.entity.js';
import type { ApplicationSpec } from './application.schemas.js';

/** What a batch reconcile reads of an application. */
export interface AppForReconcile {
  id: string;
  name: string;
  spec: ApplicationSpec;
  specVersion: number;
  renderedRevision: string | null;
  renderedBundleHash: string | null;
  renderedSpecVersion: number | null;
  /** The tool of the last render (directory, kustomize, helm, plugin). */
  renderedTool: string | null;
  conditions: AppCondition[];
  /** Automated sync suspended (by a rollback): desired state waits for a sync like a manual app's. */
  autoSyncSuspended: boolean;
}

/** The outcome of reconciling one application, stored in one statement with the others. */
export interface ReconciledApp {
  id: string;
  specVersion: number;
  conditions: AppCondition[];
  /** Absent when the application failed: its last good render stays. */
  rendered?: { revision: string; bundleHash: string; tool: string | null };
}

/** A generated application to insert or update (ApplicationSets). */
export interface GeneratedRow {
  id?: string;
  name: string;
  spec: ApplicationSpec;
  specHash: string;
  /** The generated Application's metadata.labels. */
  labels?: Record<string, string>;
}

/** Applications (table `applications`). */
@Injectable()
export class ApplicationsRepository {
  private readonly repo: Repository<ApplicationEntity>;

  constructor(private readonly ds: DataSource) {
    this.repo = ds.getRepository(ApplicationEntity);
  }

  findByName(name: string): Promise<ApplicationEntity | null> {
    return this.repo.findOneBy({ name });
  }

  /** All applications, or those with these ids, by name. */
  list(ids?: string[]): Promise<ApplicationEntity[]> {
    return this.repo.find({ where: ids ? { id: In(ids) } : {}, order: { name: 'ASC' } });
  }

  /** The ApplicationSet generating each application that has one, by application name. */
  async appSetNames(ids?: string[]): Promise<Map<string, string>> {
    const rows = await this.ds.query<{ app: string; appset: string }[]>(
      `SELECT a.name AS app, s.name AS appset
         FROM applications a JOIN application_sets s ON s.id = a.app_set_id
        ${ids ? 'WHERE a.id = ANY($1::uuid[])' : ''}`,
      ids ? [ids] : [],
    );
    return new Map(rows.map((r) => [r.app, r.appset]));
  }

  /** What reconciling the applications last produced, by application id (all, or these). */
  async renders(ids?: string[]): Promise<Map<string, AppRender>> {
    const rows = await this.ds.query<
      {
        app_id: string;
        revision: string | null;
        bundle_hash: string | null;
        spec_version: number | null;
        conditions: AppCondition[];
      }[]
    >(
      `SELECT app_id, revision, bundle_hash, spec_version, conditions FROM app_renders
        ${ids ? 'WHERE app_id = ANY($1::uuid[])' : ''}`,
      ids ? [ids] : [],
    );
    return new Map(
      rows.map((r) => [
        r.app_id,
        {
          revision: r.revision,
          bundleHash: r.bundle_hash,
          specVersion: r.spec_version,
          conditions: r.conditions,
        },
      ]),
    );
  }

  async insert(db: Db, name: string, spec: ApplicationSpec): Promise<string> {
    const rows = await db.query<{ id: string }[]>(
      'INSERT INTO applications (name, spec) VALUES ($1, $2) RETURNING id',
      [name, JSON.stringify(spec)],
    );
    return rows[0].id;
  }

  async appSetName(id: string): Promise<string | undefined> {
    const rows = await this.ds.query<{ name: string }[]>(
      'SELECT name FROM application_sets WHERE id = $1',
      [id],
    );
    return rows[0]?.name;
  }

  /**
   * Of these applications (at the spec version a batch planned with), those that still dispatch
   * on reconcile: same spec, automated sync not suspended meanwhile (a rollback). Locks them
   * against such a change until the batch commits.
   */
  async stillDispatching(
    db: Db,
    apps: { id: string; specVersion: number }[],
  ): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(apps, 10_000)) {
      const rows = await db.query<{ id: string }[]>(
        `SELECT a.id FROM applications a JOIN unnest($1::uuid[], $2::int[]) AS p(id, v) ON p.id = a.id
          WHERE a.spec_version = p.v AND a.auto_sync_suspended IS NULL
          FOR SHARE OF a`,
        [part.map((a) => a.id), part.map((a) => a.specVersion)],
      );
      rows.forEach((r) => out.add(r.id));
    }
    return out;
  }

  /** Suspends automated sync (a rollback) with its reason, or (null) lets it run again. */
  async setAutoSyncSuspended(
    db: Db,
    id: string,
    suspension: AutoSyncSuspension | null,
  ): Promise<void> {
    await db.query('UPDATE applications SET auto_sync_suspended = $2 WHERE id = $1', [
      id,
      suspension === null ? null : JSON.stringify(suspension),
    ]);
  }

  /** A new spec; the version is incremented by the database, so concurrent updates each count. */
  async updateSpec(db: Db, id: string, spec: ApplicationSpec): Promise<void> {
    await db.query(
      `UPDATE applications SET spec = $2, spec_version = spec_version + 1, updated_at = now() WHERE id = $1`,
      [id, JSON.stringify(spec)],
    );
  }

  async forReconcile(ids: string[]): Promise<AppForReconcile[]> {
    const out: AppForReconcile[] = [];
    for (const part of chunks(ids, 10_000)) {
      const rows = await this.ds.query<
        {
          id: string;
          name: string;
          spec: ApplicationSpec;
          spec_version: number;
          rendered_revision: string | null;
          rendered_bundle_hash: string | null;
          rendered_spec_version: number | null;
          rendered_tool: string | null;
          conditions: AppCondition[];
          suspended: boolean;
        }[]
      >(
        `SELECT a.id, a.name, a.spec, a.spec_version, r.revision AS rendered_revision,
                r.bundle_hash AS rendered_bundle_hash, r.spec_version AS rendered_spec_version,
                r.tool AS rendered_tool, coalesce(r.conditions, '[]') AS conditions,
                a.auto_sync_suspended IS NOT NULL AS suspended
           FROM applications a LEFT JOIN app_renders r ON r.app_id = a.id
          WHERE a.id = ANY($1::uuid[])`,
        [part],
      );
      for (const r of rows) {
        out.push({
          id: r.id,
          name: r.name,
          spec: r.spec,
          specVersion: r.spec_version,
          renderedRevision: r.rendered_revision,
          renderedBundleHash: r.rendered_bundle_hash,
          renderedSpecVersion: r.rendered_spec_version,
          renderedTool: r.rendered_tool,
          conditions: r.conditions,
          autoSyncSuspended: r.suspended,
        });
      }
    }
    return out;
  }

  /**
   * Stores reconcile outcomes: conditions always; the render only while the spec is still the
   * version that was rendered (a newer spec is already marked for another run).
   */
  async saveReconciled(db: Db, rows: ReconciledApp[]): Promise<void> {
    for (const part of chunks(rows, 5000)) {
      await db.query(
        `INSERT INTO app_renders (app_id, revision, bundle_hash, spec_version, tool, conditions)
         SELECT a.id,
                CASE WHEN r.ok AND a.spec_version = r.spec_version THEN r.revision END,
                CASE WHEN r.ok AND a.spec_version = r.spec_version THEN r.bundle_hash END,
                CASE WHEN r.ok AND a.spec_version = r.spec_version THEN r.spec_version END,
                CASE WHEN r.ok AND a.spec_version = r.spec_version THEN r.tool END,
                r.conditions
           FROM jsonb_to_recordset($1::jsonb)
                  AS r(id uuid, spec_version integer, ok boolean, revision text, bundle_hash text,
                       tool text, conditions jsonb)
           JOIN applications a ON a.id = r.id
         ON CONFLICT (app_id) DO UPDATE SET
           conditions = EXCLUDED.conditions,
           revision = coalesce(EXCLUDED.revision, app_renders.revision),
           bundle_hash = coalesce(EXCLUDED.bundle_hash, app_renders.bundle_hash),
           spec_version = coalesce(EXCLUDED.spec_version, app_renders.spec_version),
           tool = CASE WHEN EXCLUDED.revision IS NULL THEN app_renders.tool ELSE EXCLUDED.tool END`,
        [
          JSON.stringify(
            part.map((r) => ({
              id: r.id,
              spec_version: r.specVersion,
              ok: r.rendered !== undefined,
              revision: r.rendered?.revision ?? null,
              bundle_hash: r.rendered?.bundleHash ?? null,
              tool: r.rendered?.tool ?? null,
              conditions: r.conditions,
            })),
          ),
        ],
      );
    }
  }

  /**
   * Moves renders to another commit (same bundle, same spec), while they are renders of that spec:
   * one narrow row each, in one statement per commit.
   */
  async moveRenderedRevisions(
    db: Db,
    rows: { id: string; specVersion: number; revision: string }[],
  ): Promise<void> {
    for (const [revision, list] of groupBy(rows, (r) => r.revision)) {
      for (const part of chunks(list, 20_000)) {
        await db.query(
          `UPDATE app_renders r SET revision = $1
             FROM unnest($2::uuid[], $3::integer[]) AS v(id, spec_version)
            WHERE r.app_id = v.id AND r.spec_version = v.spec_version`,
          [revision, part.map((r) => r.id), part.map((r) => r.specVersion)],
        );
      }
    }
  }

  /**
   * Deletes applications, leaving a removal note per cluster that says whether its agent prunes
   * the resources, and which applications this one depended on (their removal waits for this
   * one's); returns the clusters to tell.
   */
  async deleteWithNotes(db: Db, ids: string[], prune: boolean): Promise<string[]> {
    const clusters = new Set<string>();
    // Every note first (each reads what its application depended on), then the applications:
    // a dependency in another chunk is still there to be named.
    for (const part of chunks(ids, 10_000)) {
      const rows = await db.query<{ cluster_id: string }[]>(
        `INSERT INTO app_removals (app_id, cluster_id, prune, depends_on)
           SELECT t.app_id, t.cluster_id, $2,
                  coalesce((SELECT array_agg(d.id) FROM applications d
                             WHERE d.name IN (SELECT x->>'application'
                                                FROM jsonb_array_elements(coalesce(a.spec->'dependsOn', '[]'::jsonb)) x)),
                           '{}')
             FROM app_targets t JOIN applications a ON a.id = t.app_id
            WHERE t.app_id = ANY($1::uuid[])
         ON CONFLICT (app_id, cluster_id) DO UPDATE SET prune = EXCLUDED.prune, depends_on = EXCLUDED.depends_on
         RETURNING cluster_id`,
        [part, prune],
      );
      rows.forEach((r) => clusters.add(r.cluster_id));
    }
    for (const part of chunks(ids, 10_000))
      await db.query('DELETE FROM applications WHERE id = ANY($1::uuid[])', [part]);
    return [...clusters];
  }

  // --- ApplicationSets' applications ----------------------------------------------------------

  /** The failing conditions (all but SyncBlocked) of an ApplicationSet's applications, bounded. */
  async failingConditionsOf(
    appSetId: string,
    limit = 50,
  ): Promise<{ name: string; type: string; message: string }[]> {
    return this.ds.query<{ name: string; type: string; message: string }[]>(
      `SELECT a.name, c->>'type' AS type, left(c->>'message', 500) AS message
         FROM applications a JOIN app_renders r ON r.app_id = a.id,
              jsonb_array_elements(r.conditions) c
        WHERE a.app_set_id = $1 AND c->>'type' <> 'SyncBlocked'
        ORDER BY a.name LIMIT $2`,
      [appSetId, limit],
    );
  }

  /**
   * The applications an ApplicationSet owns, by name, with their spec hash. Read as one text value
   * (names cannot contain tabs or newlines): 100,000 rows parsed one by one cost more than the
   * evaluation that needs them.
   */
  async ownedBy(appSetId: string): Promise<{ name: string; specHash: string }[]> {
    const [row] = await this.ds.query<{ owned: string | null }[]>(
      `SELECT string_agg(name || E'\t' || coalesce(spec_hash, ''), E'\n') AS owned
         FROM applications WHERE app_set_id = $1`,
      [appSetId],
    );
    if (!row?.owned) return [];
    return row.owned.split('\n').map((line) => {
      const tab = line.indexOf('\t');
      return { name: line.slice(0, tab), specHash: line.slice(tab + 1) };
    });
  }

  /** Ids of an ApplicationSet's applications with these names. */
  async idsByName(db: Db, appSetId: string, names: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunks(names, 20_000)) {
      const rows = await db.query<{ id: string; name: string }[]>(
        'SELECT id, name FROM applications WHERE app_set_id = $1 AND name = ANY($2)',
        [appSetId, part],
      );
      for (const r of rows) out.set(r.name, r.id);
    }
    return out;
  }

  async ownedNames(appSetId: string): Promise<string[]> {
    const rows = await this.ds.query<{ name: string }[]>(
      'SELECT name FROM applications WHERE app_set_id = $1 ORDER BY name',
      [appSetId],
    );
    return rows.map((r) => r.name);
  }

  /** What an ApplicationSet's evaluation depends on of what it owns (and of the projects). */
  async ownedSummary(
    appSetId: string,
  ): Promise<{ count: number; lastUpdate: Date | null; projectsUpdate: Date | null }> {
    const [r] = await this.ds.query<{ n: string; last: Date | null; projects: Date | null }[]>(
      `SELECT count(*) AS n, max(updated_at) AS last,
              (SELECT max(updated_at) FROM projects) AS projects
         FROM applications WHERE app_set_id = $1`,
      [appSetId],
    );
    return { count: Number(r.n), lastUpdate: r.last, projectsUpdate: r.projects };
  }

  /** Of `names`, those taken by applications not owned by `appSetId`. */
  async takenByOthers(names: string[], appSetId: string | null): Promise<Set<string>> {
    const taken = new Set<string>();
    for (const part of chunks(names, 20_000)) {
      const rows = await this.ds.query<{ name: string }[]>(
        'SELECT name FROM applications WHERE name = ANY($1) AND app_set_id IS DISTINCT FROM $2',
        [part, appSetId],
      );
      rows.forEach((r) => taken.add(r.name));
    }
    return taken;
  }

  /** Inserts generated applications; returns their ids in order. */
  async insertGenerated(db: Db, appSetId: string, rows: GeneratedRow[]): Promise<string[]> {
    const ids: string[] = [];
    for (const part of chunks(rows, 2000)) {
      const out = await db.query<{ id: string; name: string }[]>(
        `INSERT INTO applications (name, spec, app_set_id, spec_hash, labels)
           SELECT r.name, r.spec, $1, r.spec_hash, coalesce(r.labels, '{}')
             FROM jsonb_to_recordset($2::jsonb) AS r(name text, spec jsonb, spec_hash text, labels jsonb)
         RETURNING id, name`,
        [
          appSetId,
          JSON.stringify(
            part.map((r) => ({
              name: r.name,
              spec: r.spec,
              spec_hash: r.specHash,
              labels: r.labels ?? {},
            })),
          ),
        ],
      );
      const byName = new Map(out.map((o) => [o.name, o.id]));
      ids.push(...part.map((r) => byName.get(r.name)!));
    }
    return ids;
  }

  async updateGenerated(db: Db, rows: (GeneratedRow & { id: string })[]): Promise<void> {
    for (const part of chunks(rows, 2000)) {
      await db.query(
        `UPDATE applications a SET spec = r.spec, spec_hash = r.spec_hash,
                labels = coalesce(r.labels, '{}'), spec_version = a.spec_version + 1, updated_at = now()
           FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, spec jsonb, spec_hash text, labels jsonb)
          WHERE a.id = r.id`,
        [
          JSON.stringify(
            part.map((r) => ({
              id: r.id,
              spec: r.spec,
              spec_hash: r.specHash,
              labels: r.labels ?? {},
            })),
          ),
        ],
      );
    }
  }

  /** The source repositories of these applications (distinct). */
  async sourceRepos(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.ds.query<{ url: string }[]>(
      `SELECT DISTINCT spec->'source'->>'repoURL' AS url FROM applications WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return rows.map((r) => r.url);
  }

  /** The applications an ApplicationSet owns: id and name. */
  owned(appSetId: string): Promise<{ id: string; name: string }[]> {
    return this.ds.query('SELECT id, name FROM applications WHERE app_set_id = $1 ORDER BY name', [
      appSetId,
    ]);
  }

  async ownedIds(db: Db, appSetId: string): Promise<string[]> {
    const rows = await db.query<{ id: string }[]>(
      'SELECT id FROM applications WHERE app_set_id = $1',
      [appSetId],
    );
    return rows.map((r) => r.id);
  }

  // --- other aggregates' questions --------------------------------------------------------------

  async countInProject(project: string): Promise<number> {
    const [{ n }] = await this.ds.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM applications WHERE coalesce(spec->>'project', 'default') = $1`,
      [project],
    );
    return Number(n);
  }

  /** Every repository an application reads. */
  async sourceRepoURLs(): Promise<string[]> {
    const rows = await this.ds.query<{ url: string }[]>(
      `SELECT DISTINCT spec->'source'->>'repoURL' AS url FROM applications`,
    );
    return rows.map((r) => r.url);
  }

  async deletedIds(ids: string[]): Promise<string[]> {
    const present = new Set<string>();
    for (const part of chunks(ids, 20_000)) {
      const rows = returned<{ id: string }>(
        await this.ds.query('SELECT id FROM applications WHERE id = ANY($1::uuid[])', [part]),
      );
      rows.forEach((r) => present.add(r.id));
    }
    return ids.filter((i) => !present.has(i));
  }
}
