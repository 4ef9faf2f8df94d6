import { describe, expect, it } from 'vitest';
import { ManifestError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import { parseManifests } from './parse.js';

const cm = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  a: "1"\n`;

describe('parseManifests', () => {
  it('parses several documents and skips empty ones', () => {
    const objs = parseManifests(`${cm('a')}---\n---\n# only a comment\n---\n${cm('b')}`, 'x.yaml');
    expect(objs.map((o) => o.metadata.name)).toEqual(['a', 'b']);
  });

  it('parses JSON and flattens a List', () => {
    const list = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        JSON.parse(
          JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'j' } }),
        ),
      ],
    });
    expect(parseManifests(list, 'l.json').map((o) => o.metadata.name)).toEqual(['j']);
  });

  it('names the file and line of broken YAML', () => {
    const text = `${cm('ok')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n data: [\n`;
    expect(() => parseManifests(text, 'apps/broken.yaml')).toThrowError(
      /^apps\/broken\.yaml:\d+: invalid YAML/,
    );
    try {
      parseManifests(text, 'apps/broken.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(ManifestError);
      expect((e as ManifestError).line).toBeGreaterThanOrEqual(8);
    }
  });

  it('takes the last value of a repeated key, as kubectl does, and says so', () => {
    const warnings: string[] = [];
    const objs = parseManifests(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: "1"\n  b: "2"\n  a: "3"\n',
      'd.yaml',
      DEFAULT_LIMITS,
      (w) => warnings.push(w),
    );
    expect(objs[0].data).toEqual({ a: '3', b: '2' });
    expect(warnings).toEqual(['d.yaml:7: mapping key "a" is repeated; its last value is used']);
  });

  it('refuses missing kind, missing name, lists at top level', () => {
    expect(() => parseManifests('apiVersion: v1\nmetadata: {name: x}\n', 'k.yaml')).toThrow(
      'k.yaml:1: kind is missing',
    );
    expect(() =>
      parseManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n', 'n.yaml'),
    ).toThrow(/metadata\.name is missing on ConfigMap/);
    expect(() => parseManifests('- a\n- b\n', 'l.yaml')).toThrow(/not a list/);
    expect(() => parseManifests('just a string', 's.yaml')).toThrow(/must be a Kubernetes object/);
  });

  it('refuses a YAML bomb (alias expansion)', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: bomb}',
    ].join('\n');
    expect(() => parseManifests(bomb, 'bomb.yaml')).toThrow(
      /bomb\.yaml:\d+: invalid YAML: .*alias/i,
    );
  });

  it('refuses oversized files and deep nesting', () => {
    expect(() =>
      parseManifests('x'.repeat(100), 'big.yaml', { ...DEFAULT_LIMITS, maxFileBytes: 10 }),
    ).toThrow('big.yaml: file is larger than 10 bytes');
    const deep = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: ${'['.repeat(80)}${']'.repeat(80)}\n`;
    expect(() => parseManifests(deep, 'deep.yaml')).toThrow(/nesting deeper than 64/);
  });
});
