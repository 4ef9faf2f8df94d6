import { z } from 'zod';

const urlPrefix = z
  .string()
  .min(8)
  .max(2048)
  .regex(
    /^(https?:\/\/|ssh:\/\/|[\w.-]+@[\w.-]+:)/,
    'must start with http(s)://, ssh:// or user@host:',
  );

export const createCredentialSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('https'),
      urlPrefix,
      username: z.string().min(1).max(255),
      password: z.string().min(1).max(4096),
    })
    .strict(),
  z
    .object({
      type: z.literal('ssh'),
      urlPrefix,
      sshPrivateKey: z
        .string()
        .min(1)
        .max(16 * 1024)
        .regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'must be a PEM/OpenSSH private key'),
      knownHosts: z
        .string()
        .min(1, 'is required: host keys are always verified')
        .max(64 * 1024),
    })
    .strict(),
]);

export type CreateCredential = z.output<typeof createCredentialSchema>;

/** `DELETE /repositories/credentials?urlPrefix=…`: the prefix of the credentials to delete. */
export const deleteCredentialQuery = z.object({ urlPrefix: z.string().min(1).max(2048) }).strict();
