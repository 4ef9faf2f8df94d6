import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

@Entity({ name: 'clusters' })
export class ClusterEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  name: string;

  @Column({ type: 'jsonb', default: {} })
  labels: Record<string, string>;

  @Column({ type: 'jsonb', default: {} })
  annotations: Record<string, string>;

  /** Informational API server URL as users know it (the hub never calls it). */
  @Column({ type: 'varchar', length: 2048, default: '' })
  server: string;

  /** sha256 of the agent token issued at registration; the token itself is never stored. */
  @Column({ name: 'token_hash', type: 'varchar', length: 80 })
  tokenHash: string;

  @Column({ name: 'agent_version', type: 'varchar', length: 64, nullable: true })
  agentVersion: string | null;

  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true })
  lastSeenAt: Date | null;

  @Column({ name: 'connected', type: 'boolean', default: false })
  connected: boolean;

  /** What its API server serves, as its agent last reported (table cluster_capabilities). */
  @Column({ name: 'capabilities_hash', type: 'varchar', length: 64, nullable: true })
  capabilitiesHash: string | null;

  @Column({ name: 'capabilities_at', type: 'timestamptz', nullable: true })
  capabilitiesAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
