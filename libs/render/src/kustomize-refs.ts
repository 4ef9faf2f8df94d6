import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { KUSTOMIZATION_FILES } from './detect.js';
import { RenderError } from './errors.js';
import { PathEscapeError, resolveInside } from './paths.js';

/** Bounds of the walk over the kustomizations a build reaches. */
export interface KustomizeWalkLimits {
  /** Most kustomization directories visited. */
  maxKustomizations: number;
  /** Most levels of bases below the application's kustomization. */
  maxDepth: number;
  /** Most references checked, over all kustomizations. */
  maxReferences: number;
}

export const DEFAULT_KUSTOMIZE_WALK_LIMITS: KustomizeWalkLimits = {
  maxKustomizations: 1_000,
  maxDepth: 50,
  maxReferences: 20_000,
};

/** Remote bases Argo CD allows: fetched over the network by kustomize, not read from the disk. */
const NETWORK_URL = /^(?:https?|ssh|git):\/\//i;
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/** One reference in a kustomization: where it is written and what kustomize may load from it. */
interface Ref {
  field: string;
  entry: string;
  /** It may name a directory with a kustomization of its own (resources, bases, components…). */
  base?: boolean;
  /** It may be inline YAML instead of a path (patchesStrategicMerge, generators…). */
  maybeInline?: boolean;
}

/**
 * Refuses a Kustomize build that would read outside the repository. kustomize's load restrictor
 * (`LoadRestrictionsRootOnly`) keeps *files* below each kustomization's directory but not the
 * directories it loads as bases: `resources: [../../../../tmp/x]` or `../../proc/<pid>/cwd/x`
 * (another render's private tree) were built. So, before the tool runs, every kustomization
 * reachable from `appDir` is read here and each local path it names (resources, bases,
 * components, crds, patches, generators' files and env files, configurations, generators,
 * transformers, validators, replacements, openapi, helm charts' value files and homes) is resolved
 * against the directory of the kustomization naming it — lexically first, as kustomize does, then
 * through symbolic links, then by `realpath` — and must stay below `root`. Absolute paths and
 * `file://` URLs are refused; http(s), ssh and git URLs (and `github.com/…?ref=` forms, which
 * resolve as paths inside) are remote bases, left to kustomize as in Argo CD. Directories named
 * as bases that hold a kustomization are walked too, within `limits`; a cycle is walked once
 * (kustomize reports it). Inline patches (`patches[].patch`, multi-line YAML entries) are not
 * paths. Missing paths are left for kustomize to report.
 *
 * Throws a `RenderError` (tool `kustomize`, `path`) naming the kustomization file relative to the
 * repository, the field and the entry.
 */
export async function checkKustomizeReferences(
  root: string,
  appDir: string,
  path: string,
  limits: KustomizeWalkLimits = DEFAULT_KUSTOMIZE_WALK_LIMITS,
): Promise<void> {
  const fail = (message: string): never => {
    throw new RenderError(message, 'kustomize', path);
  };
  const realRoot = await realpath(root);
  const start = await realpath(appDir);
  if (!isBelow(realRoot, start)) fail('the source path leads out of the repository');

  const seen = new Set<string>([start]);
  const queue: { dir: string; depth: number }[] = [{ dir: start, depth: 0 }];
  let references = 0;
  for (let i = 0; i < queue.length; i++) {
    const { dir, depth } = queue[i];
    const dirRel = toPosix(relative(realRoot, dir));
    for (const name of KUSTOMIZATION_FILES) {
      const fileRel = dirRel ? `${dirRel}/${name}` : name;
      const st = await lstat(join(dir, name)).catch(() => undefined);
      if (!st) continue;
      // The file itself must be in the repository (a link to elsewhere is followed by kustomize).
      const file = await realpath(join(dir, name)).catch(() => undefined);
      if (!file) continue;
      if (!isBelow(realRoot, file)) fail(`${fileRel} leads outside the repository`);
      if (!(await stat(file)).isFile()) continue;
      let refs: Ref[];
      try {
        refs = kustomizationRefs(await readFile(file, 'utf8'));
      } catch (e) {
        fail(`${fileRel} cannot be read: ${(e as Error).message.split('\n')[0]}`);
      }
      for (const ref of refs!) {
        if (++references > limits.maxReferences) {
          fail(`the kustomizations name more than ${limits.maxReferences} paths (at ${fileRel})`);
        }
        const bad = (why: string) =>
          fail(`${fileRel}: ${ref.field} entry ${quote(ref.entry)} ${why}`);
        const target = await resolveRef(realRoot, dirRel, ref, bad);
        if (!target || !ref.base) continue;
        const tst = await stat(target).catch(() => undefined);
        if (!tst?.isDirectory() || seen.has(target)) continue;
        seen.add(target);
        if (!(await hasKustomization(target))) continue;
        if (depth + 1 > limits.maxDepth) {
          bad(`nests kustomizations more than ${limits.maxDepth} deep`);
        }
        if (queue.length >= limits.maxKustomizations) {
          bad(`is one kustomization more than the ${limits.maxKustomizations} allowed`);
        }
        queue.push({ dir: target, depth: depth + 1 });
      }
    }
  }
}

/**
 * The real path a local reference names (undefined for a remote one, an inline one, or one that
 * does not exist: kustomize reports those); `bad` is called (and throws) when it leaves the tree.
 */
async function resolveRef(
  realRoot: string,
  dirRel: string,
  ref: Ref,
  bad: (why: string) => never,
): Promise<string | undefined> {
  const entry = ref.entry;
  if (ref.maybeInline && isInlineYaml(entry)) return undefined;
  const url = entry.replace(/^git::/i, '');
  if (/^file:/i.test(url)) bad('is a file URL: it would read the hub’s disk');
  if (NETWORK_URL.test(url)) return undefined; // a remote base (Argo CD allows them)
  if (ANY_URL.test(url)) bad('has a URL scheme kustomize cannot fetch (http(s), ssh and git only)');
  if (entry.includes('\0')) bad('contains NUL');
  if (posix.isAbsolute(entry)) bad('is an absolute path: paths must be inside the repository');
  // kustomize joins and cleans lexically, then follows links (filepath.Join, EvalSymlinks).
  const lexical = posix.normalize(posix.join(dirRel || '.', entry));
  if (lexical === '..' || lexical.startsWith('../')) bad('leads outside the repository');
  let resolved: string;
  try {
    resolved = await resolveInside(realRoot, lexical);
  } catch (e) {
    if (!(e instanceof PathEscapeError)) throw e;
    bad('leads outside the repository through a symbolic link');
  }
  let real: string;
  try {
    real = await realpath(resolved!);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    bad(`cannot be resolved inside the repository (${code ?? 'error'})`);
  }
  if (!isBelow(realRoot, real!)) bad('leads outside the repository');
  return real!;
}

/** Every local or remote reference in a kustomization file's text (all its documents). */
export function kustomizationRefs(text: string): Ref[] {
  const refs: Ref[] = [];
  for (const doc of parseAllDocuments(text, { merge: true, uniqueKeys: false })) {
    if (doc.errors.length) throw doc.errors[0];
    const k: unknown = doc.toJS({ maxAliasCount: 100 });
    if (isObject(k)) collect(k, refs);
  }
  return refs;
}

function collect(k: Record<string, unknown>, refs: Ref[]): void {
  const add = (field: string, v: unknown, o: Omit<Ref, 'field' | 'entry'> = {}) => {
    for (const entry of strings(v)) refs.push({ field, entry, ...o });
  };
  for (const f of ['resources', 'bases', 'components']) add(f, k[f], { base: true });
  for (const f of ['generators', 'transformers', 'validators']) {
    add(f, k[f], { base: true, maybeInline: true });
  }
  add('crds', k.crds);
  add('configurations', k.configurations);
  add('patchesStrategicMerge', k.patchesStrategicMerge, { maybeInline: true });
  for (const f of ['patches', 'patchesJson6902', 'replacements']) {
    list(k[f]).forEach((p, i) => add(`${f}[${i}].path`, p.path));
  }
  if (isObject(k.openapi)) add('openapi.path', k.openapi.path);
  for (const f of ['configMapGenerator', 'secretGenerator']) {
    list(k[f]).forEach((g, i) => {
      for (const s of strings(g.files)) add(`${f}[${i}].files`, fileSources(s));
      add(`${f}[${i}].envs`, g.envs);
      add(`${f}[${i}].env`, g.env);
    });
  }
  const globals = isObject(k.helmGlobals) ? k.helmGlobals : {};
  add('helmGlobals.chartHome', globals.chartHome);
  add('helmGlobals.configHome', globals.configHome);
  const chartHome = strings(globals.chartHome)[0] ?? 'charts';
  list(k.helmCharts).forEach((c, i) => {
    add(`helmCharts[${i}].valuesFile`, c.valuesFile);
    add(`helmCharts[${i}].additionalValuesFiles`, c.additionalValuesFiles);
    // a chart without a repository is read from <chartHome>/<name>
    for (const n of strings(c.name)) if (!c.repo) add(`helmCharts[${i}].name`, `${chartHome}/${n}`);
  });
  list(k.helmChartInflationGenerator).forEach((c, i) => {
    add(`helmChartInflationGenerator[${i}].chartHome`, c.chartHome);
    add(`helmChartInflationGenerator[${i}].values`, c.values);
  });
}

/**
 * The paths in a generator's `files` entry: `path`, or `key=path` (kustomize's ParseFileSource
 * takes the text between the first and a second `=`; both readings are checked).
 */
function fileSources(s: string): string[] {
  const i = s.indexOf('=');
  if (i < 0) return [s];
  const after = s.slice(i + 1);
  const second = after.split('=')[0];
  return second === after ? [after] : [after, second];
}

/** Multi-line text that is a YAML mapping or sequence: an inline patch or config, not a path. */
function isInlineYaml(s: string): boolean {
  if (!s.includes('\n')) return false;
  try {
    const v: unknown = parse(s);
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
}

function strings(v: unknown): string[] {
  const one = (x: unknown) =>
    typeof x === 'string'
      ? [x]
      : typeof x === 'number' || typeof x === 'boolean'
        ? [String(x)]
        : [];
  return Array.isArray(v) ? v.flatMap(one) : one(v);
}

function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function hasKustomization(dir: string): Promise<boolean> {
  for (const name of KUSTOMIZATION_FILES) {
    if (await lstat(join(dir, name)).catch(() => undefined)) return true;
  }
  return false;
}

function isBelow(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

function quote(s: string): string {
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);
}
