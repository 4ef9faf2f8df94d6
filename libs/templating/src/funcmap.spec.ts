import { describe, expect, it } from 'vitest';
import { argoFuncs } from './funcmap.js';
import { IMPURE_FUNCTIONS, impureCalls, renderGoTemplate } from './index.js';

/** How many impure calls rendering `text` made. */
function impureIn(text: string, data: Record<string, unknown> = {}): number {
  const before = impureCalls();
  renderGoTemplate(text, data);
  return impureCalls() - before;
}

describe('impureCalls', () => {
  it('counts calls of the clock, chance and maps changed in place', () => {
    expect(impureIn('{{ now | date "2006" }}')).toBe(2);
    expect(impureIn('{{ randAlphaNum 3 }}{{ uuidv4 }}')).toBe(2);
    expect(impureIn('{{ $_ := set .m "k" "v" }}', { m: {} })).toBe(1);
    expect(impureIn('{{ merge .m (dict "a" 1) }}', { m: {} })).toBe(1);
    expect(impureIn('{{ mustMergeOverwrite .m (dict "a" 1) }}', { m: {} })).toBe(1);
    expect(impureIn('{{ $_ := unset .m "a" }}', { m: { a: 1 } })).toBe(1);
    // Through tpl, from a template that comes with the data.
    expect(impureIn('{{ tpl .t . }}', { t: '{{ now }}' })).toBe(1);
  });

  it('counts no pure call, nor a call that is never made', () => {
    expect(impureIn('{{ upper .a }}-{{ .b | default "x" | quote }}', { a: 'a' })).toBe(0);
    expect(impureIn('{{ $d := dict "a" 1 }}{{ get $d "a" }}{{ toJson . }}', { x: 1 })).toBe(0);
    expect(impureIn('{{ if false }}{{ now }}{{ end }}')).toBe(0);
  });

  it('counts every impure function', () => {
    for (const name of IMPURE_FUNCTIONS) {
      const f = argoFuncs.get(name)!;
      const before = impureCalls();
      try {
        f.fn.call(undefined as never);
      } catch {
        // (called without its arguments: counted all the same)
      }
      expect(impureCalls() - before, name).toBe(1);
    }
  });
});
