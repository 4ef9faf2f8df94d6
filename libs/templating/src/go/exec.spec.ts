import { describe, expect, it } from 'vitest';
import { TemplateError } from '../errors.js';
import { executeGoTemplate, parseGoTemplate, renderGoTemplate } from '../index.js';

function errorOf(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw new Error(`expected a TemplateError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected an error');
}

describe('execution', () => {
  it('parses once and executes many times', () => {
    const t = parseGoTemplate('{{.name | upper}}-{{len .items}}', 'app');
    expect(executeGoTemplate(t, { name: 'a', items: [1, 2] })).toBe('A-2');
    expect(executeGoTemplate(t, { name: 'b', items: [] })).toBe('B-0');
  });

  it('reports exec errors like Go, with a position', () => {
    const err = errorOf(() =>
      renderGoTemplate(
        'ok\n  {{ .spec.name }}',
        { spec: {} },
        { name: 'appset', missingKey: 'error' },
      ),
    );
    expect(err.message).toBe(
      'template: appset:2:10: executing "appset" at <.spec.name>: map has no entry for key "name"',
    );
    expect(err.kind).toBe('exec');
    expect(err.position).toEqual({ line: 2, col: 10 });
  });

  it('reports the executing template inside {{template}} calls', () => {
    const err = errorOf(() =>
      renderGoTemplate(
        '{{define "inner"}}{{.x.y}}{{end}}{{template "inner" .}}',
        { x: 'str' },
        { name: 'outer' },
      ),
    );
    expect(err.message).toBe(
      'template: outer:1:22: executing "inner" at <.x.y>: can\'t evaluate field y in type interface {}',
    );
  });

  it('distinguishes nil, missing and zero values', () => {
    expect(
      renderGoTemplate('{{.a}}|{{print .a}}|{{.missing}}|{{print .missing}}', { a: null }),
    ).toBe('<no value>|<nil>|<no value>|<nil>');
    expect(renderGoTemplate('{{.missing}}', {}, { missingKey: 'zero' })).toBe('<no value>');
  });

  it('treats integral JS numbers as int and others as float64', () => {
    expect(renderGoTemplate('{{printf "%d %v %T %T" .i .f .i .f}}', { i: 3, f: 1.5 })).toBe(
      '3 1.5 int float64',
    );
    expect(renderGoTemplate('{{eq .i 3}} {{lt .f 2.0}}', { i: 3, f: 1.5 })).toBe('true true');
    expect(renderGoTemplate('{{.big}}', { big: 1e21 })).toBe('1e+21');
  });

  it('never throws plain JS errors for odd data', () => {
    const data = {
      fn: () => 1,
      date: new Date(0),
      arr: [undefined, Symbol('s'), 1n],
      nested: Object.create(null) as object,
      bytes: new Uint8Array([104, 105]),
    };
    const templates = [
      '{{.fn}}',
      '{{.date}}',
      '{{.arr}}',
      '{{printf "%v %d %s" .arr .arr .arr}}',
      '{{toJson .}}',
      '{{toYaml .arr}}',
      '{{len .bytes}}{{printf "%s" .bytes}}',
      '{{range .nested}}x{{end}}',
      '{{index .arr 2}}',
      '{{upper .fn}}',
    ];
    for (const tpl of templates) {
      try {
        renderGoTemplate(tpl, data);
      } catch (e) {
        expect(e, tpl).toBeInstanceOf(TemplateError);
      }
    }
  });
});

describe('limits', () => {
  it('refuses runaway loops', () => {
    const err = errorOf(() =>
      renderGoTemplate('{{range 100000000}}{{end}}', {}, { limits: { maxSteps: 10_000 } }),
    );
    expect(err.kind).toBe('limit');
    expect(err.message).toContain('step limit exceeded (10000 steps)');
    expect(errorOf(() => renderGoTemplate('{{range until 100000000}}{{end}}', {})).kind).toBe(
      'limit',
    );
    expect(errorOf(() => renderGoTemplate('{{range $i := seq 100000000}}{{end}}', {})).kind).toBe(
      'limit',
    );
  });

  it('refuses huge outputs before allocating them', () => {
    expect(errorOf(() => renderGoTemplate('{{repeat 1000000000 "x"}}', {})).message).toContain(
      'output limit exceeded',
    );
    expect(
      errorOf(() => renderGoTemplate('{{range 2000}}{{repeat 1000 "x"}}{{end}}', {})).kind,
    ).toBe('limit');
    const doubling =
      '{{$s := "xxxxxxxxxx"}}{{range 40}}{{$s = printf "%s%s" $s $s}}{{end}}{{len $s}}';
    expect(errorOf(() => renderGoTemplate(doubling, {})).kind).toBe('limit');
    expect(errorOf(() => renderGoTemplate('{{indent 100000000 "x"}}', {})).kind).toBe('limit');
    expect(errorOf(() => renderGoTemplate('{{randAlpha 100000000}}', {})).kind).toBe('limit');
  });

  it('refuses deep template recursion', () => {
    const tpl = '{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}';
    const err = errorOf(() => renderGoTemplate(tpl, {}, { limits: { maxDepth: 50 } }));
    expect(err.kind).toBe('limit');
    expect(err.message).toContain('exceeded maximum template depth (50)');
  });

  it('refuses self-recursive tpl (which overflows the stack in Go)', () => {
    const err = errorOf(() => renderGoTemplate('{{ tpl .t . }}', { t: '{{ tpl .t . }}' }));
    expect(err.kind).toBe('limit');
    expect(err.message).toContain('exceeded maximum template depth (100)');
  });

  it('refuses exponential recursion through steps', () => {
    const tpl = '{{define "r"}}{{template "r" .}}{{template "r" .}}{{end}}{{template "r" .}}';
    expect(errorOf(() => renderGoTemplate(tpl, {})).kind).toBe('limit');
  });

  it('refuses a value that shares its parts until writing it out would never end', () => {
    const doubled = '{{$l := list 1}}{{range until 40}}{{$l = list $l $l}}{{end}}{{$l}}';
    const err = errorOf(() => renderGoTemplate(doubled, {}));
    expect(err.kind).toBe('limit');
    expect(err.message).toContain('value limit exceeded');
    const cyclic = '{{$d := dict}}{{$_ := set $d "self" $d}}{{toJson $d}}';
    expect(errorOf(() => renderGoTemplate(cyclic, {})).kind).toBe('limit');
  });

  it('counts the elements of the lists functions are given as steps', () => {
    const many = '{{$l := until 500000}}{{range until 300}}{{if has 7 $l}}{{end}}{{end}}';
    expect(errorOf(() => renderGoTemplate(many, {})).message).toContain('step limit exceeded');
    // uniq of a long list of strings is linear.
    const t = Date.now();
    expect(renderGoTemplate('{{len (uniq (splitList "," (repeat 40000 "a,") ))}}', {})).toBe('2');
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it('counts measuring a value a function returns as steps (a map grown by set in a loop)', () => {
    // Each `set` returns the map, measured again: 20,000 of them walked 200 million values, about
    // 20 s on the event loop, with every step, output and value limit met.
    const grow = '{{$d := dict}}{{range until 20000}}{{$_ := set $d (toString .) "x"}}{{end}}';
    expect(errorOf(() => renderGoTemplate(grow, {})).message).toContain('step limit exceeded');
    // A map of a few hundred keys built that way is fine, and the error of a later call still
    // names that call.
    const small = '{{$d := dict}}{{range until 300}}{{$_ := set $d (toString .) "x"}}{{end}}';
    expect(renderGoTemplate(`${small}{{len $d}}`, {})).toBe('300');
    // What a function just made costs nothing more to measure: loops over `until` cost what
    // they did.
    expect(renderGoTemplate('{{range until 900}}{{range until 900}}{{end}}{{end}}ok', {})).toBe(
      'ok',
    );
    // What existed before does: a large list handed back by `default` in a loop.
    const again = '{{$l := until 500000}}{{range until 300000}}{{$x := default $l}}{{end}}';
    expect(errorOf(() => renderGoTemplate(again, {})).message).toContain('step limit exceeded');
    expect(errorOf(() => renderGoTemplate(`${small}{{len 3}}`, {})).message).toContain(
      'at <len 3>',
    );
  });

  it('allows normal templates under the default limits', () => {
    expect(renderGoTemplate('{{range until 1000}}{{.}}{{end}}', {}).length).toBe(2890);
  });
});
