/** Sprig functions whose results are not deterministic (the rest is covered by the conformance suite). */
import { describe, expect, it } from 'vitest';
import { TemplateError } from '../errors.js';
import { renderGoTemplate } from '../index.js';

const r = (tpl: string, data: unknown = {}): string => renderGoTemplate(tpl, data);

describe('non-deterministic sprig functions', () => {
  it('now / date / ago', () => {
    const year = new Date().getUTCFullYear();
    expect(r('{{now.Year}}')).toBe(String(year));
    expect(r('{{now | date "2006"}}')).toBe(String(year));
    expect(r('{{typeOf now}} {{kindOf now}}')).toBe('time.Time struct');
    expect(r('{{ago now}}')).toBe('0s');
    expect(r('{{(now | unixEpoch | atoi) | lt 1700000000}}')).toBe('true');
    expect(r('{{dateModify "-24h" now | date "2006"}}')).toMatch(/^\d{4}$/);
    expect(r('{{now}}')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
  });

  it('random strings', () => {
    expect(r('{{randAlphaNum 20}}')).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(r('{{randAlpha 20}}')).toMatch(/^[A-Za-z]{20}$/);
    expect(r('{{randNumeric 20}}')).toMatch(/^\d{20}$/);
    expect(r('{{randAscii 20}}')).toMatch(/^[\x20-\x7e]{20}$/);
    expect(r('{{randBytes 12 | len}}')).toBe('16');
    const n = Number(r('{{randInt 5 10}}'));
    expect(n).toBeGreaterThanOrEqual(5);
    expect(n).toBeLessThan(10);
    expect(r('{{uuidv4}}')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect([...r('{{shuffle "abcdef"}}')].sort().join('')).toBe('abcdef');
  });

  it('crypto helpers', () => {
    expect(r('{{encryptAES "secret" "hello" | decryptAES "secret"}}')).toBe('hello');
    expect(r('{{genPrivateKey "ecdsa"}}')).toContain('-----BEGIN EC PRIVATE KEY-----');
    expect(r('{{genPrivateKey "ed25519"}}')).toContain('-----BEGIN PRIVATE KEY-----');
    expect(() => r('{{bcrypt "x"}}')).toThrow(TemplateError);
    expect(() => r('{{genCA "x" 365}}')).toThrow('genCA is not supported');
  });

  it('stops at a deadline, whatever its steps cost', () => {
    const t0 = performance.now();
    expect(() =>
      renderGoTemplate(
        '{{range until 900}}{{range until 900}}{{end}}{{end}}',
        {},
        {
          limits: { deadline: performance.now() + 20 },
        },
      ),
    ).toThrow(/time limit exceeded/);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(() =>
      renderGoTemplate('{{genPrivateKey "ed25519"}}', {}, { limits: { deadline: 0 } }),
    ).toThrow(/time limit exceeded/);
  });

  it('keys count their cost as steps: a template cannot generate them without bound', () => {
    const keys = (typ: string, maxSteps: number) => () =>
      renderGoTemplate(
        `{{range until 100}}{{genPrivateKey "${typ}"}}{{end}}`,
        {},
        {
          limits: { maxSteps },
        },
      );
    // A 4096-bit RSA key costs about a second: refused before the first one is generated.
    const started = performance.now();
    expect(keys('rsa', 200_000)).toThrow(/step limit exceeded \(200000 steps\)/);
    expect(performance.now() - started).toBeLessThan(500);
    expect(keys('ed25519', 10_000)).toThrow(/step limit exceeded/);
    expect(keys('ed25519', 1_000_000)().split('-----BEGIN PRIVATE KEY-----')).toHaveLength(101);
  });
});
