import { createHash, randomBytes } from 'node:crypto';

/** A new secret token with a recognisable prefix (so secret scanners can spot leaks). */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex')}`;
}
