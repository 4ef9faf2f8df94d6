import { Inject, Injectable, Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { X509Certificate } from 'node:crypto';
import {
  certificateInfo,
  presentedIdentity,
  createCertificateAuthority,
  issueServerCertificate,
  signClientCertificate,
  type CertificateAuthority,
} from '../../../../libs/pki/src/index.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { SecretBox } from '../secrets/secret-box.js';
import { EnrollmentRepository } from './enrollment.repository.js';

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
    private readonly repo: EnrollmentRepository,
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
    const stored = await this.repo.ca();
    if (stored) {
      this.ca = { certPem: stored.certPem, keyPem: this.box.open(stored.keySealed) };
      return this.ca;
    }
    const made = await createCertificateAuthority({ commonName: 'Axle hub CA', validDays: 3650 });
    // Replicas starting together: the first insert wins and everyone uses that CA.
    await this.repo.insertCaIfAbsent(made.certPem, this.box.seal(made.keyPem));
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

  /**
   * Signs an agent's CSR for `cluster` (the CSR must name it) and records the serial. A renewal
   * passes the serial of the certificate it was asked with: the new one is recorded (and handed
   * out) only if that one is still not revoked when it is (RevokedError otherwise), so that a
   * revocation racing the renewal cannot leave the agent a fresh certificate.
   */
  async issueClientCertificate(
    clusterId: string,
    cluster: string,
    csrPem: string,
    renewing?: string,
  ): Promise<{ certPem: string; serial: string; notAfter: Date }> {
    // signClientCertificate parses the CSR and checks its self-signature and subject.
    const issued = await signClientCertificate(await this.authority(), csrPem, {
      commonName: cluster,
      validHours: this.config.pki.clientCertHours,
    });
    if (renewing === undefined) {
      await this.repo.recordCertificate(issued.serial, clusterId, issued.notAfter);
    } else if (
      !(await this.repo.recordRenewal(issued.serial, clusterId, issued.notAfter, renewing))
    ) {
      throw new RevokedError(
        `certificate ${renewing} of cluster "${cluster}" was revoked (or its cluster deleted); not renewed`,
      );
    }
    return issued;
  }

  /**
   * The cluster a presented client certificate (DER, as TLS hands it over) may act for, or why it
   * may not. TLS has already checked that this hub's CA issued it. Its expiry (notAfter) is the
   * one recorded when it was issued: a live stream keeps it and is closed once it has passed (see
   * CredentialCheck).
   */
  async identify(
    der: Buffer,
  ): Promise<
    | { ok: true; clusterId: string; cluster: string; serial: string; notAfter: Date }
    | { ok: false; reason: string }
  > {
    const info = presentedIdentity(der) ?? certificateInfo(new X509Certificate(der).toString());
    const row = await this.repo.certificate(info.serial);
    if (!row)
      return {
        ok: false,
        reason: `certificate ${info.serial} was not issued by this hub (or its cluster was deleted)`,
      };
    if (row.revokedAt)
      return {
        ok: false,
        reason: `certificate ${info.serial} of cluster "${row.cluster}" is revoked`,
      };
    // TLS checks validity at the handshake only: a new stream (or a renewal) may come over a
    // connection opened while the certificate was still valid.
    if (row.notAfter.getTime() <= Date.now())
      return {
        ok: false,
        reason: `certificate ${info.serial} of cluster "${row.cluster}" expired at ${row.notAfter.toISOString()}`,
      };
    if (row.cluster !== info.commonName)
      return {
        ok: false,
        reason: `certificate subject "${info.commonName}" does not match cluster "${row.cluster}"`,
      };
    return {
      ok: true,
      clusterId: row.clusterId,
      cluster: row.cluster,
      serial: info.serial,
      notAfter: row.notAfter,
    };
  }

  async revokeCluster(clusterId: string): Promise<number> {
    return this.repo.revokeCluster(clusterId);
  }
}

/** A renewal asked with a certificate revoked meanwhile: nothing was recorded nor handed out. */
export class RevokedError extends Error {}
