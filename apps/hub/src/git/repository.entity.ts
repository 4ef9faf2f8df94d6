import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** Every repository an application reads, with the last commit seen per ref (poll + webhook). */
@Entity({ name: 'repositories' })
export class RepositoryEntity {
  @PrimaryColumn({ type: 'varchar', length: 2048 })
  url: string;

  @Column({ name: 'last_fetched_at', type: 'timestamptz', nullable: true })
  lastFetchedAt: Date | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  /** ref name → commit, as of the last fetch. */
  @Column({ type: 'jsonb', default: {} })
  refs: Record<string, string>;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
