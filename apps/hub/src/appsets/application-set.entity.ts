import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export interface AppSetCondition {
  type: 'ErrorOccurred' | 'ParametersGenerated' | 'ResourcesUpToDate';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface AppSetIssue {
  path?: string;
  name?: string;
  message: string;
}

export interface AppSetStatus {
  conditions: AppSetCondition[];
  /** Per-application problems of the last evaluation (isolated: the others still applied). */
  applicationErrors: AppSetIssue[];
  /** Names waiting for a deletion confirmation (mass-deletion guard). */
  pendingDeletion: string[];
  applications: number;
  lastEvaluatedAt?: string;
  /** Inputs of the last evaluation that changed nothing: an equal fingerprint skips the next. */
  fingerprint?: string;
  /**
   * What the generators of that evaluation read from git (listings and files, by revision): the
   * next fingerprint replays them, so a commit that leaves them as they were skips.
   */
  gitReads?: {
    url: string;
    revision: string;
    op: 'directories' | 'files' | 'file';
    path?: string;
  }[];
  lastEvaluatedVersion?: number;
}

@Entity({ name: 'application_sets' })
export class ApplicationSetEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 253, unique: true })
  name: string;

  /** The document as the user gave it (Argo CD ApplicationSet or Axle JSON), parsed to JSON. */
  @Column({ type: 'jsonb' })
  document: Record<string, unknown>;

  @Column({ name: 'spec_version', type: 'integer', default: 1 })
  specVersion: number;

  /** Fields Axle ignores, by path: reported back, never silently dropped. */
  @Column({ type: 'jsonb', default: [] })
  warnings: AppSetIssue[];

  /** Repositories its git generators read ('*' when a repoURL is templated). */
  @Column({ type: 'text', array: true, default: [] })
  repos: string[];

  @Column({ name: 'reads_clusters', type: 'boolean', default: false })
  readsClusters: boolean;

  /** Evaluated again this often (plugin, pullRequest, scmProvider, clusterDecisionResource). */
  @Column({ name: 'requeue_seconds', type: 'integer', nullable: true })
  requeueSeconds: number | null;

  @Column({ type: 'jsonb', default: {} })
  status: AppSetStatus;

  @Column({ name: 'deletion_confirmed', type: 'jsonb', default: [] })
  deletionConfirmed: string[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
