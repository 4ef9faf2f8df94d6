import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Db } from '../database/sql.js';
import { TargetsRepository } from '../applications/targets.repository.js';
import { destinationClusters, type ApplicationSpec } from '../applications/application.schemas.js';
import type { Dependency, DependencyState } from './dependencies.js';

/** Serialises changes of application dependencies (a transaction-scoped advisory lock). */
const DEPENDENCIES_LOCK = 0x64657073; // "deps"

/** What dependency checks read: the graph, and the state of the applications depended on. */
@Injectable()
export class DependenciesRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly targets: TargetsRepository,
  ) {}

  /**
   * Every application's dependencies, by name (only those that have some). With `lock`, first
   * takes the transaction-scoped lock that serialises changes of dependencies.
   */
  async graph(db: Db = this.ds.manager, lock = false): Promise<Map<string, string[]>> {
    if (lock) await db.query('SELECT pg_advisory_xact_lock($1)', [DEPENDENCIES_LOCK]);
    const rows = await db.query<{ name: string; deps: Dependency[] }[]>(
      `SELECT name, spec->'dependsOn' AS deps FROM applications WHERE spec ? 'dependsOn'`,
    );
    return new Map(rows.map((r) => [r.name, r.deps.map((d) => d.application)]));
  }

  async states(names: string[]): Promise<Map<string, DependencyState>> {
    if (names.length === 0) return new Map();
    const apps = await this.ds.query<
      { id: string; name: string; spec: ApplicationSpec; bundle_hash: string | null }[]
    >(
      `SELECT a.id, a.name, a.spec,
              CASE WHEN r.spec_version = a.spec_version THEN r.bundle_hash END AS bundle_hash
         FROM applications a LEFT JOIN app_renders r ON r.app_id = a.id
        WHERE a.name = ANY($1)`,
      [names],
    );
    const targets = await this.targets.readiness(apps.map((a) => a.id));
    const destinations = [...new Set(apps.flatMap((a) => destinationClusters(a.spec)))];
    const labels = new Map(
      (
        await this.ds.query<{ name: string; labels: Record<string, string> }[]>(
          'SELECT name, labels FROM clusters WHERE name = ANY($1)',
          [destinations],
        )
      ).map((c) => [c.name, c.labels]),
    );
    return new Map(
      apps.map((a) => [
        a.name,
        {
          name: a.name,
          bundleHash: a.bundle_hash,
          destinations: destinationClusters(a.spec).filter((c) => labels.has(c)),
          clusterLabels: labels,
          targets: targets
            .filter((t) => t.appId === a.id)
            .map((t) => ({
              cluster: t.cluster,
              labels: t.labels,
              bundleHash: t.bundleHash,
              applied: t.applied,
              sync: t.sync,
              health: t.health,
            })),
        },
      ]),
    );
  }
}
