/**
 * Conformance suite: every case's expected output or error was produced by running the same input
 * through Go: text/template (Go 1.26) with Masterminds/sprig v3.3.0 and Argo CD's extra functions,
 * Argo's fasttemplate rendering (valyala/fasttemplate) and jeremywohl/flatten for param flattening.
 * See ../../conformance-oracle for the generator. Integral JSON numbers are given to Go templates as
 * `int` and fractional ones as `float64`, matching how this library types JS numbers, except in
 * the `numbers: json` cases, where all are float64 (encoding/json, as Argo CD's parameters).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  flattenParams,
  jsonNumbers,
  renderFastTemplate,
  renderGoTemplate,
  TemplateError,
} from '../index.js';

interface Case {
  name: string;
  /** Absent: Go template. fasttemplate: Argo's default mode. flatten: Argo's param flattening. */
  mode?: 'fasttemplate' | 'flatten';
  /** json: the data's numbers are all float64, as encoding/json decodes them (Argo CD's params). */
  numbers?: 'json';
  template: string;
  data?: unknown;
  missingKey?: 'default' | 'zero' | 'error';
  templateName?: string;
  output?: string | Record<string, string>;
  error?: string;
}

const dir = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const load = (file: string): Case[] => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Case[];

function run(c: Case): unknown {
  switch (c.mode) {
    case 'fasttemplate':
      return renderFastTemplate(c.template, c.data as Record<string, string>);
    case 'flatten':
      return { ...flattenParams(c.data as Record<string, unknown>) };
    case undefined:
      return renderGoTemplate(
        c.template,
        c.numbers === 'json' ? jsonNumbers(c.data) : (c.data ?? null),
        {
          missingKey: c.missingKey,
          name: c.templateName ?? '',
        },
      );
  }
}

describe('conformance with Go', () => {
  for (const file of files) {
    describe(file.replace(/\.json$/, ''), () => {
      it.each(load(file).map((c) => [c.name, c] as const))('%s', (_name, c) => {
        if (c.error === undefined) {
          expect(run(c)).toEqual(c.output);
          return;
        }
        let err: unknown;
        try {
          run(c);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(TemplateError);
        expect((err as TemplateError).message).toBe(c.error);
      });
    });
  }

  it('has a substantial number of cases', () => {
    expect(files.reduce((n, f) => n + load(f).length, 0)).toBeGreaterThanOrEqual(150);
  });
});
