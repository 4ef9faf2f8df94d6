export * from './errors.js';
export {
  CLOCK_SKEW_MS,
  MAX_CSR_BYTES,
  certificateInfo,
  createCertificateAuthority,
  createKeyAndCsr,
  generateKeyPair,
  issueServerCertificate,
  presentedIdentity,
  renewalDue,
  signClientCertificate,
  verifyCsr,
  verifyIssuedBy,
} from './pki.js';
export type { CertificateAuthority, CertificateInfo, CsrInfo, KeyPairPem } from './pki.js';
