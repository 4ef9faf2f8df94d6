import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound } from '../common/validation.js';
import { hashToken, newToken } from '../common/tokens.js';
import { WorkQueue } from '../work/work-queue.js';
import { parseCapabilities, reportedHash } from './capabilities.js';
import { ClusterEntity } from './cluster.entity.js';
import { IN_CLUSTER_NAME } from './in-cluster.js';
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
  /**
   * What its API server serves, as the agent last reported it (list and get only; null until an
   * agent of this version has): what Helm charts and plugins are rendered for. `changedAt`: when
   * it last changed.
   */
  kubernetes?: { version: string; apiVersions: number; changedAt: string } | null;
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
    const versions = await this.serverVersions(clusters);
    return clusters.map((c) => withAgentFacts(c, certs, versions));
  }

  async get(name: string): Promise<ClusterView> {
    const c = await this.getEntity(name);
    const [certs, versions] = await Promise.all([
      this.repo.certificateExpiry([c.id]),
      this.serverVersions([c]),
    ]);
    return withAgentFacts(c, certs, versions);
  }

  private serverVersions(clusters: ClusterEntity[]) {
    return this.repo.serverVersions(clusters.flatMap((c) => c.capabilitiesHash ?? []));
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

  /**
   * What a cluster's agent reported its API server serves (ClusterInfo). A change is work,
   * committed with it: the applications going to the cluster whose render may read it (Helm
   * charts, plugins, not rendered yet) render again. Returns whether it changed, and the entries
   * left out as no API version. Throws an Error naming the field when the report is refused; what
   * was stored stays.
   */
  async recordCapabilities(
    cluster: { id: string; name: string },
    info: { kubeVersion: string; apiVersions: readonly string[] },
  ): Promise<{ changed: boolean; dropped: string[] }> {
    // Every agent reports at every connect and periodically: an unchanged report (as agents send
    // it) is one hash and one narrow read.
    const stored = await this.repo.capabilitiesHashOf(cluster.id);
    if (stored !== undefined && stored === reportedHash(info))
      return { changed: false, dropped: [] };
    const { dropped, ...caps } = parseCapabilities(info);
    // Sent with entries that are left out: the same set as stored.
    if (stored !== undefined && stored === caps.hash) return { changed: false, dropped };
    const names = [cluster.name];
    if (this.repo.inClusterName === cluster.name) names.push(IN_CLUSTER_NAME);
    const record = () =>
      this.ds.transaction(async (tx) => {
        const changed = await this.repo.recordCapabilities(tx, cluster.id, caps);
        if (changed)
          await this.work.apps(
            { readsCapabilitiesOf: { id: cluster.id, names } },
            `cluster ${cluster.name} serves other APIs (${caps.kubeVersion}, ${caps.apiVersions.length} API versions)`,
            tx,
          );
        return changed;
      });
    for (let attempt = 1; ; attempt++) {
      try {
        return { changed: await record(), dropped };
      } catch (e) {
        // Changes are serialised (see ClustersRepository.recordCapabilities); should PostgreSQL
        // still answer a deadlock, the transaction is run again (it is idempotent).
        if (attempt >= 3 || (e as { code?: string }).code !== '40P01') throw e;
      }
    }
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

function withAgentFacts(
  c: ClusterEntity,
  certs: Map<string, Date>,
  versions: Map<string, { version: string; apiVersions: number }>,
): ClusterView {
  const v = c.capabilitiesHash ? versions.get(c.capabilitiesHash) : undefined;
  return {
    ...toView(c),
    certificateExpiresAt: certs.get(c.id)?.toISOString() ?? null,
    kubernetes: v && c.capabilitiesAt ? { ...v, changedAt: c.capabilitiesAt.toISOString() } : null,
  };
}
