import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { ApplicationSpec } from './application.schemas.js';

/** What reconciling an application last produced (table `app_renders`). */
export interface AppRender {
  /** Commit of the last successful render. */
  revision: string | null;
  bundleHash: string | null;
  specVersion: number | null;
  conditions: AppCondition[];
}

/** Why an automated application is synced by hand only for now (set by a rollback). */
export interface AutoSyncSuspension {
  reason: string;
  by: string;
  at: string;
}

export interface AppCondition {
  type:
    | 'RenderError'
    | 'SourceError'
    | 'DestinationError'
    | 'ProjectViolation'
    | 'SyncBlocked'
    | 'ChildApplicationError';
  message: string;
  lastTransitionTime: string;
}

/**
 * Whether a condition means the application's own state is not known to be what it should be:
 * all but a sync window holding it back and its child applications' problems (shown, not its own).
 */
export function failsStatus(c: AppCondition): boolean {
  return c.type !== 'SyncBlocked' && c.type !== 'ChildApplicationError';
}

@Entity({ name: 'applications' })
export class ApplicationEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 253, unique: true })
  name: string;

  @Column({ type: 'jsonb' })
  spec: ApplicationSpec;

  /**
   * Its labels (Argo CD's metadata.labels): given with the application, or from its
   * ApplicationSet's template. Lists select on them; RollingSync steps select generated ones.
   */
  @Column({ type: 'jsonb', default: {} })
  labels: Record<string, string>;

  /** Bumped on every spec change (like metadata.generation). */
  @Column({ name: 'spec_version', type: 'integer', default: 1 })
  specVersion: number;

  /** The ApplicationSet that generated this application, if any. */
  @Column({ name: 'app_set_id', type: 'uuid', nullable: true })
  appSetId: string | null;

  /**
   * The application whose manifests hold this one as an Argo CD `Application` (app of apps): it
   * creates, updates and deletes it.
   */
  @Column({ name: 'parent_app_id', type: 'uuid', nullable: true })
  parentAppId: string | null;

  /** Hash of the generated Argo-shaped application (ApplicationSet change planning). */
  @Column({ name: 'spec_hash', type: 'varchar', length: 80, nullable: true })
  specHash: string | null;

  /** Set by a rollback: automated sync is off until re-enabled, so a commit does not undo it. */
  @Column({ name: 'auto_sync_suspended', type: 'jsonb', nullable: true })
  autoSyncSuspended: AutoSyncSuspension | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
