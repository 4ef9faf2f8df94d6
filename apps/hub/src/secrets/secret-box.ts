import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Authenticated encryption (AES-256-GCM) for secrets at rest: repository credentials today.
 * The key comes from AXLE_SECRET_KEY (base64, 32 bytes) or a file; a hub without either makes a
 * key file on first start. Ciphertext format: `v1:` + base64(iv ‖ tag ‖ ciphertext).
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromKey(base64: string): SecretBox {
    const key = Buffer.from(base64.trim(), 'base64');
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes, base64-encoded');
    return new SecretBox(key);
  }

  /** Reads the key file, creating it (0600) with a random key when it does not exist. */
  static fromFile(path: string, create: boolean): { box: SecretBox; created: boolean } {
    if (existsSync(path))
      return { box: SecretBox.fromKey(readFileSync(path, 'utf8')), created: false };
    if (!create) throw new Error(`secret key file ${path} does not exist`);
    mkdirSync(dirname(path), { recursive: true });
    const key = randomBytes(32).toString('base64');
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return { box: SecretBox.fromKey(key), created: true };
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('unknown secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
