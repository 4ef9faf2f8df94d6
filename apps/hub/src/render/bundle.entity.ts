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

  /** Identity of every object (group, kind, namespace, name): project checks need no unpacking. */
  @Column({ type: 'jsonb', default: [] })
  resources: { group: string; kind: string; namespace: string; name: string }[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
