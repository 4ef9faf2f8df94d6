import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from './unified.js';

/** GNU diff -u of the same texts, without its two header lines. */
function gnuDiff(a: string, b: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'axle-udiff-'));
  try {
    writeFileSync(join(dir, 'a'), a);
    writeFileSync(join(dir, 'b'), b);
    try {
      execFileSync('diff', ['-u', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
      return '';
    } catch (e) {
      return (e as { stdout: string }).stdout.split('\n').slice(2).join('\n');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Applies a unified diff to `a` (hunks in order), as patch(1) would. */
function applyPatch(a: string, patch: string): string {
  const lines = a === '' ? [] : a.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let at = 0;
  for (const hunk of patch.split(/^@@ /m).slice(1)) {
    const [head, ...body] = hunk.replace(/\n$/, '').split('\n');
    const start = Number(/^-(\d+)/.exec(head)![1]);
    const from = body.some((l) => l[0] !== '+') ? start - 1 : start;
    while (at < from) out.push(lines[at++]);
    for (const l of body) {
      if (l[0] === ' ') out.push(lines[at++]);
      else if (l[0] === '-') at++;
      else out.push(l.slice(1));
    }
  }
  while (at < lines.length) out.push(lines[at++]);
  return out.length ? out.join('\n') + '\n' : '';
}

const names = { oldName: 'live/x', newName: 'desired/x' };

describe('unifiedDiff', () => {
  it('prints what GNU diff -u prints for plain edits', () => {
    const a = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const b = a
      .replace('line 3\n', 'line three\n')
      .replace('line 20\n', '')
      .replace('line 29\n', 'line 29\nline 30\n');
    const ours = unifiedDiff(a, b, names);
    expect(ours.split('\n').slice(0, 2)).toEqual(['--- live/x', '+++ desired/x']);
    expect(ours.split('\n').slice(2).join('\n')).toBe(gnuDiff(a, b));
    expect(unifiedDiff(a, a, names)).toBe('');
  });

  it('handles creation and deletion of a whole text (kubectl diff of a new or pruned object)', () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n';
    expect(unifiedDiff('', yaml, names).split('\n').slice(2).join('\n')).toBe(gnuDiff('', yaml));
    expect(unifiedDiff(yaml, '', names).split('\n').slice(2).join('\n')).toBe(gnuDiff(yaml, ''));
  });

  it('always produces a patch that turns the old text into the new one', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 200; n++) {
      const a = Array.from({ length: Math.floor(rnd() * 40) }, () => `v${Math.floor(rnd() * 6)}`);
      const b = a.flatMap((l) =>
        rnd() < 0.2 ? [] : rnd() < 0.2 ? [l, `n${Math.floor(rnd() * 6)}`] : [l],
      );
      const ta = a.length ? a.join('\n') + '\n' : '';
      const tb = b.length ? b.join('\n') + '\n' : '';
      expect(applyPatch(ta, unifiedDiff(ta, tb, names))).toBe(tb);
      // Too large for the line matching: still a correct patch.
      expect(applyPatch(ta, unifiedDiff(ta, tb, { ...names, maxCells: 10 }))).toBe(tb);
    }
  });
});
