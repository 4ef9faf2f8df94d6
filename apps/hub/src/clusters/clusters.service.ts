import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound } from '../common/validation.js';
import { hashToken, newToken } from '../common/tokens.js';
import { WorkQueue } from '../work/work-queue.js';
import { ClusterEntity } from './cluster.entity.js';
import type { CreateCluster, UpdateCluster } from './cluster.schemas.js';
import { ClustersRepository, type ClusterListFilter } from './clusters.repository.js';

export interface ClusterView {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  server: string;
  agent: { connected: boolean; version: string | null; lastSeenAt: string | null };
  /** When the agent's current client certificate expires (mTLS; list and get only). */
  certificateExpiresAt?: string | null;
  createdAt: string;
}

@Injectable()
export class ClustersService {
  constructor(
    private readonly ds: DataSource,
    private readonly repo: ClustersRepository,
    private readonly audit: AuditService,
    private readonly work: WorkQueue,
  ) {}

  /** Registers a cluster and returns the agent token, shown once and stored only as a hash. */
  async create(
    input: CreateCluster,
  ): Promise<{ cluster: ClusterView; agentToken: string; id: string }> {
    const token = newToken('axle_agent');
    try {
      const saved = await this.ds.transaction(async (tx) => {
        await this.repo.insert({ ...input, tokenHash: hashToken(token) }, tx);
        const c = (await this.repo.findByName(input.name, tx))!;
        await this.audit.record('cluster.create', 'Cluster', c.name, undefined, toView(c), tx);
        await this.inventoryChanged(tx, c.name, 'added');
        return c;
      });
      return { cluster: toView(saved), agentToken: token, id: saved.id };
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`cluster "${input.name}" already exists`);
      }
      throw e;
    }
  }

  async list(q: ClusterListFilter = {}): Promise<ClusterView[]> {
    const filtered = Object.values(q).some((v) => v !== undefined);
    // Every certificate at once for the whole list, a page's only for a page.
    const [clusters, all] = await Promise.all([
      this.repo.list(q),
      filtered ? undefined : this.repo.certificateExpiry(),
    ]);
    const certs = all ?? (await this.repo.certificateExpiry(clusters.map((c) => c.id)));
    return clusters.map((c) => withCertificate(c, certs));
  }

  async get(name: string): Promise<ClusterView> {
    const c = await this.getEntity(name);
    return withCertificate(c, await this.repo.certificateExpiry([c.id]));
  }

  async getEntity(name: string): Promise<ClusterEntity> {
    const c = await this.repo.findByName(name);
    if (!c) throw new NotFound(`cluster "${name}" not found`);
    return c;
  }

  async update(name: string, input: UpdateCluster): Promise<ClusterView> {
    return this.ds.transaction(async (tx) => {
      // Locked until the update commits: a PATCH at the same time waits for this one, then
      // reads what it wrote; only the fields given are written.
      const c = await this.repo.lockByName(name, tx);
      if (!c) throw new NotFound(`cluster "${name}" not found`);
      const fields = Object.fromEntries(
        Object.entries(input).filter(([, v]) => v !== undefined),
      ) as UpdateCluster;
      const after = await this.repo.updateFields(c.id, fields, tx);
      await this.audit.record('cluster.update', 'Cluster', name, toView(c), toView(after), tx);
      await this.inventoryChanged(tx, name, 'updated');
      return toView(after);
    });
  }

  /** Deletes a cluster; its targets go with it (the caller cuts the agent's stream). */
  async delete(name: string): Promise<ClusterEntity> {
    return this.ds.transaction(async (tx) => {
      const c = await this.repo.findByName(name, tx);
      if (!c) throw new NotFound(`cluster "${name}" not found`);
      await this.repo.delete(c.id, tx);
      await this.audit.record('cluster.delete', 'Cluster', name, toView(c), undefined, tx);
      await this.inventoryChanged(tx, name, 'removed');
      return c;
    });
  }

  async recordRevocation(name: string, certificates: number): Promise<void> {
    await this.audit.record('cluster.revoke', 'Cluster', name, undefined, {
      revokedCertificates: certificates,
    });
  }

  findByToken(token: string): Promise<ClusterEntity | null> {
    return this.repo.findByTokenHash(hashToken(token));
  }

  /**
   * An inventory change is work, committed with it: the applications that name the cluster and
   * the ApplicationSets whose generators read the inventory are reconciled again.
   */
  private async inventoryChanged(tx: EntityManager, name: string, what: string): Promise<void> {
    await this.work.apps({ cluster: name }, `cluster ${name} ${what}`, tx);
    await this.work.appsets({ readsClusters: true }, `cluster ${name} ${what}`, tx);
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

function withCertificate(c: ClusterEntity, certs: Map<string, Date>): ClusterView {
  return { ...toView(c), certificateExpiresAt: certs.get(c.id)?.toISOString() ?? null };
}
