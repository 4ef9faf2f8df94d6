import { describe, expect, it } from 'vitest';
import { PartialWriteError, inKeyOrder, jsonParam, storableText, writeIsolating } from './sql.js';

const dataError = (message: string) => Object.assign(new Error(message), { code: '22P05' });

describe('jsonParam', () => {
  it('is JSON.stringify for what PostgreSQL stores as it is', () => {
    const v = { a: 'plain', b: ['emoji 🚀', 'back\\slash', 'quote"'], n: 1 };
    expect(jsonParam(v)).toBe(JSON.stringify(v));
  });

  it('replaces NUL and UTF-16 halves without their other half, which jsonb refuses', () => {
    const v = { m: 'a\u0000b', hi: 'x\ud83d', lo: '\ude80y', ok: '\ud83d\ude80' };
    expect(JSON.parse(jsonParam(v))).toEqual({
      m: 'a\ufffdb',
      hi: 'x\ufffd',
      lo: '\ufffdy',
      ok: '🚀',
    });
    expect(storableText('\u0000\u0000')).toBe('\ufffd\ufffd');
  });
});

describe('writeIsolating', () => {
  it('leaves out only the rows refused for their data, writing every other', async () => {
    const written: number[] = [];
    const rows = Array.from({ length: 100 }, (_, i) => i);
    const bad = new Set([7, 63]);
    const refused = await writeIsolating(rows, (part) => {
      if (part.some((r) => bad.has(r))) return Promise.reject(dataError('bad'));
      written.push(...part);
      return Promise.resolve();
    });
    expect(refused.sort((a, b) => a - b)).toEqual([7, 63]);
    expect(written.sort((a, b) => a - b)).toEqual(rows.filter((r) => !bad.has(r)));
  });

  it('stops at any other error, naming exactly the rows not written', async () => {
    const written: number[] = [];
    let calls = 0;
    const rows = Array.from({ length: 8 }, (_, i) => i);
    const err = await writeIsolating(rows, (part) => {
      calls++;
      if (calls === 1) return Promise.reject(dataError('bad')); // 0..7 refused as a whole: split
      if (calls === 3) return Promise.reject(new Error('connection terminated'));
      written.push(...part);
      return Promise.resolve();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(written).toEqual([0, 1, 2, 3]);
    expect((err as PartialWriteError<number>).remaining).toEqual([4, 5, 6, 7]);
  });
});

describe('inKeyOrder', () => {
  const byAThenC = <T extends { a: string; c: string }>(rows: T[]) =>
    inKeyOrder(
      rows,
      (r) => r.a,
      (r) => r.c,
    );

  it('sorts by each key in turn, as PostgreSQL sorts lower-case uuids', () => {
    const rows = [
      { a: 'f0000000-0000-0000-0000-000000000000', c: '2' },
      { a: '0a000000-0000-0000-0000-000000000000', c: '9' },
      { a: 'f0000000-0000-0000-0000-000000000000', c: '1' },
      { a: '0a000000-0000-0000-0000-000000000000', c: '0' },
    ];
    const sorted = byAThenC(rows);
    expect(sorted.map((r) => `${r.a[0]}${r.a[1]}/${r.c}`)).toEqual([
      '0a/0',
      '0a/9',
      'f0/1',
      'f0/2',
    ]);
    expect(rows[0].c).toBe('2'); // a sorted copy
  });

  it('compares the first keys whole before the next ones (a key that begins another is first)', () => {
    const rows = [
      { a: 'ab', c: '0' },
      { a: 'a', c: 'z' },
      { a: 'a', c: 'b' },
    ];
    const sorted = byAThenC(rows);
    expect(sorted.map((r) => `${r.a}/${r.c}`)).toEqual(['a/b', 'a/z', 'ab/0']);
  });
});
