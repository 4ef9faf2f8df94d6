// Cross-checks the library's output (and input handling) against the real openssl CLI.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PkiError,
  certificateInfo,
  createCertificateAuthority,
  createKeyAndCsr,
  issueServerCertificate,
  signClientCertificate,
  verifyCsr,
  verifyIssuedBy,
  type CertificateAuthority,
} from './index.js';

const hasOpenssl = spawnSync('openssl', ['version'], { timeout: 5000 }).status === 0;

interface Result {
  status: number | null;
  out: string;
}

describe.skipIf(!hasOpenssl)('openssl cross-check', () => {
  let dir: string;
  let ca: CertificateAuthority;

  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const openssl = (...args: string[]): Result => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const opensslOk = (...args: string[]): string =>
    execFileSync('openssl', args, {
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'pipe'], // keep key-generation progress dots out of the test log
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'axle-pki-'));
    ca = await createCertificateAuthority({ commonName: 'axle-test-ca', validDays: 30 });
    file('ca.pem', ca.certPem);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('openssl verifies a client certificate against the CA, for TLS client use', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const issued = await signClientCertificate(ca, csrPem, {
      commonName: 'cluster-a',
      validHours: 1,
    });
    file('client.pem', issued.certPem);
    expect(opensslOk('verify', '-CAfile', 'ca.pem', 'client.pem')).toContain('client.pem: OK');
    expect(
      opensslOk(
        'verify',
        '-x509_strict',
        '-purpose',
        'sslclient',
        '-CAfile',
        'ca.pem',
        'client.pem',
      ),
    ).toContain('client.pem: OK');
    // The clientAuth-only EKU must not pass as a server certificate.
    expect(
      openssl('verify', '-purpose', 'sslserver', '-CAfile', 'ca.pem', 'client.pem').status,
    ).not.toBe(0);

    const eku = opensslOk('x509', '-in', 'client.pem', '-noout', '-ext', 'extendedKeyUsage');
    expect(eku).toContain('TLS Web Client Authentication');
    expect(eku).not.toContain('Server');
    const text = opensslOk('x509', '-in', 'client.pem', '-noout', '-text');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toContain('ecdsa-with-SHA256');
    expect(text).toContain('NIST CURVE: P-256');
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(opensslOk('x509', '-in', 'client.pem', '-noout', '-subject')).toMatch(
      /^subject=CN\s?=\s?cluster-a\n$/,
    );
    expect(opensslOk('x509', '-in', 'client.pem', '-noout', '-serial')).toBe(
      `serial=${issued.serial.toUpperCase()}\n`,
    );
  });

  it('openssl accepts the CA and the server certificate', async () => {
    const text = opensslOk('x509', '-in', 'ca.pem', '-noout', '-text');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(opensslOk('verify', '-x509_strict', '-CAfile', 'ca.pem', 'ca.pem')).toContain('OK');

    const server = await issueServerCertificate(ca, {
      hosts: ['axle-hub.example', '127.0.0.1'],
      validDays: 1,
    });
    file('server.pem', server.certPem);
    file('server.key', server.keyPem);
    expect(
      opensslOk(
        'verify',
        '-x509_strict',
        '-purpose',
        'sslserver',
        '-CAfile',
        'ca.pem',
        'server.pem',
      ),
    ).toContain('OK');
    expect(opensslOk('x509', '-in', 'server.pem', '-noout', '-ext', 'subjectAltName')).toContain(
      'DNS:axle-hub.example, IP Address:127.0.0.1',
    );
    const verifyHost = (flag: string, value: string) =>
      openssl('verify', flag, value, '-CAfile', 'ca.pem', 'server.pem').status;
    expect(verifyHost('-verify_ip', '127.0.0.1')).toBe(0);
    expect(verifyHost('-verify_hostname', 'axle-hub.example')).toBe(0);
    expect(verifyHost('-verify_ip', '10.0.0.1')).not.toBe(0);
    // The private key matches the certificate.
    expect(opensslOk('pkey', '-in', 'server.key', '-pubout')).toBe(
      opensslOk('x509', '-in', 'server.pem', '-noout', '-pubkey'),
    );
  });

  it('openssl refuses a certificate from another CA', async () => {
    const other = await createCertificateAuthority({ commonName: 'other-ca', validDays: 1 });
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const issued = await signClientCertificate(other, csrPem, {
      commonName: 'cluster-a',
      validHours: 1,
    });
    file('foreign.pem', issued.certPem);
    const r = openssl('verify', '-CAfile', 'ca.pem', 'foreign.pem');
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/unable to get local issuer certificate/);
  });

  it('openssl req -verify accepts our CSR', async () => {
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    file('agent.csr', csrPem);
    file('agent.key', keyPem);
    const r = openssl('req', '-in', 'agent.csr', '-noout', '-verify', '-subject');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/verify OK/i);
    expect(r.out).toMatch(/subject=CN\s?=\s?cluster-a/);
    expect(opensslOk('pkey', '-in', 'agent.key', '-pubout')).toBe(
      opensslOk('req', '-in', 'agent.csr', '-noout', '-pubkey'),
    );
  });

  it('accepts an openssl-made P-256 CSR and refuses an RSA one', async () => {
    opensslOk(
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', 'ec.key', '-subj', '/CN=cluster-ossl', '-out', 'ec.csr',
    ); // prettier-ignore
    const csrPem = readFileSync(join(dir, 'ec.csr'), 'utf8');
    expect((await verifyCsr(csrPem)).commonName).toBe('cluster-ossl');
    const issued = await signClientCertificate(ca, csrPem, {
      commonName: 'cluster-ossl',
      validHours: 1,
    });
    file('ec.pem', issued.certPem);
    expect(opensslOk('verify', '-CAfile', 'ca.pem', 'ec.pem')).toContain('OK');

    opensslOk(
      'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key',
      '-subj', '/CN=cluster-rsa', '-out', 'rsa.csr',
    ); // prettier-ignore
    const rsa = readFileSync(join(dir, 'rsa.csr'), 'utf8');
    await expect(verifyCsr(rsa)).rejects.toThrow(PkiError);
    await expect(verifyCsr(rsa)).rejects.toThrow(/ECDSA P-256/);
  });

  it('works with a CA supplied as openssl-generated files (SEC1 key)', async () => {
    opensslOk('ecparam', '-name', 'prime256v1', '-genkey', '-out', 'own-ca.key');
    opensslOk(
      'req', '-x509', '-new', '-key', 'own-ca.key', '-subj', '/CN=own-ca', '-days', '2',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'own-ca.pem',
    ); // prettier-ignore
    const ownCa = {
      certPem: readFileSync(join(dir, 'own-ca.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'own-ca.key'), 'utf8'),
    };
    expect(ownCa.keyPem).toContain('BEGIN EC PRIVATE KEY');
    expect(certificateInfo(ownCa.certPem)).toMatchObject({ commonName: 'own-ca', isCa: true });
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const issued = await signClientCertificate(ownCa, csrPem, {
      commonName: 'cluster-a',
      validHours: 1,
    });
    expect(await verifyIssuedBy(issued.certPem, ownCa)).toBe(true);
    file('own-client.pem', issued.certPem);
    expect(
      opensslOk('verify', '-x509_strict', '-CAfile', 'own-ca.pem', 'own-client.pem'),
    ).toContain('OK');
    // The authority key id is the supplied CA's own subject key id.
    const text = opensslOk('x509', '-in', 'own-client.pem', '-noout', '-text');
    const caText = opensslOk('x509', '-in', 'own-ca.pem', '-noout', '-text');
    const skid = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(caText)?.[1];
    expect(skid).toBeTruthy();
    expect(text).toContain(skid);
  });
});
