import { describe, expect, it } from 'vitest';
import { TemplateError } from '../errors.js';
import { parseGoTemplate } from '../index.js';
import { nodeString } from './nodes.js';

const parse = (text: string, name = 't') => parseGoTemplate(text, name);

describe('parser', () => {
  it('round-trips the tree through node.String()', () => {
    const src =
      '{{if $x := .a}}{{$x.b | printf "%s" 1}}{{else if not .c}}no{{else}}{{range $i, $v := .l}}{{$i}}{{break}}{{end}}{{end}}';
    const t = parse(src);
    expect(nodeString(t.trees.get('t')!.root!)).toBe(
      '{{if $x := .a}}{{$x.b | printf "%s" 1}}{{else}}{{if not .c}}no{{else}}{{range $i, $v := .l}}{{$i}}{{break}}{{end}}{{end}}{{end}}',
    );
  });

  it('collects define and block templates in the tree set', () => {
    const t = parse('{{define "a"}}A{{end}}{{block "b" .}}B{{end}}main');
    expect([...t.trees.keys()].sort()).toEqual(['a', 'b', 't']);
    expect(nodeString(t.trees.get('t')!.root!)).toBe('{{template "b" .}}main');
  });

  it('precomputes constants', () => {
    const t = parse('{{1}}{{1.0}}{{0x10}}');
    const nodes = t.trees.get('t')!.root!.nodes;
    expect(nodes.map(nodeString)).toEqual(['{{1}}', '{{1.0}}', '{{0x10}}']);
  });

  it('reports errors with template name and line, and a position', () => {
    let err: TemplateError | undefined;
    try {
      parse('line one\nline two {{ .x }', 'appset');
    } catch (e) {
      err = e as TemplateError;
    }
    expect(err).toBeInstanceOf(TemplateError);
    expect(err?.message).toBe('template: appset:2: unexpected "}" in operand');
    expect(err?.kind).toBe('parse');
    expect(err?.templateName).toBe('appset');
    expect(err?.position?.line).toBe(2);
  });

  it('checks function names and variables at parse time', () => {
    expect(() => parse('{{nosuchfunc}}')).toThrow('function "nosuchfunc" not defined');
    expect(() => parse('{{$nope}}')).toThrow('undefined variable "$nope"');
    expect(() => parse('{{env "HOME"}}')).toThrow('function "env" not defined');
  });

  it('rejects deeply nested parentheses without overflowing', () => {
    const deep = '{{' + '('.repeat(20000) + '1' + ')'.repeat(20000) + '}}';
    expect(() => parse(deep)).toThrow(TemplateError);
  });
});
