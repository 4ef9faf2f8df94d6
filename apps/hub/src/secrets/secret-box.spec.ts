import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  const box = SecretBox.fromKey(randomBytes(32).toString('base64'));

  it('round-trips and never repeats a ciphertext', () => {
    const a = box.seal('hunter2');
    const b = box.seal('hunter2');
    expect(a).not.toBe(b);
    expect(a).not.toContain('hunter2');
    expect(box.open(a)).toBe('hunter2');
  });

  it('refuses tampered data and the wrong key', () => {
    const sealed = box.seal('secret');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => box.open(`v1:${raw.toString('base64')}`)).toThrow();
    expect(() => SecretBox.fromKey(randomBytes(32).toString('base64')).open(sealed)).toThrow();
    expect(() => SecretBox.fromKey('c2hvcnQ=')).toThrow('32 bytes');
  });
});
