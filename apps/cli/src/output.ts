import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseFormat(v: string | undefined): OutputFormat {
  if (v === undefined || v === 'table' || v === 'wide') return 'table';
  if (v === 'json' || v === 'yaml') return v;
  throw new CliError(`unknown output format "${v}" (use json, yaml or table)`);
}

/** Renders rows as aligned columns, kubectl style. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function formatData(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json'
    ? JSON.stringify(value, null, 2) + '\n'
    : stringify(value, { lineWidth: 0 });
}

/**
 * What a command that acts on each document of a file prints: one document's result alone, several
 * as one list (a JSON array, a YAML sequence), so that -o json|yaml is always one valid document.
 */
export function oneOrList<T>(items: T[]): T | T[] {
  return items.length === 1 ? items[0] : items;
}

/**
 * One of a stream of values (`--watch`): with -o json a line of its own (NDJSON), with -o yaml a
 * document that starts with `---`.
 */
export function formatStreamed(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json'
    ? JSON.stringify(value) + '\n'
    : `---\n${stringify(value, { lineWidth: 0 })}`;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A repeatable option's values (commander's `collect` idiom). */
export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
