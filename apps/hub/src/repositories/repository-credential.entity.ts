import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

@Entity({ name: 'repository_credentials' })
export class RepositoryCredentialEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Applies to every repository URL that starts with this prefix (the longest prefix wins). */
  @Column({ name: 'url_prefix', type: 'varchar', length: 2048, unique: true })
  urlPrefix: string;

  @Column({ type: 'varchar', length: 8 })
  type: 'https' | 'ssh';

  @Column({ type: 'varchar', length: 255, nullable: true })
  username: string | null;

  /** Sealed with the hub's SecretBox; never returned by the API nor logged. */
  @Column({ name: 'secret_sealed', type: 'text' })
  secretSealed: string;

  @Column({ name: 'known_hosts', type: 'text', nullable: true })
  knownHosts: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
