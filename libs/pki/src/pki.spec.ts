import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  presentedIdentity,
  CLOCK_SKEW_MS,
  MAX_CSR_BYTES,
  PkiError,
  certificateInfo,
  createCertificateAuthority,
  createKeyAndCsr,
  generateKeyPair,
  issueServerCertificate,
  renewalDue,
  signClientCertificate,
  verifyCsr,
  verifyIssuedBy,
  type CertificateAuthority,
} from './index.js';
import { pemDecode, pemEncode } from './pem.js';

const HOUR = 3_600_000;

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([
    createCertificateAuthority({ commonName: 'axle-test-ca', validDays: 30 }),
    createCertificateAuthority({ commonName: 'other-ca', validDays: 30 }),
  ]);
});

/** Expects `p` to reject with a PkiError (never a TypeError or other raw error). */
async function expectPkiError(p: Promise<unknown>, message?: RegExp): Promise<PkiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PkiError);
  if (message) expect((err as Error).message).toMatch(message);
  return err as PkiError;
}

function expectPkiErrorSync(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PkiError);
}

/** A CSR signed by a key of another algorithm, built with the same library the hub uses. */
async function foreignCsr(
  algorithm: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams,
  signing: object,
): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: 'CN=cluster-a', keys, signingAlgorithm: signing as webcrypto.Algorithm },
    webcrypto,
  );
  return pemEncode('CERTIFICATE REQUEST', csr.rawData);
}

describe('createCertificateAuthority', () => {
  it('creates a self-signed CA certificate with a PKCS#8 P-256 key', async () => {
    const before = Date.now();
    const info = certificateInfo(ca.certPem);
    expect(info).toMatchObject({
      commonName: 'axle-test-ca',
      issuerCommonName: 'axle-test-ca',
      isCa: true,
    });
    expect(await verifyIssuedBy(ca.certPem, ca)).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    const node = new X509Certificate(ca.certPem);
    expect(node.ca).toBe(true);
    expect(node.checkIssued(node)).toBe(true);
    expect(node.verify(node.publicKey)).toBe(true);
    expect(info.notBefore.getTime()).toBeLessThanOrEqual(before - CLOCK_SKEW_MS + 1000);
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeGreaterThan(30 * 24 * HOUR);
  });

  it('refuses bad options', async () => {
    await expectPkiError(createCertificateAuthority({ commonName: '', validDays: 1 }));
    await expectPkiError(createCertificateAuthority({ commonName: 'x'.repeat(65), validDays: 1 }));
    await expectPkiError(createCertificateAuthority({ commonName: 'ca', validDays: 0 }));
    await expectPkiError(createCertificateAuthority({ commonName: 'ca', validDays: NaN }));
    await expectPkiError(createCertificateAuthority(undefined as any));
  });
});

describe('issueServerCertificate', () => {
  it('puts DNS names and IP addresses into subjectAltName', async () => {
    const server = await issueServerCertificate(ca, {
      hosts: ['axle-hub.axle-system.svc', 'localhost', '127.0.0.1', '::1'],
      validDays: 7,
    });
    const node = new X509Certificate(server.certPem);
    expect(node.subjectAltName).toBe(
      'DNS:axle-hub.axle-system.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(node.checkHost('localhost')).toBe('localhost');
    expect(node.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(node.checkIP('::1')).toBe('::1');
    expect(node.checkIP('127.0.0.2')).toBeUndefined();
    expect(node.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(node.ca).toBe(false);
    expect(node.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);

    const info = certificateInfo(server.certPem);
    expect(info).toMatchObject({
      commonName: 'axle-hub.axle-system.svc',
      issuerCommonName: 'axle-test-ca',
      isCa: false,
    });
    expect(await verifyIssuedBy(server.certPem, ca)).toBe(true);
    expect(await verifyIssuedBy(server.certPem, otherCa)).toBe(false);
    expect(await verifyIssuedBy(server.certPem, { certPem: ca.certPem })).toBe(true);
  });

  it('refuses hosts that are neither DNS names nor IPs', async () => {
    await expectPkiError(issueServerCertificate(ca, { hosts: [], validDays: 1 }));
    await expectPkiError(issueServerCertificate(ca, { hosts: ['bad host'], validDays: 1 }));
    await expectPkiError(issueServerCertificate(ca, { hosts: ['a,DNS:evil'], validDays: 1 }));
    await expectPkiError(issueServerCertificate(ca, { hosts: [42 as any], validDays: 1 }));
    await expectPkiError(issueServerCertificate(ca, { hosts: 'localhost' as any, validDays: 1 }));
  });
});

describe('createKeyAndCsr / verifyCsr', () => {
  it('round-trips the common name and public key', async () => {
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const info = await verifyCsr(csrPem);
    expect(info.commonName).toBe('cluster-a');
    const expected = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' });
    expect(info.publicKeyPem).toBe(expected);
  });

  it('keeps a CN with DN syntax characters as one value', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'a, O=evil+CN=b' });
    expect((await verifyCsr(csrPem)).commonName).toBe('a, O=evil+CN=b');
  });

  it('refuses a tampered CSR', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const der = Buffer.from(pemDecode(csrPem, ['CERTIFICATE REQUEST'], 'test'));
    // Change the subject: CN=cluster-a → CN=cluster-b, keeping the original signature.
    const at = der.indexOf('cluster-a');
    expect(at).toBeGreaterThan(0);
    const renamed = Buffer.from(der);
    renamed.write('cluster-b', at);
    await expectPkiError(verifyCsr(pemEncode('CERTIFICATE REQUEST', renamed)), /self-signature/);

    // Flip a bit in the last byte (inside the signature's s value).
    const flipped = Buffer.from(der);
    flipped[flipped.length - 1] ^= 0x01;
    await expectPkiError(verifyCsr(pemEncode('CERTIFICATE REQUEST', flipped)));

    // The public key of another CSR spliced in.
    const other = await createKeyAndCsr({ commonName: 'cluster-a' });
    const spki = async (pem: string) =>
      Buffer.from(
        createPublicKey((await verifyCsr(pem)).publicKeyPem).export({
          type: 'spki',
          format: 'der',
        }),
      );
    const ourKey = await spki(csrPem);
    const theirKey = await spki(other.csrPem);
    const spliced = Buffer.from(der);
    theirKey.copy(spliced, der.indexOf(ourKey));
    expect(der.indexOf(ourKey)).toBeGreaterThan(0);
    expect(spliced.equals(der)).toBe(false);
    await expectPkiError(verifyCsr(pemEncode('CERTIFICATE REQUEST', spliced)), /self-signature/);
  });

  it('refuses garbage with a PkiError, never a raw TypeError', async () => {
    const random = Buffer.from(webcrypto.getRandomValues(new Uint8Array(300)));
    const inputs: unknown[] = [
      undefined,
      null,
      42,
      {},
      [],
      '',
      'hello',
      '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n',
      '-----BEGIN CERTIFICATE REQUEST-----\n\n-----END CERTIFICATE REQUEST-----\n',
      pemEncode('CERTIFICATE REQUEST', random),
      pemEncode('CERTIFICATE REQUEST', Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])),
      pemEncode('CERTIFICATE REQUEST', Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])),
      ca.certPem, // a certificate is not a CSR
      ca.keyPem,
    ];
    for (const input of inputs) {
      await expectPkiError(verifyCsr(input as string));
      await expectPkiError(
        signClientCertificate(ca, input as string, { commonName: 'cluster-a', validHours: 1 }),
      );
    }
  });

  it('refuses oversized input before parsing it', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const padded = csrPem + ' '.repeat(MAX_CSR_BYTES);
    await expectPkiError(verifyCsr(padded), /larger than the limit of 16384 bytes/);
    await expectPkiError(verifyCsr('A'.repeat(10 * 1024 * 1024)), /larger than the limit/);
  });

  it('refuses keys and signatures other than ECDSA P-256 / SHA-256', async () => {
    const rsa = await foreignCsr(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    );
    await expectPkiError(verifyCsr(rsa), /ECDSA P-256, got RSASSA-PKCS1-v1_5/);
    const p384 = await foreignCsr(
      { name: 'ECDSA', namedCurve: 'P-384' },
      { name: 'ECDSA', hash: 'SHA-384' },
    );
    await expectPkiError(verifyCsr(p384), /ECDSA P-256, got ECDSA P-384/);
    const sha512 = await foreignCsr(
      { name: 'ECDSA', namedCurve: 'P-256' },
      { name: 'ECDSA', hash: 'SHA-512' },
    );
    await expectPkiError(verifyCsr(sha512), /SHA-256, got ECDSA SHA-512/);
  });

  it('refuses a CSR without exactly one CN', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    for (const name of ['O=axle', 'CN=a, CN=b']) {
      const csr = await x509.Pkcs10CertificateRequestGenerator.create(
        { name, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
        webcrypto,
      );
      await expectPkiError(verifyCsr(pemEncode('CERTIFICATE REQUEST', csr.rawData)), /one CN/);
    }
  });
});

describe('signClientCertificate', () => {
  it('issues a short-lived clientAuth certificate for the CSR key', async () => {
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const before = Date.now();
    const issued = await signClientCertificate(ca, csrPem, {
      commonName: 'cluster-a',
      validHours: 24,
    });
    const info = certificateInfo(issued.certPem);
    expect(info).toMatchObject({
      commonName: 'cluster-a',
      issuerCommonName: 'axle-test-ca',
      isCa: false,
      serial: issued.serial,
      notAfter: issued.notAfter,
    });
    expect(Math.abs(info.notBefore.getTime() - (before - CLOCK_SKEW_MS))).toBeLessThan(5000);
    expect(Math.abs(issued.notAfter.getTime() - (before + 24 * HOUR))).toBeLessThan(5000);

    const node = new X509Certificate(issued.certPem);
    expect(node.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(node.ca).toBe(false);
    expect(node.subject).toBe('CN=cluster-a');
    expect(node.serialNumber.toLowerCase()).toBe(issued.serial);
    expect(node.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(node.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(node.verify(createPublicKey(ca.keyPem))).toBe(true);
    expect(await verifyIssuedBy(issued.certPem, ca)).toBe(true);
    expect(await verifyIssuedBy(issued.certPem, otherCa)).toBe(false);
    expect(await verifyIssuedBy(issued.certPem, { certPem: issued.certPem })).toBe(false);
  });

  it('refuses a CSR whose CN is not the expected cluster', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    await expectPkiError(
      signClientCertificate(ca, csrPem, { commonName: 'cluster-b', validHours: 1 }),
      /"cluster-a" does not match "cluster-b"/,
    );
    await expectPkiError(
      signClientCertificate(ca, csrPem, { commonName: 'Cluster-A', validHours: 1 }),
    );
  });

  it('refuses a CA that is not usable', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const opts = { commonName: 'cluster-a', validHours: 1 };
    await expectPkiError(
      signClientCertificate({ certPem: ca.certPem, keyPem: otherCa.keyPem }, csrPem, opts),
      /does not belong/,
    );
    const server = await issueServerCertificate(ca, { hosts: ['localhost'], validDays: 1 });
    await expectPkiError(signClientCertificate(server, csrPem, opts), /not a CA/);
    await expectPkiError(
      signClientCertificate({ certPem: ca.certPem, keyPem: 'nope' }, csrPem, opts),
    );
    const rsaKey = (
      await webcrypto.subtle.generateKey(
        {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        true,
        ['sign', 'verify'],
      )
    ).privateKey;
    const rsaPem = pemEncode('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', rsaKey));
    await expectPkiError(
      signClientCertificate({ certPem: ca.certPem, keyPem: rsaPem }, csrPem, opts),
      /ECDSA P-256/,
    );
    await expectPkiError(signClientCertificate(null as any, csrPem, opts));
    await expectPkiError(signClientCertificate(ca, csrPem, { commonName: 'cluster-a' } as any));
  });

  it('accepts a CA key in SEC1 ("EC PRIVATE KEY") form', async () => {
    const sec1 = createPrivateKey(ca.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
    expect(sec1).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const issued = await signClientCertificate({ certPem: ca.certPem, keyPem: sec1 }, csrPem, {
      commonName: 'cluster-a',
      validHours: 1,
    });
    expect(await verifyIssuedBy(issued.certPem, ca)).toBe(true);
  });

  it('never issues beyond the CA notAfter', async () => {
    const shortCa = await createCertificateAuthority({ commonName: 'short', validDays: 1 });
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const issued = await signClientCertificate(shortCa, csrPem, {
      commonName: 'cluster-a',
      validHours: 72,
    });
    expect(issued.notAfter.getTime()).toBe(certificateInfo(shortCa.certPem).notAfter.getTime());
  });

  it('gives 100 issues 100 distinct positive 128-bit serials', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const serials = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const issued = await signClientCertificate(ca, csrPem, {
        commonName: 'cluster-a',
        validHours: 1,
      });
      expect(issued.serial).toMatch(/^[0-7][0-9a-f]{31}$/); // 16 bytes, high bit clear
      expect(issued.serial).not.toMatch(/^00/);
      serials.add(issued.serial);
    }
    expect(serials.size).toBe(100);
  });
});

describe('presentedIdentity (the native fast path for TLS peers)', () => {
  it('gives the serial and CN certificateInfo gives, for every certificate issued', async () => {
    for (let i = 0; i < 50; i++) {
      const { csrPem } = await createKeyAndCsr({ commonName: `cluster-${i}` });
      const issued = await signClientCertificate(ca, csrPem, {
        commonName: `cluster-${i}`,
        validHours: 1,
      });
      const der = Buffer.from(new X509Certificate(issued.certPem).raw);
      const info = certificateInfo(issued.certPem);
      expect(presentedIdentity(der)).toEqual({ serial: info.serial, commonName: info.commonName });
      expect(info.serial).toBe(issued.serial);
    }
  });

  it('declines what it cannot read plainly, leaving it to certificateInfo', async () => {
    expect(presentedIdentity(Buffer.from('not a certificate'))).toBeUndefined();
    const { csrPem } = await createKeyAndCsr({ commonName: 'odd,cn=x' });
    const issued = await signClientCertificate(ca, csrPem, {
      commonName: 'odd,cn=x',
      validHours: 1,
    });
    expect(presentedIdentity(Buffer.from(new X509Certificate(issued.certPem).raw))).toBeUndefined();
  });
});

describe('certificateInfo / verifyIssuedBy on garbage', () => {
  it('throws PkiError', async () => {
    const random = Buffer.from(webcrypto.getRandomValues(new Uint8Array(200)));
    for (const input of [
      undefined,
      null,
      7,
      '',
      'garbage',
      pemEncode('CERTIFICATE', random),
      pemEncode('CERTIFICATE', Buffer.from([0x30, 0x00])),
      (await createKeyAndCsr({ commonName: 'x' })).csrPem,
    ]) {
      expectPkiErrorSync(() => certificateInfo(input as string));
      await expectPkiError(verifyIssuedBy(input as string, ca));
      await expectPkiError(verifyIssuedBy(ca.certPem, { certPem: input as string }));
    }
    await expectPkiError(verifyIssuedBy(ca.certPem, undefined as any));
  });

  it('reads the first certificate of a bundle', () => {
    expect(certificateInfo(`junk\n${ca.certPem}${otherCa.certPem}`).commonName).toBe(
      'axle-test-ca',
    );
  });
});

describe('renewalDue', () => {
  const notBefore = new Date('2030-01-01T00:00:00Z');
  const info = {
    commonName: 'c',
    serial: '01',
    notBefore,
    notAfter: new Date(notBefore.getTime() + 3 * HOUR),
    issuerCommonName: 'ca',
    isCa: false,
  };

  it('turns true once two thirds of the lifetime have passed', () => {
    const at = (ms: number) => new Date(notBefore.getTime() + ms);
    expect(renewalDue(info, at(0))).toBe(false);
    expect(renewalDue(info, at(2 * HOUR - 1))).toBe(false);
    expect(renewalDue(info, at(2 * HOUR))).toBe(true);
    expect(renewalDue(info, at(4 * HOUR))).toBe(true);
    expect(renewalDue({ ...info, notAfter: notBefore }, at(0))).toBe(true);
  });

  it('works on an issued certificate with the default clock', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'cluster-a' });
    const issued = await signClientCertificate(ca, csrPem, {
      commonName: 'cluster-a',
      validHours: 1,
    });
    const real = certificateInfo(issued.certPem);
    expect(renewalDue(real)).toBe(false);
    const lifetime = real.notAfter.getTime() - real.notBefore.getTime();
    expect(renewalDue(real, new Date(real.notBefore.getTime() + lifetime * 0.66))).toBe(false);
    expect(renewalDue(real, new Date(real.notBefore.getTime() + lifetime * 0.67))).toBe(true);
  });
});

describe('generateKeyPair', () => {
  it('returns a matching PKCS#8 / SPKI pair', async () => {
    const pair = await generateKeyPair();
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPublicKey(pair.privateKeyPem).export({ type: 'spki', format: 'pem' })).toBe(
      pair.publicKeyPem,
    );
  });
});
