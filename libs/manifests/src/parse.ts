import { isScalar, LineCounter, parseAllDocuments } from 'yaml';
import { ManifestError } from './errors.js';
import { DEFAULT_LIMITS, type ManifestLimits } from './limits.js';
import type { KubeObject } from './types.js';

/**
 * Parses a YAML or JSON stream (several `---` documents) into Kubernetes objects.
 * Empty documents are skipped; a document that is a `List` (`kind: List`/`*List` with `items`)
 * is flattened. Every problem names the file and line.
 *
 * A mapping key given twice keeps its last value, as kubectl and Argo CD (sigs.k8s.io/yaml)
 * read it; each one is reported to `warn` with its file and line.
 */
export function parseManifests(
  text: string,
  file: string,
  limits: ManifestLimits = DEFAULT_LIMITS,
  warn?: (message: string) => void,
): KubeObject[] {
  if (Buffer.byteLength(text) > limits.maxFileBytes) {
    throw new ManifestError(`file is larger than ${limits.maxFileBytes} bytes`, file);
  }
  const lineCounter = new LineCounter();
  const duplicates: { key: string; offset: number | undefined }[] = [];
  const docs = parseAllDocuments(text, {
    lineCounter,
    prettyErrors: false,
    // Called to compare keys: equal scalar keys are noted, and never treated as equal (no error).
    uniqueKeys: (a, b) => {
      if (isScalar(a) && isScalar(b) && a.value === b.value && duplicates.length < 100)
        duplicates.push({ key: String(a.value), offset: b.range?.[0] });
      return false;
    },
  });
  for (const d of duplicates) {
    const line = d.offset === undefined ? '' : `:${lineCounter.linePos(d.offset).line}`;
    warn?.(`${file}${line}: mapping key "${d.key}" is repeated; its last value is used`);
  }
  const out: KubeObject[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const line = lineCounter.linePos(err.pos[0]).line;
      throw new ManifestError(`invalid YAML: ${firstLine(err.message)}`, file, line);
    }
    const startLine = doc.contents ? lineCounter.linePos(doc.contents.range[0]).line : undefined;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (e) {
      throw new ManifestError(
        `invalid YAML: ${firstLine(String((e as Error).message))}`,
        file,
        startLine,
      );
    }
    if (value === null || value === undefined) continue;
    checkDepth(value, limits.maxDepth, file, startLine);
    for (const obj of flattenList(value, file, startLine)) {
      validateObject(obj, file, startLine);
      out.push(obj);
      if (out.length > limits.maxObjects) {
        throw new ManifestError(`more than ${limits.maxObjects} objects`, file);
      }
    }
  }
  return out;
}

function flattenList(value: unknown, file: string, line?: number): unknown[] {
  if (
    isRecord(value) &&
    typeof value.kind === 'string' &&
    value.kind.endsWith('List') &&
    Array.isArray(value.items)
  ) {
    return value.items as unknown[];
  }
  if (Array.isArray(value)) {
    throw new ManifestError('a document must be an object, not a list', file, line);
  }
  return [value];
}

function validateObject(value: unknown, file: string, line?: number): asserts value is KubeObject {
  if (!isRecord(value)) {
    throw new ManifestError('a document must be a Kubernetes object (a map)', file, line);
  }
  if (typeof value.apiVersion !== 'string' || value.apiVersion === '') {
    throw new ManifestError('apiVersion is missing', file, line);
  }
  if (typeof value.kind !== 'string' || value.kind === '') {
    throw new ManifestError('kind is missing', file, line);
  }
  const md = value.metadata;
  if (!isRecord(md) || typeof md.name !== 'string' || md.name === '') {
    throw new ManifestError(`metadata.name is missing on ${value.kind}`, file, line);
  }
  if (md.namespace !== undefined && typeof md.namespace !== 'string') {
    throw new ManifestError(
      `metadata.namespace must be a string on ${value.kind}/${md.name}`,
      file,
      line,
    );
  }
}

function checkDepth(value: unknown, max: number, file: string, line?: number): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) throw new ManifestError(`nesting deeper than ${max} levels`, file, line);
    if (Array.isArray(v)) for (const x of v) stack.push([x, d + 1]);
    else if (isRecord(v)) for (const x of Object.values(v)) stack.push([x, d + 1]);
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
