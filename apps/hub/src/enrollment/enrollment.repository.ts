import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { KeyBatcher } from '../common/key-batcher.js';
import { affected, returned } from '../database/sql.js';

interface IssuedCertificate {
  clusterId: string;
  cluster: string;
  notAfter: Date;
  revokedAt: Date | null;
}

/** A live agent stream's credential: its cluster, and the serial of its certificate (mTLS). */
export interface StreamCredential {
  clusterId: string;
  serial?: string;
}

/** What the database says of a stream's credential now (see credentialStates). */
export interface CredentialState {
  clusterExists: boolean;
  /** The certificate: absent for a stream without one (token auth). */
  certificate?: 'valid' | 'revoked' | 'unknown';
}

/**
 * Agent identity: the hub CA (table `hub_ca`, key sealed), one-time bootstrap tokens
 * (`enrollment_tokens`, hashed) and the client certificates issued (`agent_certificates`).
 */
@Injectable()
export class EnrollmentRepository {
  /**
   * Certificate lookups, batched: every agent stream is identified by one, and a fleet
   * reconnecting at once must not queue thousands of single-row queries for the pool.
   */
  private readonly certificates: KeyBatcher<string, IssuedCertificate>;

  constructor(private readonly ds: DataSource) {
    this.certificates = new KeyBatcher(async (serials) => {
      const rows = await this.ds.query<
        {
          serial: string;
          cluster_id: string;
          name: string;
          not_after: Date;
          revoked_at: Date | null;
        }[]
      >(
        `SELECT c.serial, c.cluster_id, k.name, c.not_after, c.revoked_at FROM agent_certificates c
           JOIN clusters k ON k.id = c.cluster_id WHERE c.serial = ANY($1::text[])`,
        [serials],
      );
      return new Map(
        rows.map((r) => [
          r.serial,
          {
            clusterId: r.cluster_id,
            cluster: r.name,
            notAfter: r.not_after,
            revokedAt: r.revoked_at,
          },
        ]),
      );
    });
  }

  async ca(): Promise<{ certPem: string; keySealed: string } | undefined> {
    const rows = await this.ds.query<{ cert_pem: string; key_sealed: string }[]>(
      'SELECT cert_pem, key_sealed FROM hub_ca WHERE id = 1',
    );
    return rows[0] ? { certPem: rows[0].cert_pem, keySealed: rows[0].key_sealed } : undefined;
  }

  /** Stores the CA unless one exists (replicas starting together: the first insert wins). */
  async insertCaIfAbsent(certPem: string, keySealed: string): Promise<void> {
    await this.ds.query(
      `INSERT INTO hub_ca (id, cert_pem, key_sealed) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`,
      [certPem, keySealed],
    );
  }

  /** A new bootstrap token for a cluster; any unspent one issued before it stops working. */
  async insertBootstrapToken(tokenHash: string, clusterId: string, expiresAt: Date): Promise<void> {
    await this.ds.query(
      `WITH superseded AS (
         UPDATE enrollment_tokens SET expires_at = now()
          WHERE cluster_id = $2 AND used_at IS NULL AND expires_at > now())
       INSERT INTO enrollment_tokens (token_hash, cluster_id, expires_at) VALUES ($1, $2, $3)`,
      [tokenHash, clusterId, expiresAt],
    );
  }

  /** The cluster a usable (unspent, unexpired) token enrolls. */
  async usableTokenCluster(tokenHash: string): Promise<string | undefined> {
    const rows = await this.ds.query<{ name: string }[]>(
      `SELECT c.name FROM enrollment_tokens t JOIN clusters c ON c.id = t.cluster_id
        WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()`,
      [tokenHash],
    );
    return rows[0]?.name;
  }

  /** Spends a usable token: at most one caller ever gets its cluster. */
  async spendToken(tokenHash: string): Promise<{ clusterId: string; cluster: string } | undefined> {
    const rows = returned<{ cluster_id: string; name: string }>(
      await this.ds.query(
        `UPDATE enrollment_tokens t SET used_at = now() FROM clusters c
          WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now() AND c.id = t.cluster_id
          RETURNING t.cluster_id, c.name`,
        [tokenHash],
      ),
    );
    return rows[0] ? { clusterId: rows[0].cluster_id, cluster: rows[0].name } : undefined;
  }

  /** Whether a token exists, and when it was spent. */
  async tokenState(tokenHash: string): Promise<{ usedAt: Date | null } | undefined> {
    const rows = await this.ds.query<{ used_at: Date | null }[]>(
      'SELECT used_at FROM enrollment_tokens WHERE token_hash = $1',
      [tokenHash],
    );
    return rows[0] ? { usedAt: rows[0].used_at } : undefined;
  }

  async recordCertificate(serial: string, clusterId: string, notAfter: Date): Promise<void> {
    await this.ds.query(
      `INSERT INTO agent_certificates (serial, cluster_id, not_after) VALUES ($1, $2, $3)`,
      [serial, clusterId, notAfter],
    );
  }

  /**
   * Records a renewed certificate, only if the one it was renewed with (`presented`, of the same
   * cluster) is still not revoked; false otherwise (nothing recorded). The cluster's row is
   * locked FOR SHARE first, and a revocation locks it FOR NO KEY UPDATE before it revokes (see
   * revokeCluster): either the revocation comes first and this statement, which takes its
   * snapshot after the lock, sees it, or the renewal commits first and the revocation's UPDATE,
   * run after the lock too, sees and revokes the new certificate. Without the lock a renewal in
   * flight during a revocation could record a new certificate the revocation did not see.
   */
  async recordRenewal(
    serial: string,
    clusterId: string,
    notAfter: Date,
    presented: string,
  ): Promise<boolean> {
    return this.ds.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM clusters WHERE id = $1 FOR SHARE', [clusterId]);
      const rows = await tx.query<{ serial: string }[]>(
        `INSERT INTO agent_certificates (serial, cluster_id, not_after)
           SELECT $1, $2, $3 FROM agent_certificates p
            WHERE p.serial = $4 AND p.cluster_id = $2 AND p.revoked_at IS NULL
         RETURNING serial`,
        [serial, clusterId, notAfter, presented],
      );
      return rows.length > 0;
    });
  }

  /** The certificate with this serial, its cluster, its expiry and whether it is revoked. */
  certificate(serial: string): Promise<IssuedCertificate | undefined> {
    return this.certificates.get(serial);
  }

  /**
   * Whether each live stream's credential still holds: its cluster exists, and its certificate
   * (when it has one) is still known and not revoked. One query for all of them; the answers come
   * in the order of `streams`.
   */
  async credentialStates(streams: StreamCredential[]): Promise<CredentialState[]> {
    if (streams.length === 0) return [];
    const rows = await this.ds.query<
      { i: number; cluster_exists: boolean; known: boolean; revoked: boolean }[]
    >(
      `SELECT s.i::int AS i, k.id IS NOT NULL AS cluster_exists,
              c.serial IS NOT NULL AS known, c.revoked_at IS NOT NULL AS revoked
         FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS s(cluster_id, serial, i)
         LEFT JOIN clusters k ON k.id = s.cluster_id
         LEFT JOIN agent_certificates c ON c.serial = s.serial AND c.cluster_id = s.cluster_id`,
      [streams.map((s) => s.clusterId), streams.map((s) => s.serial ?? null)],
    );
    const states: CredentialState[] = streams.map(() => ({ clusterExists: false }));
    for (const r of rows) {
      const serial = streams[r.i - 1].serial;
      states[r.i - 1] = {
        clusterExists: r.cluster_exists,
        certificate:
          serial === undefined ? undefined : !r.known ? 'unknown' : r.revoked ? 'revoked' : 'valid',
      };
    }
    return states;
  }

  /**
   * Revokes every certificate of a cluster, and its unspent bootstrap tokens (one that leaked
   * would otherwise enroll a fresh certificate); returns how many certificates. The cluster's
   * row is locked first, so that a renewal in flight either sees the revocation or is revoked
   * with the rest (see recordRenewal).
   */
  async revokeCluster(clusterId: string): Promise<number> {
    return this.ds.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM clusters WHERE id = $1 FOR NO KEY UPDATE', [clusterId]);
      return affected(
        await tx.query(
          `WITH tokens AS (
             UPDATE enrollment_tokens SET expires_at = now()
              WHERE cluster_id = $1 AND used_at IS NULL AND expires_at > now())
           UPDATE agent_certificates SET revoked_at = now() WHERE cluster_id = $1 AND revoked_at IS NULL`,
          [clusterId],
        ),
      );
    });
  }
}
