import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

import type { HealthState, SyncState } from '../../../../libs/proto/src/codec.js';

export type { HealthState, SyncState };

export interface ResourceState {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
  sync: SyncState;
  health: HealthState;
  message?: string;
  /** Changed by someone else, or deleted (per field: desired and live value, JSON). */
  drifted?: boolean;
  diffs?: { path: string; desired: string; live: string }[];
  /** In the cluster but no longer in git, and not pruned. */
  requiresPruning?: boolean;
  syncWave?: number;
}

const bigintAsNumber = {
  to: (v: number | null) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

/**
 * One application on one cluster: what the hub wants there (desired_*), what the agent
 * confirmed receiving (acked) and what it reports having applied (applied, sync, health).
 */
@Entity({ name: 'app_targets' })
export class AppTargetEntity {
  @PrimaryColumn({ name: 'app_id', type: 'uuid' })
  appId: string;

  @PrimaryColumn({ name: 'cluster_id', type: 'uuid' })
  clusterId: string;

  @Column({ name: 'desired_generation', type: 'bigint', transformer: bigintAsNumber })
  desiredGeneration: number;

  @Column({ name: 'desired_bundle_hash', type: 'varchar', length: 80 })
  desiredBundleHash: string;

  @Column({ name: 'desired_revision', type: 'varchar', length: 64 })
  desiredRevision: string;

  @Column({ name: 'desired_namespace', type: 'varchar', length: 63 })
  desiredNamespace: string;

  @Column({ name: 'desired_policy', type: 'jsonb' })
  desiredPolicy: { automated: boolean; prune: boolean; selfHeal: boolean };

  @Column({ name: 'acked_generation', type: 'bigint', default: 0, transformer: bigintAsNumber })
  ackedGeneration: number;

  @Column({ name: 'applied_generation', type: 'bigint', default: 0, transformer: bigintAsNumber })
  appliedGeneration: number;

  @Column({ name: 'applied_revision', type: 'varchar', length: 64, nullable: true })
  appliedRevision: string | null;

  @Column({ type: 'varchar', length: 16, default: 'Unknown' })
  sync: SyncState;

  @Column({ type: 'varchar', length: 16, default: 'Unknown' })
  health: HealthState;

  @Column({ type: 'text', default: '' })
  message: string;

  @Column({ type: 'jsonb', default: [] })
  resources: ResourceState[];

  @Column({ type: 'boolean', default: false })
  drifted: boolean;

  @Column({ name: 'observe_only', type: 'boolean', default: false })
  observeOnly: boolean;

  @Column({ type: 'jsonb', nullable: true })
  operation: Record<string, unknown> | null;

  @Column({ name: 'last_report_at', type: 'timestamptz', nullable: true })
  lastReportAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
