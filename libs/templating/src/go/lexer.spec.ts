import { describe, expect, it } from 'vitest';
import { Lexer, T, itemString, type Item } from './lexer.js';

function lexAll(input: string): Item[] {
  const l = new Lexer('test', input);
  const items: Item[] = [];
  for (;;) {
    const it = l.nextItem();
    items.push(it);
    if (it.typ === T.EOF || it.typ === T.Error) return items;
  }
}

const show = (items: Item[]): string[] => items.map(itemString);

describe('lexer', () => {
  it('lexes text and actions', () => {
    expect(show(lexAll('hello {{.x | printf "%d" 1}} bye'))).toEqual([
      '"hello "',
      '"{{"',
      '".x"',
      '" "',
      '"|"',
      '" "',
      '"printf"',
      '" "',
      '"\\"%d\\""',
      '" "',
      '"1"',
      '"}}"',
      '" bye"',
      'EOF',
    ]);
  });

  it('recognises keywords, variables, char constants and numbers', () => {
    const items = lexAll("{{range $i, $v := .}}{{'a'}}{{0x1F 1e3 -2 3.5 1+2i}}{{end}}");
    const types = items.map((i) => i.typ);
    expect(types).toContain(T.Range);
    expect(types).toContain(T.Declare);
    expect(types).toContain(T.CharConstant);
    expect(types).toContain(T.Complex);
    expect(items.filter((i) => i.typ === T.Number).map((i) => i.val)).toEqual([
      '0x1F',
      '1e3',
      '-2',
      '3.5',
    ]);
    expect(items.filter((i) => i.typ === T.Variable).map((i) => i.val)).toEqual(['$i', '$v']);
  });

  it('trims whitespace around {{- and -}}', () => {
    const items = lexAll('a  \n {{- 3 -}} \n b');
    expect(items.filter((i) => i.typ === T.Text).map((i) => i.val)).toEqual(['a', 'b']);
  });

  it('treats a "-" without space as part of a number', () => {
    const items = lexAll('{{-3}}');
    expect(items.find((i) => i.typ === T.Number)?.val).toBe('-3');
  });

  it('skips comments and tracks lines', () => {
    const items = lexAll('x{{/* a\nb */}}\n{{.y}}');
    expect(items.some((i) => i.typ === T.Comment)).toBe(false);
    expect(items.find((i) => i.typ === T.Field)?.line).toBe(3);
  });

  it('reports lexical errors', () => {
    expect(lexAll('{{"abc').pop()?.val).toBe('unterminated quoted string');
    expect(lexAll('{{/* x').pop()?.val).toBe('unclosed comment');
    expect(lexAll('{{3k}}').pop()?.val).toBe('bad number syntax: "3k"');
    expect(lexAll('{{.x').pop()?.val).toBe('unclosed action');
    expect(lexAll('{{\u00a0}}').pop()?.val).toBe('unrecognized character in action: U+00A0');
    expect(lexAll('{{#}}').find((i) => i.typ === T.Char)?.val).toBe('#');
  });
});
