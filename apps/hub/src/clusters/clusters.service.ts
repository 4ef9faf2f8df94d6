import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';
import { DataSource, QueryFailedError, type Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound } from '../common/validation.js';
import { hashToken, newToken } from '../common/tokens.js';
import { ClusterEntity } from './cluster.entity.js';
import type { CreateCluster, UpdateCluster } from './cluster.schemas.js';

export interface ClusterView {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  server: string;
  agent: { connected: boolean; version: string | null; lastSeenAt: string | null };
  createdAt: string;
}

export type ClusterEvent = { type: 'added' | 'removed' | 'updated'; cluster: ClusterEntity };

@Injectable()
export class ClustersService {
  private readonly repo: Repository<ClusterEntity>;
  /** Inventory changes, for whatever depends on the set of clusters (apps, generators, sessions). */
  readonly events$ = new Subject<ClusterEvent>();

  constructor(
    ds: DataSource,
    private readonly audit: AuditService,
  ) {
    this.repo = ds.getRepository(ClusterEntity);
  }

  /** Registers a cluster and returns the agent token, shown once and stored only as a hash. */
  async create(
    input: CreateCluster,
  ): Promise<{ cluster: ClusterView; agentToken: string; id: string }> {
    const token = newToken('axle_agent');
    const entity = this.repo.create({ ...input, tokenHash: hashToken(token) });
    try {
      await this.repo.insert(entity);
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`cluster "${input.name}" already exists`);
      }
      throw e;
    }
    const saved = await this.getEntity(input.name);
    await this.audit.record('cluster.create', 'Cluster', saved.name, undefined, toView(saved));
    this.events$.next({ type: 'added', cluster: saved });
    return { cluster: toView(saved), agentToken: token, id: saved.id };
  }

  async list(): Promise<ClusterView[]> {
    return (await this.repo.find({ order: { name: 'ASC' } })).map(toView);
  }

  async all(): Promise<ClusterEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  async get(name: string): Promise<ClusterView> {
    return toView(await this.getEntity(name));
  }

  async getEntity(name: string): Promise<ClusterEntity> {
    const c = await this.repo.findOneBy({ name });
    if (!c) throw new NotFound(`cluster "${name}" not found`);
    return c;
  }

  async update(name: string, input: UpdateCluster): Promise<ClusterView> {
    const c = await this.getEntity(name);
    const before = toView(c);
    Object.assign(c, Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
    await this.repo.save(c);
    await this.audit.record('cluster.update', 'Cluster', name, before, toView(c));
    this.events$.next({ type: 'updated', cluster: c });
    return toView(c);
  }

  async delete(name: string): Promise<void> {
    const c = await this.getEntity(name);
    await this.repo.delete({ id: c.id });
    await this.audit.record('cluster.delete', 'Cluster', name, toView(c), undefined);
    this.events$.next({ type: 'removed', cluster: c });
  }

  async recordRevocation(name: string, certificates: number): Promise<void> {
    await this.audit.record('cluster.revoke', 'Cluster', name, undefined, {
      revokedCertificates: certificates,
    });
  }

  async findByToken(token: string): Promise<ClusterEntity | null> {
    return this.repo.findOneBy({ tokenHash: hashToken(token) });
  }

  async markSeen(id: string, connected: boolean, agentVersion?: string): Promise<void> {
    await this.repo.update(
      { id },
      {
        connected,
        lastSeenAt: new Date(),
        ...(agentVersion !== undefined ? { agentVersion } : {}),
      },
    );
  }

  async markAllDisconnected(ids: string[]): Promise<void> {
    if (ids.length)
      await this.repo
        .createQueryBuilder()
        .update()
        .set({ connected: false })
        .whereInIds(ids)
        .execute();
  }
}

export function toView(c: ClusterEntity): ClusterView {
  return {
    name: c.name,
    labels: c.labels,
    annotations: c.annotations,
    server: c.server,
    agent: {
      connected: c.connected,
      version: c.agentVersion,
      lastSeenAt: c.lastSeenAt?.toISOString() ?? null,
    },
    createdAt: c.createdAt.toISOString(),
  };
}
