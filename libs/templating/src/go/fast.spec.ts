import { describe, expect, it } from 'vitest';
import { argoFuncs } from '../funcmap.js';
import { TemplateError } from '../errors.js';
import { parseGoTemplate } from '../index.js';
import { GoTime, UTC } from '../sprig/time.js';
import { defaultLimits, execute, executeFull, ParsedTemplate, type MissingKey } from './exec.js';
import { compileFast, runFast } from './fast.js';
import type { GoFunc } from './funcs.js';
import { parseTemplate } from './parser.js';
import { GoNum, typedMap } from './values.js';

function outcome(fn: () => string): { out: string } | { error: string; kind: string } {
  try {
    return { out: fn() };
  } catch (e) {
    if (e instanceof TemplateError) return { error: e.message, kind: e.kind };
    throw e;
  }
}

const TEMPLATES = [
  '{{.name}}',
  'plain text, no action',
  '{{.name}}-{{.path.basename}}',
  '{{ .path.basename }}-{{ .metadata.labels.env }}',
  '{{- .name -}} x {{- .name }}',
  '{{index .metadata.annotations "fleet.example.com/owner"}}',
  '{{index .nested "a" "b"}}/{{.name}}',
  '{{/* comment */}}{{.name}}',
  '{{.}}',
  '{{.n}}',
  '{{.list}}',
  '{{.metadata}}',
  '{{.nil}}',
  '{{.nil.x}}',
  '{{.missing}}',
  '{{.missing.deeper}}',
  '{{.name.x}}',
  '{{.typed.k}}',
  '{{.time}}',
  '{{.time.Year}}',
  '{{index .metadata.annotations "absent"}}',
  '{{index .typed "absent"}}',
  '{{index .list 0}}',
  '{{.name | upper}}',
  '{{$x := .name}}{{$x}}',
  '{{if .name}}{{.name}}{{end}}',
  '{{template "t" .}}{{define "t"}}{{.name}}{{end}}',
];

const DATA: unknown[] = [
  {
    name: 'cluster-1',
    path: { path: 'apps/a', basename: 'a' },
    metadata: {
      labels: { env: 'prod' },
      annotations: { 'fleet.example.com/owner': 'team-1' },
    },
    nested: { a: { b: 'deep' } },
    n: 3,
    list: ['x', 'y'],
    nil: null,
    typed: typedMap({ k: 'v' }, 'string'),
    time: new GoTime(0, 0, UTC),
  },
  { name: 7, path: { basename: null }, metadata: { labels: {}, annotations: { x: 1 } } },
  { name: new GoNum('int64', 5), path: 'not a map', metadata: null },
  { name: '', path: { basename: '' }, metadata: { labels: { env: '' }, annotations: {} } },
  { name: undefined },
  {},
  null,
  'a string',
  ['a', 'list'],
];

describe('template fast path', () => {
  it('applies only to text and actions printing a field chain or an index lookup', () => {
    const plan = (text: string) => {
      const t = parseGoTemplate(text);
      return compileFast(t.trees.get('')?.root, t.funcs);
    };
    expect(plan('a{{.x.y}}b{{index .m "k" "j"}}')).toEqual({
      parts: ['a', ['x', 'y'], 'b', ['m', 'k', 'j']],
      steps: 2,
    });
    expect(plan('no actions')).toEqual({ parts: ['no actions'], steps: 0 });
    for (const text of [
      '{{.}}',
      '{{.x | upper}}',
      '{{$x := .x}}',
      '{{if .x}}y{{end}}',
      '{{index .m .k}}',
      '{{index .m}}',
      '{{index "s" "k"}}',
      '{{printf "%s" .x}}',
      '{{template "t"}}{{define "t"}}{{end}}',
      '{{.x.Method 1}}',
      '{{(.x).y}}',
      '{{$.x}}',
    ])
      expect(plan(text), text).toBeNull();
  });

  it('gives up on anything but strings found in maps', () => {
    const p = { parts: [['a', 'b']], steps: 1 } as const;
    expect(runFast(p, { a: { b: 'x' } })).toBe('x');
    expect(runFast(p, { a: { b: 1 } })).toBeUndefined();
    expect(runFast(p, { a: { b: null } })).toBeUndefined();
    expect(runFast(p, { a: {} })).toBeUndefined();
    expect(runFast(p, { a: 'b' })).toBeUndefined();
    expect(runFast(p, { a: ['b'] })).toBeUndefined();
    expect(runFast(p, { a: new GoTime(0, 0, UTC) })).toBeUndefined();
    expect(runFast(p, undefined)).toBeUndefined();
    expect(runFast(p, null)).toBeUndefined();
    // own entries only, as Go map lookups
    expect(runFast({ parts: [['toString']], steps: 1 }, {})).toBeUndefined();
  });

  it('prints exactly what the full executor prints, errors included', () => {
    const modes: MissingKey[] = ['default', 'zero', 'error'];
    let fast = 0;
    for (const text of TEMPLATES) {
      const t = parseGoTemplate(text);
      for (const data of DATA) {
        for (const mode of modes) {
          const want = outcome(() => executeFull(t, data, mode, defaultLimits));
          expect(
            outcome(() => execute(t, data, mode, defaultLimits)),
            `${text} ${mode}`,
          ).toEqual(want);
          if (t.fast && runFast(t.fast, data) !== undefined) fast++;
        }
      }
    }
    expect(fast).toBeGreaterThan(20);
  });

  it('leaves the output and step limits to the full executor', () => {
    const t = parseGoTemplate('{{.a}}{{.a}}');
    const data = { a: 'x'.repeat(10) };
    const tight = { ...defaultLimits, maxOutputBytes: 15 };
    expect(runFast(t.fast ?? compileFast(t.trees.get('')?.root, t.funcs)!, data)).toHaveLength(20);
    const err = outcome(() => execute(t, data, 'default', tight));
    expect(err).toEqual(outcome(() => executeFull(t, data, 'default', tight)));
    expect(err).toMatchObject({ kind: 'limit' });
    const steps = { ...defaultLimits, maxSteps: 1 };
    expect(outcome(() => execute(t, data, 'default', steps))).toEqual(
      outcome(() => executeFull(t, data, 'default', steps)),
    );
    expect(outcome(() => execute(t, data, 'default', steps))).toMatchObject({ kind: 'limit' });
  });

  it('does not take the shortcut when index is not the builtin', () => {
    const funcs = new Map<string, GoFunc>(argoFuncs);
    funcs.set('index', {
      name: 'index',
      params: ['value', 'value'],
      variadic: false,
      fn: () => 'mine',
    });
    const text = '{{index .m "k"}}';
    const t = new ParsedTemplate(
      '',
      text,
      parseTemplate('', text, (n) => funcs.has(n)),
      funcs,
    );
    expect(execute(t, { m: { k: 'v' } }, 'default', defaultLimits)).toBe('mine');
    expect(t.fast).toBeNull();
  });
});
