import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Rendered manifests, content-addressed: identical renders are stored once. */
@Entity({ name: 'manifest_bundles' })
export class BundleEntity {
  @PrimaryColumn({ type: 'varchar', length: 80 })
  hash: string;

  /** gzip of the canonical JSON array of objects. */
  @Column({ type: 'bytea' })
  content: Buffer;

  @Column({ name: 'size_bytes', type: 'integer' })
  sizeBytes: number;

  @Column({ name: 'object_count', type: 'integer' })
  objectCount: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
