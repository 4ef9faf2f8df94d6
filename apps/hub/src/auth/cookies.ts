import type { Request, Response } from 'express';

export const SESSION_COOKIE = 'axle_session';
/** Header the web console sends with every request; a cookie alone never changes anything. */
export const CONSOLE_HEADER = 'x-axle-console';

/** The value of one cookie of a request (RFC 6265 `name=value; …`), undefined when absent. */
export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined; // malformed: as if absent (401, not 500)
    }
  }
  return undefined;
}

/** Sets (maxAgeSeconds > 0) or clears the session cookie: HttpOnly, SameSite=Strict, path /. */
export function writeSessionCookie(
  req: Request,
  res: Response,
  value: string,
  maxAgeSeconds: number,
): void {
  const attrs = [
    `${SESSION_COOKIE}=${encodeURIComponent(value)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
  ];
  // Secure when the hub is reached over TLS (directly or through a proxy that says so).
  if (req.secure || req.headers['x-forwarded-proto'] === 'https') attrs.push('Secure');
  res.setHeader('Set-Cookie', attrs.join('; '));
}
