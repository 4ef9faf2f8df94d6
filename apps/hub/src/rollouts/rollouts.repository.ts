import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { HealthState } from '../applications/app-target.entity.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';

export type RolloutStatus =
  'Progressing' | 'Paused' | 'Halted' | 'RolledBack' | 'Aborted' | 'Completed';

/** What one application's sync by the rollout changed: when, to what, and from what per cluster. */
export interface RolloutUpdate {
  at: number;
  bundleHash: string;
  from: Record<string, { bundleHash: string; revision: string } | null>;
}

export interface RolloutState {
  status: RolloutStatus;
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
}

export interface RolloutTargetRow {
  appId: string;
  clusterId: string;
  bundleHash: string;
  revision: string;
  applied: boolean;
  health: HealthState;
  failed: boolean;
}

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

  async state(appSetId: string): Promise<RolloutState | undefined> {
    const rows = await this.ds.query<
      {
        status: RolloutStatus;
        step: number;
        message: string;
        updated: Record<string, RolloutUpdate>;
        halted_bundles: Record<string, string | null> | null;
        started_at: Date;
        updated_at: Date;
      }[]
    >('SELECT * FROM rollouts WHERE app_set_id = $1', [appSetId]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      status: r.status,
      step: r.step,
      message: r.message,
      updated: r.updated,
      haltedBundles: r.halted_bundles,
      startedAt: r.started_at,
      updatedAt: r.updated_at,
    };
  }

  async save(appSetId: string, s: RolloutState): Promise<void> {
    await this.ds.query(
      `INSERT INTO rollouts (app_set_id, status, step, message, updated, halted_bundles, started_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (app_set_id) DO UPDATE SET status = $2, step = $3, message = $4, updated = $5,
         halted_bundles = $6, started_at = $7, updated_at = now()`,
      [
        appSetId,
        s.status,
        s.step,
        s.message.slice(0, 4000),
        JSON.stringify(s.updated),
        s.haltedBundles === null ? null : JSON.stringify(s.haltedBundles),
        s.startedAt,
      ],
    );
  }

  async apps(appSetId: string): Promise<RolloutAppRow[]> {
    const rows = await this.ds.query<
      {
        id: string;
        name: string;
        labels: Record<string, string>;
        spec: ApplicationSpec;
        bundle_hash: string | null;
      }[]
    >(
      `SELECT a.id, a.name, a.labels, a.spec,
              CASE WHEN r.spec_version = a.spec_version THEN r.bundle_hash END AS bundle_hash
         FROM applications a LEFT JOIN app_renders r ON r.app_id = a.id
        WHERE a.app_set_id = $1 ORDER BY a.name`,
      [appSetId],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      labels: r.labels,
      spec: r.spec,
      bundleHash: r.bundle_hash,
    }));
  }

  async targets(appSetId: string): Promise<RolloutTargetRow[]> {
    const rows = await this.ds.query<
      {
        app_id: string;
        cluster_id: string;
        desired_bundle_hash: string;
        desired_revision: string;
        applied: boolean;
        health: HealthState;
        failed: boolean;
      }[]
    >(
      `SELECT t.app_id, t.cluster_id, t.desired_bundle_hash, t.desired_revision,
              t.applied_generation >= t.desired_generation AS applied, t.health,
              (t.applied_generation >= t.desired_generation
                AND coalesce(t.operation->>'phase', '') = 'Failed') AS failed
         FROM app_targets t JOIN applications a ON a.id = t.app_id
        WHERE a.app_set_id = $1`,
      [appSetId],
    );
    return rows.map((r) => ({
      appId: r.app_id,
      clusterId: r.cluster_id,
      bundleHash: r.desired_bundle_hash,
      revision: r.desired_revision,
      applied: r.applied,
      health: r.health,
      failed: r.failed,
    }));
  }
}
