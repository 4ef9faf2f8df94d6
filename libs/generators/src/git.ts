import { parseAllDocuments } from 'yaml';
import { GeneratorError, errorMessage } from './errors.js';
import { basePath, dirPath, flattenDotStyle, goSprintV, sanitizeName } from './go.js';
import { BadPatternError, compileDoublestar, gitPathspecMatch, goPathMatch } from './glob.js';
import { appendValues, checkParamLimit, type Runtime } from './runtime.js';
import type { GitGeneratorSpec, GitPathItem, ParamSet } from './types.js';
import { yamlOptions } from './yaml.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Orders paths the way Go's filepath.WalkDir visits them (lexical per directory, depth first). */
export function compareWalkOrder(a: string, b: string): number {
  const as = a.split('/');
  const bs = b.split('/');
  const n = Math.min(as.length, bs.length);
  for (let i = 0; i < n; i++) {
    if (as[i] !== bs[i]) return as[i] < bs[i] ? -1 : 1;
  }
  return as.length - bs.length;
}

/** Argo's repo-server skips every directory whose name starts with `.` (and what is below it). */
function isVisibleDir(p: string): boolean {
  if (p === '' || p === '.') return false;
  for (const seg of p.split('/')) if (seg.startsWith('.')) return false;
  return true;
}

export async function gitParams(
  spec: GitGeneratorSpec,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  let commit: string;
  try {
    commit = await rt.git.resolve(spec.repoURL, spec.revision);
  } catch (e) {
    throw new GeneratorError(
      path,
      `cannot resolve revision ${JSON.stringify(spec.revision)} of ${spec.repoURL}: ${errorMessage(e)}`,
    );
  }
  if (spec.directories && spec.directories.length > 0)
    return directoryParams(spec, commit, rt, path);
  return fileParams(spec, commit, rt, path);
}

function checkPattern(item: GitPathItem, where: string, test: () => void): void {
  try {
    test();
  } catch (e) {
    if (e instanceof BadPatternError)
      throw new GeneratorError(
        where,
        `invalid path pattern ${JSON.stringify(item.path)}: ${e.message}`,
      );
    throw e;
  }
}

async function directoryParams(
  spec: GitGeneratorSpec,
  commit: string,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  const items = spec.directories!;
  items.forEach((item, i) =>
    checkPattern(item, `${path}.directories[${i}].path`, () => goPathMatch(item.path, '')),
  );
  let all: string[];
  try {
    all = await rt.git.listDirectories(spec.repoURL, commit);
  } catch (e) {
    throw new GeneratorError(path, `error getting directories from repo: ${errorMessage(e)}`);
  }
  const dirs = all.filter(isVisibleDir).sort(compareWalkOrder);
  const selected: string[] = [];
  for (const dir of dirs) {
    let include = false;
    let exclude = false;
    for (const item of items) {
      if (!goPathMatch(item.path, dir)) continue;
      if (item.exclude) exclude = true;
      else include = true;
    }
    if (include && !exclude) selected.push(dir);
  }
  checkParamLimit(rt, selected.length, path);
  const goTemplate = rt.renderer.goTemplate;
  const prefix = spec.pathParamPrefix ?? '';
  const out = selected.map((dir) => {
    const params: ParamSet = {};
    const base = basePath(dir);
    if (goTemplate) {
      const p = {
        path: dir,
        basename: base,
        basenameNormalized: sanitizeName(base),
        segments: dir.split('/'),
      };
      if (prefix) params[prefix] = { path: p };
      else params.path = p;
    } else {
      const name = prefix ? `${prefix}.path` : 'path';
      params[name] = dir;
      params[`${name}.basename`] = base;
      params[`${name}.basenameNormalized`] = sanitizeName(base);
      addIndexedSegments(params, name, dir);
    }
    return params;
  });
  return appendValues(spec.values, out, rt, path);
}

function addIndexedSegments(params: ParamSet, name: string, p: string): void {
  p.split('/').forEach((seg, i) => {
    if (seg !== '') params[`${name}[${i}]`] = seg;
  });
}

type Matcher = (file: string) => boolean;

function fileMatcher(item: GitPathItem, rt: Runtime, where: string): Matcher {
  let m: Matcher = () => false;
  checkPattern(item, where, () => {
    if (rt.ctx.newGitFileGlobbing) m = compileDoublestar(item.path);
    else {
      gitPathspecMatch(item.path, '');
      m = (f) => gitPathspecMatch(item.path, f);
    }
  });
  return m;
}

/** Parses a JSON/YAML file the way Argo does: one map, or a list of maps. */
export function parseParamFile(buf: Buffer, maxBytes: number): Record<string, unknown>[] {
  if (buf.length > maxBytes)
    throw new Error(`file is larger than ${maxBytes} bytes (limits.maxFileBytes)`);
  const docs = parseAllDocuments(buf.toString('utf8'), yamlOptions);
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  if (!doc) return [{}];
  if (doc.errors.length > 0) throw new Error(`unable to parse file: ${doc.errors[0].message}`);
  const value: unknown = doc.toJS(yamlOptions);
  if (value === null || value === undefined) return [{}];
  if (isPlainObject(value)) return [value];
  if (Array.isArray(value)) {
    return value.map((v) => {
      if (v === null) return {};
      if (!isPlainObject(v))
        throw new Error('unable to parse file: a top-level list must contain only maps');
      return v;
    });
  }
  throw new Error('unable to parse file: expected a map or a list of maps');
}

const READ_CONCURRENCY = 16;

async function fileParams(
  spec: GitGeneratorSpec,
  commit: string,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  const items = spec.files!;
  const include: Matcher[] = [];
  const exclude: Matcher[] = [];
  items.forEach((item, i) => {
    const m = fileMatcher(item, rt, `${path}.files[${i}].path`);
    (item.exclude ? exclude : include).push(m);
  });
  let all: string[];
  try {
    all = await rt.git.listFiles(spec.repoURL, commit);
  } catch (e) {
    throw new GeneratorError(path, `error listing files of repo: ${errorMessage(e)}`);
  }
  const files = all.filter((f) => include.some((m) => m(f)) && !exclude.some((m) => m(f))).sort();
  if (files.length > rt.limits.maxFiles)
    throw new GeneratorError(
      path,
      `matched ${files.length} files, more than ${rt.limits.maxFiles} (limits.maxFiles)`,
    );

  const contents: Record<string, unknown>[][] = new Array<Record<string, unknown>[]>(files.length);
  for (let start = 0; start < files.length; start += READ_CONCURRENCY) {
    const batch = files.slice(start, start + READ_CONCURRENCY);
    await Promise.all(
      batch.map(async (file, j) => {
        try {
          contents[start + j] = await rt.git.readParsed(spec.repoURL, commit, file, (buf) =>
            parseParamFile(buf, rt.limits.maxFileBytes),
          );
        } catch (e) {
          throw new GeneratorError(path, `unable to process file '${file}': ${errorMessage(e)}`);
        }
      }),
    );
  }

  const goTemplate = rt.renderer.goTemplate;
  const prefix = spec.pathParamPrefix ?? '';
  const out: ParamSet[] = [];
  files.forEach((file, idx) => {
    const dir = dirPath(file);
    const base = basePath(dir);
    const filename = basePath(file);
    for (const obj of contents[idx]) {
      let params: ParamSet;
      if (goTemplate) {
        params = { ...obj };
        const p = {
          path: dir,
          basename: base,
          filename,
          basenameNormalized: sanitizeName(base),
          filenameNormalized: sanitizeName(filename),
          segments: dir.split('/'),
        };
        if (prefix) params[prefix] = { path: p };
        else params.path = p;
      } else {
        params = {};
        for (const [k, v] of flattenDotStyle(obj)) params[k] = goSprintV(v);
        const name = prefix ? `${prefix}.path` : 'path';
        params[name] = dir;
        params[`${name}.basename`] = base;
        params[`${name}.filename`] = filename;
        params[`${name}.basenameNormalized`] = sanitizeName(base);
        params[`${name}.filenameNormalized`] = sanitizeName(filename);
        addIndexedSegments(params, name, dir);
      }
      out.push(params);
      checkParamLimit(rt, out.length, path);
    }
  });
  return appendValues(spec.values, out, rt, path);
}
