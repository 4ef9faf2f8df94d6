import { credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { certificateInfo, createKeyAndCsr, renewalDue } from '../../../libs/pki/src/index.js';
import {
  AgentCertificatesClient,
  AgentEnrollmentClient,
} from '../../../libs/proto/gen/axle/agent/v1/enrollment.js';

export interface IdentityOptions {
  stateDir: string;
  cluster: string;
  /** The hub CA (PEM): verifies the hub; the installer ships it with the agent. */
  caPem: string;
  enrollAddress: string;
  hubAddress: string;
  /** One-time bootstrap token; only needed until the first certificate is stored. */
  bootstrapToken?: string;
}

interface Material {
  keyPem: string;
  certPem: string;
  caPem: string;
}

const CALL_TIMEOUT_MS = 15_000;

/**
 * The agent's identity for mTLS. It makes its own key pair (the private key is written only to its
 * state directory and never sent), enrolls once with the bootstrap token and a CSR, and renews the
 * certificate over the authenticated channel once two thirds of its lifetime have passed.
 */
export class AgentIdentity {
  private readonly log = new Logger('AgentIdentity');
  private material?: Material;

  constructor(private readonly opts: IdentityOptions) {
    mkdirSync(join(opts.stateDir, 'tls'), { recursive: true, mode: 0o700 });
    const file = join(opts.stateDir, 'tls', 'identity.json');
    if (existsSync(file)) this.material = JSON.parse(readFileSync(file, 'utf8')) as Material;
  }

  get enrolled(): boolean {
    return this.material !== undefined;
  }

  /** Channel credentials for the agent port (client certificate), enrolling first if needed. */
  async credentials(): Promise<ChannelCredentials> {
    if (!this.material) await this.enroll();
    const m = this.material!;
    return credentials.createSsl(
      Buffer.from(m.caPem),
      Buffer.from(m.keyPem),
      Buffer.from(m.certPem),
    );
  }

  /** Renews when due; returns whether a new certificate was stored. */
  async renewIfDue(hubAddress = this.opts.hubAddress, now = new Date()): Promise<boolean> {
    if (!this.material || !renewalDue(certificateInfo(this.material.certPem), now)) return false;
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: this.opts.cluster });
    const client = new AgentCertificatesClient(hubAddress, await this.credentials());
    try {
      const res = await unary<{ certificatePem: string; caPem: string }>((cb) =>
        client.renew({ csrPem }, new Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, cb),
      );
      await this.store({
        keyPem,
        certPem: res.certificatePem,
        caPem: res.caPem || this.material.caPem,
      });
      this.log.log(
        `certificate renewed until ${certificateInfo(res.certificatePem).notAfter.toISOString()}`,
      );
      return true;
    } finally {
      client.close();
    }
  }

  private async enroll(): Promise<void> {
    if (!this.opts.bootstrapToken) {
      throw new Error(
        'no client certificate yet and no bootstrap token (AXLE_BOOTSTRAP_TOKEN) to enroll with',
      );
    }
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: this.opts.cluster });
    const client = new AgentEnrollmentClient(
      this.opts.enrollAddress,
      credentials.createSsl(Buffer.from(this.opts.caPem)),
    );
    try {
      const res = await unary<{ certificatePem: string; caPem: string; cluster: string }>((cb) =>
        client.enroll(
          { bootstrapToken: this.opts.bootstrapToken!, csrPem },
          new Metadata(),
          { deadline: Date.now() + CALL_TIMEOUT_MS },
          cb,
        ),
      );
      await this.store({
        keyPem,
        certPem: res.certificatePem,
        caPem: res.caPem || this.opts.caPem,
      });
      this.log.log(`enrolled as cluster "${res.cluster}"`);
    } finally {
      client.close();
    }
  }

  /** Key, certificate and CA replaced together (one file, one rename): never a mismatched pair. */
  private async store(m: Material): Promise<void> {
    const file = join(this.opts.stateDir, 'tls', 'identity.json');
    await writeFile(`${file}.tmp`, JSON.stringify(m), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    this.material = m;
  }
}

function unary<T>(call: (cb: (err: Error | null, res?: T) => void) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    call((err, res) => (err ? reject(err) : resolve(res as T)));
  });
}
