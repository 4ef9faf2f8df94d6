// tsyringe (the DI container inside @peculiar/x509) refuses to load without the Reflect metadata
// polyfill, so it has to be evaluated first. ESM evaluates imports in source order.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  createPrivateKey,
  createPublicKey,
  X509Certificate as NodeX509Certificate,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';
import { PkiError } from './errors.js';
import { pemDecode, pemEncode, pemFind } from './pem.js';

export { PkiError } from './errors.js';

export interface KeyPairPem {
  /** PKCS#8, "-----BEGIN PRIVATE KEY-----". */
  privateKeyPem: string;
  /** SubjectPublicKeyInfo, "-----BEGIN PUBLIC KEY-----". */
  publicKeyPem: string;
}

export interface CertificateAuthority {
  certPem: string;
  /** PKCS#8 (SEC1 "EC PRIVATE KEY" is accepted too, for operator-supplied CAs); ECDSA P-256. */
  keyPem: string;
}

export interface CsrInfo {
  commonName: string;
  publicKeyPem: string;
}

export interface CertificateInfo {
  commonName: string;
  /** Lower-case hex, no leading zero byte; the same string `signClientCertificate` returned. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  issuerCommonName: string;
  isCa: boolean;
}

/** A CSR is a few hundred bytes; anything much larger is not one of ours. */
export const MAX_CSR_BYTES = 16 * 1024;
/** Certificates are backdated this much so that a peer whose clock is a little behind accepts them. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

const MAX_CN_LENGTH = 64; // X.520 ub-common-name
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

// The tsconfig has no DOM lib, so WebCrypto types come from Node's `webcrypto` namespace.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type EcKeyAlgorithm = webcrypto.EcKeyAlgorithm;
type EcdsaParams = webcrypto.EcdsaParams;

// Passed explicitly everywhere, so @peculiar/x509's global cryptoProvider is never touched.
const cryptoImpl = webcrypto;
const subtle = cryptoImpl.subtle;
const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const CSR_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'] as const;

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** A fresh ECDSA P-256 key pair as PEM. */
export async function generateKeyPair(): Promise<KeyPairPem> {
  const keys = await newKeys();
  return {
    privateKeyPem: await exportPrivateKey(keys.privateKey),
    publicKeyPem: pemEncode('PUBLIC KEY', await subtle.exportKey('spki', keys.publicKey)),
  };
}

/** A self-signed CA (basicConstraints CA:TRUE, pathlen 0; keyCertSign + cRLSign). */
export async function createCertificateAuthority(opts: {
  commonName: string;
  validDays: number;
}): Promise<CertificateAuthority> {
  const commonName = checkCommonName(opts?.commonName, 'CA common name');
  const validMs = checkDuration(opts.validDays, DAY_MS, 'validDays');
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: subjectName(commonName),
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + validMs),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, cryptoImpl),
      ],
    },
    cryptoImpl,
  );
  return { certPem: certToPem(cert), keyPem: await exportPrivateKey(keys.privateKey) };
}

/**
 * A TLS server certificate (EKU serverAuth) with a fresh key. Every entry of `hosts` becomes a
 * subjectAltName — IPv4/IPv6 literals as iPAddress, everything else as dNSName; the first one is
 * also the subject CN when it fits (64 characters).
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  opts: { hosts: string[]; validDays: number },
): Promise<{ certPem: string; keyPem: string }> {
  const names = checkHosts(opts?.hosts);
  const validMs = checkDuration(opts.validDays, DAY_MS, 'validDays');
  const issuer = await loadCa(ca);
  const keys = await newKeys();
  const first = names[0].value;
  const cert = await issueLeaf(issuer, {
    commonName: first.length <= MAX_CN_LENGTH ? first : 'axle-hub',
    publicKey: keys.publicKey,
    validMs,
    extensions: [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  });
  return { certPem: certToPem(cert), keyPem: await exportPrivateKey(keys.privateKey) };
}

/** Agent side: a fresh key (never leaves the cluster) and a CSR for it with subject CN=`commonName`. */
export async function createKeyAndCsr(opts: {
  commonName: string;
}): Promise<{ keyPem: string; csrPem: string }> {
  const commonName = checkCommonName(opts?.commonName, 'CSR common name');
  const keys = await newKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: subjectName(commonName), keys, signingAlgorithm: SIGNING },
    cryptoImpl,
  );
  return {
    keyPem: await exportPrivateKey(keys.privateKey),
    csrPem: pemEncode('CERTIFICATE REQUEST', csr.rawData),
  };
}

/**
 * Parses a PKCS#10 CSR and checks its self-signature. Only ECDSA P-256 keys signed with SHA-256
 * and exactly one subject CN are accepted; attributes and requested extensions are ignored.
 */
export async function verifyCsr(csrPem: string): Promise<CsrInfo> {
  const { info } = await parseCsr(csrPem);
  return info;
}

/**
 * Hub side of enrollment: a short-lived client certificate for the CSR's key. Only the key is
 * taken from the CSR; subject (CN only), extensions and validity are decided here. notAfter is
 * clamped to the CA's own notAfter.
 */
export async function signClientCertificate(
  ca: CertificateAuthority,
  csrPem: string,
  opts: { commonName: string; validHours: number },
): Promise<{ certPem: string; serial: string; notAfter: Date }> {
  const expected = checkCommonName(opts?.commonName, 'expected common name');
  const validMs = checkDuration(opts.validHours, HOUR_MS, 'validHours');
  const { info, csr } = await parseCsr(csrPem);
  if (info.commonName !== expected) {
    throw new PkiError(
      `CSR common name ${JSON.stringify(info.commonName)} does not match ${JSON.stringify(expected)}`,
    );
  }
  const issuer = await loadCa(ca);
  const cert = await issueLeaf(issuer, {
    commonName: expected,
    publicKey: csr.publicKey,
    validMs,
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  });
  return { certPem: certToPem(cert), serial: cert.serialNumber, notAfter: cert.notAfter };
}

/**
 * Serial and subject CN of a DER certificate presented on a TLS connection, through Node's native
 * parser (microseconds, where the full parse below takes milliseconds: it runs for every agent
 * stream). Undefined when the subject is not a single plain CN, as Axle issues them; callers then
 * use certificateInfo. The serial is formatted like certificateInfo's.
 */
export function presentedIdentity(der: Buffer): { serial: string; commonName: string } | undefined {
  let cert: NodeX509Certificate;
  try {
    cert = new NodeX509Certificate(der);
  } catch {
    return undefined;
  }
  const m = /^CN=([A-Za-z0-9.-]{1,64})$/.exec(cert.subject);
  if (!m) return undefined;
  // OpenSSL prints whole bytes without leading zero bytes; certificates Axle issues have a
  // non-zero first serial byte (randomSerial), so this is exactly the DER serial in hex.
  return { serial: cert.serialNumber.toLowerCase(), commonName: m[1] };
}

/** Reads the first CERTIFICATE block of `certPem` (a leaf followed by its chain is fine). */
export function certificateInfo(certPem: string): CertificateInfo {
  const cert = parseCertificate(certPem, 'certificate');
  return wrap('certificate', () => ({
    commonName: cert.subjectName.getField('CN')[0] ?? '',
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    issuerCommonName: cert.issuerName.getField('CN')[0] ?? '',
    isCa: isCaCert(cert),
  }));
}

/**
 * True when `certPem` names `ca` as its issuer, `ca` is a CA certificate and the signature checks
 * out with the CA's key. Validity dates and revocation are NOT checked here. Unparsable input
 * throws PkiError.
 */
export async function verifyIssuedBy(
  certPem: string,
  ca: CertificateAuthority | { certPem: string },
): Promise<boolean> {
  const cert = parseCertificate(certPem, 'certificate');
  const caCert = parseCertificate(ca?.certPem, 'CA certificate');
  try {
    if (cert.issuer !== caCert.subject || !isCaCert(caCert)) return false;
    return await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true }, cryptoImpl);
  } catch {
    return false; // e.g. an RSA signature checked against an EC key
  }
}

/** True once two thirds of the certificate's lifetime (notBefore → notAfter) have passed. */
export function renewalDue(info: CertificateInfo, now: Date = new Date()): boolean {
  const start = info.notBefore.getTime();
  const lifetime = info.notAfter.getTime() - start;
  if (!(lifetime > 0)) return true;
  return now.getTime() >= start + (lifetime * 2) / 3;
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

interface LoadedCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return pemEncode('PRIVATE KEY', await subtle.exportKey('pkcs8', key));
}

function certToPem(cert: x509.X509Certificate): string {
  return pemEncode('CERTIFICATE', cert.rawData);
}

function subjectName(commonName: string): x509.Name {
  // The JSON form, not the "CN=..." string form: a CN containing "," or "=" must stay one value.
  return new x509.Name([{ CN: [commonName] }]);
}

/** 127 random bits: high bit clear (DER INTEGER stays positive), always 16 bytes long. */
function randomSerial(): string {
  const bytes = cryptoImpl.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  if (bytes[0] === 0) bytes[0] = 0x01;
  return Buffer.from(bytes).toString('hex');
}

async function issueLeaf(
  ca: LoadedCa,
  p: {
    commonName: string;
    publicKey: CryptoKey | x509.PublicKey;
    validMs: number;
    extensions: x509.Extension[];
  },
): Promise<x509.X509Certificate> {
  const now = Date.now();
  const notAfter = Math.min(now + p.validMs, ca.cert.notAfter.getTime());
  const caKeyId = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const authorityKeyId = caKeyId
    ? new x509.AuthorityKeyIdentifierExtension(caKeyId)
    : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false, cryptoImpl);
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: subjectName(p.commonName),
      issuer: ca.cert.subjectName,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(notAfter),
      publicKey: p.publicKey,
      signingKey: ca.key,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ...p.extensions,
        await x509.SubjectKeyIdentifierExtension.create(p.publicKey, false, cryptoImpl),
        authorityKeyId,
      ],
    },
    cryptoImpl,
  );
}

/** Loaded CAs by the PEMs they came from: parsing and importing the key once, not per issue. */
const loadedCas = new Map<string, { at: number; loaded: Promise<LoadedCa> }>();
const LOADED_CA_TTL_MS = 60_000;

async function loadCa(ca: CertificateAuthority): Promise<LoadedCa> {
  if (ca === null || typeof ca !== 'object') {
    throw new PkiError('CA: expected { certPem, keyPem }');
  }
  const id = `${String(ca.certPem)}\u0000${String(ca.keyPem)}`;
  const hit = loadedCas.get(id);
  // Re-checked now and then: the CA's own validity ends some day.
  if (hit && Date.now() - hit.at < LOADED_CA_TTL_MS) return hit.loaded;
  const loaded = loadCaNow(ca);
  loadedCas.set(id, { at: Date.now(), loaded });
  loaded.catch(() => loadedCas.delete(id));
  if (loadedCas.size > 8) loadedCas.delete(loadedCas.keys().next().value!);
  return loaded;
}

async function loadCaNow(ca: CertificateAuthority): Promise<LoadedCa> {
  const cert = parseCertificate(ca.certPem, 'CA certificate');
  if (!wrap('CA certificate', () => isCaCert(cert))) {
    throw new PkiError('CA certificate: not a CA (basicConstraints CA:TRUE missing)');
  }
  const usage = wrap('CA certificate', () => cert.getExtension(x509.KeyUsagesExtension));
  if (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign)) {
    throw new PkiError('CA certificate: keyUsage does not allow keyCertSign');
  }
  if (cert.notAfter.getTime() <= Date.now()) {
    throw new PkiError(`CA certificate expired at ${cert.notAfter.toISOString()}`);
  }
  const { key, spki } = await importSigningKey(ca.keyPem, 'CA key');
  if (!Buffer.from(spki).equals(Buffer.from(cert.publicKey.rawData))) {
    throw new PkiError('CA key does not belong to the CA certificate');
  }
  return { cert, key };
}

async function importSigningKey(
  pem: unknown,
  what: string,
): Promise<{ key: CryptoKey; spki: Uint8Array }> {
  const block = pemFind(pem, ['PRIVATE KEY', 'EC PRIVATE KEY'], what);
  let keyObject: KeyObject;
  try {
    // Node's parser handles both PKCS#8 and SEC1; WebCrypto alone only imports PKCS#8.
    keyObject = createPrivateKey({
      key: Buffer.from(block.der),
      format: 'der',
      type: block.label === 'PRIVATE KEY' ? 'pkcs8' : 'sec1',
    });
  } catch (err) {
    throw new PkiError(`${what}: not a readable private key: ${message(err)}`, {
      cause: err,
    });
  }
  const curve = keyObject.asymmetricKeyDetails?.namedCurve;
  if (keyObject.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new PkiError(
      `${what}: must be an ECDSA P-256 key, got ${keyObject.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`,
    );
  }
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const key = await subtle.importKey('pkcs8', pkcs8, EC_KEY, false, ['sign']);
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  return { key, spki: new Uint8Array(spki) };
}

function parseCertificate(pem: unknown, what: string): x509.X509Certificate {
  const der = pemDecode(pem, ['CERTIFICATE'], what);
  return wrap(what, () => {
    const cert = new x509.X509Certificate(der);
    // Touch the lazily decoded fields so that a malformed certificate fails here, not later.
    void cert.subjectName;
    void cert.issuerName;
    void cert.publicKey;
    return cert;
  });
}

/**
 * CSRs parsed and verified lately, by their PEM: enrollment checks a CSR before spending the
 * bootstrap token and signs it right after, and parsing is the costly part.
 */
const parsedCsrs = new Map<
  string,
  Promise<{ info: CsrInfo; csr: x509.Pkcs10CertificateRequest }>
>();

function parseCsr(csrPem: unknown): Promise<{ info: CsrInfo; csr: x509.Pkcs10CertificateRequest }> {
  if (typeof csrPem !== 'string' || csrPem.length > MAX_CSR_BYTES * 2) return parseCsrNow(csrPem);
  let p = parsedCsrs.get(csrPem);
  if (!p) {
    p = parseCsrNow(csrPem);
    parsedCsrs.set(csrPem, p);
    if (parsedCsrs.size > 64) parsedCsrs.delete(parsedCsrs.keys().next().value!);
    p.catch(() => parsedCsrs.delete(csrPem));
  }
  return p;
}

async function parseCsrNow(
  csrPem: unknown,
): Promise<{ info: CsrInfo; csr: x509.Pkcs10CertificateRequest }> {
  const der = pemDecode(csrPem, CSR_LABELS, 'CSR', MAX_CSR_BYTES);
  const csr = wrap('CSR', () => new x509.Pkcs10CertificateRequest(der));
  const keyAlgorithm = wrap(
    'CSR',
    (): unknown => csr.publicKey.algorithm,
  ) as Partial<EcKeyAlgorithm>;
  if (keyAlgorithm.name !== 'ECDSA' || keyAlgorithm.namedCurve !== 'P-256') {
    throw new PkiError(
      `CSR: key must be ECDSA P-256, got ${keyAlgorithm.name ?? 'unknown'}${keyAlgorithm.namedCurve ? ` ${keyAlgorithm.namedCurve}` : ''}`,
    );
  }
  const signatureAlgorithm = wrap('CSR', () => csr.signatureAlgorithm) as Partial<EcdsaParams>;
  const hash = hashName(signatureAlgorithm.hash);
  if (signatureAlgorithm.name !== 'ECDSA' || hash !== 'SHA-256') {
    throw new PkiError(
      `CSR: signature must be ECDSA with SHA-256, got ${signatureAlgorithm.name ?? 'unknown'}${hash ? ` ${hash}` : ''}`,
    );
  }
  let valid: boolean;
  try {
    valid = await csr.verify(cryptoImpl);
  } catch (err) {
    throw new PkiError(`CSR: signature could not be checked: ${message(err)}`, { cause: err });
  }
  if (!valid) {
    throw new PkiError(
      'CSR: self-signature does not verify (tampered, or signed with another key)',
    );
  }
  const names = wrap('CSR', () => csr.subjectName.getField('CN'));
  if (names.length !== 1) {
    throw new PkiError(`CSR: subject must have exactly one CN, has ${names.length}`);
  }
  const commonName = checkCommonName(names[0], 'CSR common name');
  return {
    info: { commonName, publicKeyPem: pemEncode('PUBLIC KEY', csr.publicKey.rawData) },
    csr,
  };
}

function isCaCert(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

function hashName(hash: unknown): string | undefined {
  if (typeof hash === 'string') return hash;
  if (hash && typeof hash === 'object' && 'name' in hash && typeof hash.name === 'string') {
    return hash.name;
  }
  return undefined;
}

function checkCommonName(cn: unknown, what: string): string {
  if (typeof cn !== 'string' || cn.length === 0) {
    throw new PkiError(`${what}: must be a non-empty string`);
  }
  if (cn.length > MAX_CN_LENGTH) {
    throw new PkiError(`${what}: longer than ${MAX_CN_LENGTH} characters`);
  }
  if (/\p{Cc}/u.test(cn)) {
    throw new PkiError(`${what}: contains control characters`);
  }
  return cn;
}

function checkDuration(value: unknown, unitMs: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new PkiError(`${what}: must be a positive number, got ${String(value)}`);
  }
  const ms = value * unitMs;
  if (ms > 100 * 365 * DAY_MS) {
    throw new PkiError(`${what}: ${value} is more than 100 years`);
  }
  return ms;
}

const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);

function checkHosts(hosts: unknown): x509.JsonGeneralNames {
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new PkiError('hosts: at least one DNS name or IP address is required');
  }
  return hosts.map((host: unknown) => {
    if (typeof host !== 'string') {
      throw new PkiError(`hosts: ${JSON.stringify(host)} is not a string`);
    }
    if (isIP(host)) return { type: 'ip' as const, value: host };
    if (host.length > 253 || !DNS_NAME.test(host)) {
      throw new PkiError(`hosts: ${JSON.stringify(host)} is neither an IP address nor a DNS name`);
    }
    return { type: 'dns' as const, value: host };
  });
}

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError(`${what}: malformed: ${message(err)}`, { cause: err });
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
