import { Inject, Injectable, Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import {
  certificateInfo,
  createCertificateAuthority,
  issueServerCertificate,
  signClientCertificate,
  verifyCsr,
  type CertificateAuthority,
} from '../../../../libs/pki/src/index.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { SecretBox } from '../secrets/secret-box.js';

/**
 * The hub's certificate authority: supplied as files (AXLE_CA_CERT_FILE/AXLE_CA_KEY_FILE) or made
 * on first start and kept in PostgreSQL with its key sealed, so every replica shares it. Issues the
 * gRPC server certificate and the agents' short-lived client certificates.
 */
@Injectable()
export class PkiService {
  private readonly log = new Logger('PKI');
  private ca?: CertificateAuthority;
  private server?: { certPem: string; keyPem: string };

  constructor(
    private readonly ds: DataSource,
    private readonly box: SecretBox,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async authority(): Promise<CertificateAuthority> {
    if (this.ca) return this.ca;
    const { caCertFile, caKeyFile } = this.config.pki;
    if (caCertFile && caKeyFile) {
      this.ca = {
        certPem: readFileSync(caCertFile, 'utf8'),
        keyPem: readFileSync(caKeyFile, 'utf8'),
      };
      return this.ca;
    }
    const rows = await this.ds.query<{ cert_pem: string; key_sealed: string }[]>(
      'SELECT cert_pem, key_sealed FROM hub_ca WHERE id = 1',
    );
    if (rows[0]) {
      this.ca = { certPem: rows[0].cert_pem, keyPem: this.box.open(rows[0].key_sealed) };
      return this.ca;
    }
    const made = await createCertificateAuthority({ commonName: 'Axle hub CA', validDays: 3650 });
    // Replicas starting together: the first insert wins and everyone uses that CA.
    await this.ds.query(
      `INSERT INTO hub_ca (id, cert_pem, key_sealed) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`,
      [made.certPem, this.box.seal(made.keyPem)],
    );
    this.log.warn('created the hub certificate authority (stored in the database, key sealed)');
    this.ca = undefined;
    return this.authority();
  }

  async caCertPem(): Promise<string> {
    return (await this.authority()).certPem;
  }

  /** The gRPC server certificate, for AXLE_GRPC_TLS_HOSTS (default localhost, 127.0.0.1, hostname). */
  async serverCertificate(): Promise<{ certPem: string; keyPem: string }> {
    this.server ??= await issueServerCertificate(await this.authority(), {
      hosts: this.config.pki.serverHosts.length
        ? this.config.pki.serverHosts
        : ['localhost', '127.0.0.1', hostname()],
      validDays: 365,
    });
    return this.server;
  }

  /** Signs an agent's CSR for `cluster` (the CSR must name it) and records the serial. */
  async issueClientCertificate(
    clusterId: string,
    cluster: string,
    csrPem: string,
  ): Promise<{ certPem: string; serial: string; notAfter: Date }> {
    await verifyCsr(csrPem);
    const issued = await signClientCertificate(await this.authority(), csrPem, {
      commonName: cluster,
      validHours: this.config.pki.clientCertHours,
    });
    await this.ds.query(
      `INSERT INTO agent_certificates (serial, cluster_id, not_after) VALUES ($1, $2, $3)`,
      [issued.serial, clusterId, issued.notAfter],
    );
    return issued;
  }

  /** The cluster a presented client certificate may act for, or why it may not. */
  async identify(
    certPem: string,
  ): Promise<
    { ok: true; clusterId: string; cluster: string; serial: string } | { ok: false; reason: string }
  > {
    const info = certificateInfo(certPem);
    const rows = await this.ds.query<
      { cluster_id: string; name: string; revoked_at: Date | null }[]
    >(
      `SELECT c.cluster_id, k.name, c.revoked_at FROM agent_certificates c JOIN clusters k ON k.id = c.cluster_id WHERE c.serial = $1`,
      [info.serial],
    );
    const row = rows[0];
    if (!row)
      return {
        ok: false,
        reason: `certificate ${info.serial} was not issued by this hub (or its cluster was deleted)`,
      };
    if (row.revoked_at)
      return {
        ok: false,
        reason: `certificate ${info.serial} of cluster "${row.name}" is revoked`,
      };
    if (row.name !== info.commonName)
      return {
        ok: false,
        reason: `certificate subject "${info.commonName}" does not match cluster "${row.name}"`,
      };
    return { ok: true, clusterId: row.cluster_id, cluster: row.name, serial: info.serial };
  }

  async revokeCluster(clusterId: string): Promise<number> {
    const [, n] = await this.ds.query<[unknown, number]>(
      `UPDATE agent_certificates SET revoked_at = now() WHERE cluster_id = $1 AND revoked_at IS NULL`,
      [clusterId],
    );
    return n;
  }
}
