import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import type { TargetReadiness } from '../applications/targets.repository.js';

export type RolloutStatus =
  'Progressing' | 'Paused' | 'Halted' | 'RolledBack' | 'Aborted' | 'Completed';

/** What one application's sync by the rollout changed: when, to what, and from what per cluster. */
export interface RolloutUpdate {
  at: number;
  bundleHash: string;
  from: Record<string, { bundleHash: string; revision: string } | null>;
}

/** What a rollout's owner is: an ApplicationSet (RollingSync) or an Application (waves). */
export type RolloutKind = 'appset' | 'app';

/**
 * Wave gates: since when each wave has been done (its soak counts from then; reset when it
 * stops being done), the waves promoted by hand, and the waves the rollout has moved past.
 */
export interface RolloutGates {
  doneAt?: Record<string, number>;
  promoted?: number[];
  /**
   * Waves whose soak is over: a wave after them started. Until then, the clusters this rollout
   * synced in a wave are watched (Degraded fails the rollout) even once seen Done.
   */
  soaked?: number[];
  /** Units seen failing, since when (a failure must hold a few seconds to halt a rollout). */
  failingSince?: Record<string, number>;
  /** Units seen Done, at which key: the progress deadline no longer applies to them. */
  reached?: Record<string, string>;
  /** The units' keys this rollout rolls out; another set (a new commit) starts a new one. */
  renders?: string;
  /**
   * A rollback after a halt: why it halted, the units still to return (refused for now, e.g. by
   * a sync window: tried again each tick), those returned, and those that ran nothing before.
   */
  rollback?: { reason: string; pending: string[]; returned: string[]; left: string[] };
}

export interface RolloutState {
  status: RolloutStatus;
  gates: RolloutGates;
  step: number;
  message: string;
  /** Applications this rollout synced, by id. */
  updated: Record<string, RolloutUpdate>;
  /** At a halt or abort: each application's render then; a new render starts a new rollout. */
  haltedBundles: Record<string, string | null> | null;
  startedAt: Date;
  updatedAt: Date;
}

/** An application of an ApplicationSet with what a rollout reads of it. */
export interface RolloutAppRow {
  id: string;
  name: string;
  labels: Record<string, string>;
  spec: ApplicationSpec;
  /** The current render, when it is of the current spec. */
  bundleHash: string | null;
  revision: string | null;
}

/** A target as a rollout reads it. */
export type RolloutTargetRow = TargetReadiness;

/** Rollouts (table `rollouts`) and the reads a rollout step makes. */
@Injectable()
export class RolloutsRepository {
  constructor(private readonly ds: DataSource) {}

  /** ApplicationSets whose strategy is RollingSync: id, name and stored document. */
  rollingAppSets(): Promise<
    { id: string; name: string; spec_version: number; document: unknown }[]
  > {
    return this.ds.query(
      `SELECT id, name, spec_version, document FROM application_sets
        WHERE document->'spec'->'strategy'->>'type' = 'RollingSync' ORDER BY name`,
    );
  }

  /**
   * Automated applications (not suspended) the rollout loop dispatches: those that roll across
   * their clusters in waves, and those that wait for dependencies. The first condition is the
   * predicate of the partial index `applications_waved_idx`, word for word: keep them the same.
   */
  wavedApps(): Promise<{ id: string; name: string; spec: ApplicationSpec }[]> {
    return this.ds.query(
      `SELECT id, name, spec FROM applications
        WHERE (spec ? 'rollout' OR jsonb_array_length(coalesce(spec->'dependsOn', '[]')) > 0)
          AND spec->'syncPolicy' ? 'automated' AND auto_sync_suspended IS NULL
        ORDER BY name`,
    );
  }

  /** Drops the rollouts whose ApplicationSet or Application is gone. */
  async forgetOrphans(): Promise<void> {
    await this.ds.query(
      `DELETE FROM rollouts r WHERE (r.kind = 'appset' AND NOT EXISTS (SELECT 1 FROM application_sets s WHERE s.id = r.owner_id))
          OR (r.kind = 'app' AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = r.owner_id))`,
    );
  }

  async state(kind: RolloutKind, ownerId: string): Promise<RolloutState | undefined> {
    const rows = await this.ds.query<
      {
        status: RolloutStatus;
        step: number;
        message: string;
        updated: Record<string, RolloutUpdate>;
        halted_bundles: Record<string, string | null> | null;
        gates: RolloutGates;
        started_at: Date;
        updated_at: Date;
      }[]
    >('SELECT * FROM rollouts WHERE kind = $1 AND owner_id = $2', [kind, ownerId]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      status: r.status,
      step: r.step,
      message: r.message,
      updated: r.updated,
      haltedBundles: r.halted_bundles,
      gates: r.gates,
      startedAt: r.started_at,
      updatedAt: r.updated_at,
    };
  }

  /**
   * Stores a rollout's state. With `expected` (the updatedAt read, or null: no row then), only if
   * no one wrote it since; returns the new updatedAt, or undefined when someone had.
   */
  async save(
    kind: RolloutKind,
    ownerId: string,
    s: RolloutState,
    expected?: Date | null,
  ): Promise<Date | undefined> {
    const rows = await this.ds.query<{ updated_at: Date }[]>(
      `INSERT INTO rollouts (kind, owner_id, status, step, message, updated, halted_bundles, gates, started_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, date_trunc('milliseconds', clock_timestamp()))
       ON CONFLICT (kind, owner_id) DO UPDATE SET status = $3, step = $4, message = $5, updated = $6,
         halted_bundles = $7, gates = $8, started_at = $9, updated_at = date_trunc('milliseconds', clock_timestamp())
         WHERE NOT $10::boolean OR rollouts.updated_at = $11
       RETURNING updated_at`,
      [
        kind,
        ownerId,
        s.status,
        s.step,
        s.message.slice(0, 4000),
        JSON.stringify(s.updated),
        s.haltedBundles === null ? null : JSON.stringify(s.haltedBundles),
        JSON.stringify(s.gates),
        s.startedAt,
        expected !== undefined,
        expected ?? null,
      ],
    );
    return rows[0]?.updated_at;
  }

  /** The applications of an ApplicationSet (kind appset), or one application (kind app). */
  async apps(kind: RolloutKind, ownerId: string): Promise<RolloutAppRow[]> {
    const rows = await this.ds.query<
      {
        id: string;
        name: string;
        labels: Record<string, string>;
        spec: ApplicationSpec;
        bundle_hash: string | null;
        revision: string | null;
      }[]
    >(
      `SELECT a.id, a.name, a.labels, a.spec, r.revision,
              CASE WHEN r.spec_version = a.spec_version THEN r.bundle_hash END AS bundle_hash
         FROM applications a LEFT JOIN app_renders r ON r.app_id = a.id
        WHERE ${kind === 'app' ? 'a.id' : 'a.app_set_id'} = $1 ORDER BY a.name`,
      [ownerId],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      labels: r.labels,
      spec: r.spec,
      bundleHash: r.bundle_hash,
      revision: r.revision,
    }));
  }
}
