import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { readCookie, writeSessionCookie } from './cookies.js';

const req = (headers: Record<string, string>, secure = false) =>
  ({ headers, secure }) as unknown as Request;

function res() {
  const headers: Record<string, string> = {};
  return {
    headers,
    res: { setHeader: (k: string, v: string) => (headers[k] = v) } as unknown as Response,
  };
}

describe('session cookie', () => {
  it('reads one cookie among several, decoded', () => {
    const r = req({ cookie: 'a=1; axle_session=axle_session_x%2By; b=2' });
    expect(readCookie(r, 'axle_session')).toBe('axle_session_x+y');
    expect(readCookie(r, 'missing')).toBeUndefined();
    expect(readCookie(req({}), 'axle_session')).toBeUndefined();
    expect(readCookie(req({ cookie: 'axle_session=%E0%A4%A' }), 'axle_session')).toBeUndefined();
  });

  it('is HttpOnly and SameSite=Strict, Secure behind TLS, cleared with Max-Age=0', () => {
    const plain = res();
    writeSessionCookie(req({}), plain.res, 'v', 3600.7);
    expect(plain.headers['Set-Cookie']).toBe(
      'axle_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600',
    );
    const tls = res();
    writeSessionCookie(req({ 'x-forwarded-proto': 'https' }), tls.res, '', -5);
    expect(tls.headers['Set-Cookie']).toBe(
      'axle_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure',
    );
  });
});
