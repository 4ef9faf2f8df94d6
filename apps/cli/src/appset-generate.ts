import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import {
  generateApplications,
  parseApplicationSet,
  type ApplicationSet,
  type GeneratedApplication,
  type GenerationError,
} from '../../../libs/appset/src/index.js';
import {
  GENERATOR_TYPES,
  type ClusterInfo,
  type GeneratorSpec,
  type GitTreeReader,
} from '../../../libs/generators/src/index.js';
import { CachedTreeReader, GitCache } from '../../../libs/git/src/index.js';
import { CliError, formatData } from './output.js';

/** Largest ApplicationSet or clusters file the command reads. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;
const GIT_TIMEOUT_MS = 120_000;

export interface AppsetIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readFile?: (path: string) => string;
}

/** An Argo CD `Application` resource, as printed by `axle appset generate`. */
export interface ArgoApplication {
  apiVersion: 'argoproj.io/v1alpha1';
  kind: 'Application';
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  spec: {
    project: string;
    source: GeneratedApplication['spec']['source'];
    destination: { name?: string; server?: string; namespace?: string };
    syncPolicy?: GeneratedApplication['spec']['syncPolicy'];
    ignoreDifferences?: GeneratedApplication['spec']['ignoreDifferences'];
  };
}

/** Registers `axle appset generate` (offline: no hub needed). */
export function registerAppsetCommands(program: Command, io: AppsetIO): Command {
  const appset = program
    .command('appset')
    .description('create, inspect and preview ApplicationSets');
  appset
    .command('generate')
    .description(
      'generate the Applications of an ApplicationSet locally (Argo CD YAML or Axle JSON), reading git directly',
    )
    .requiredOption('-f, --file <path>', 'ApplicationSet file, or - for standard input')
    .option(
      '--clusters <path>',
      'YAML/JSON list of clusters ({name, server, labels?, annotations?}); default: none',
    )
    .action(async (o: { file: string; clusters?: string }) => {
      const output = program.opts<{ output?: string }>().output ?? 'yaml';
      if (output !== 'json' && output !== 'yaml')
        throw new CliError(`appset generate: unknown output format "${output}" (use json or yaml)`);
      const code = await appsetGenerate({ ...o, output }, io);
      // Everything has been reported already: end with the code, silently.
      if (code !== 0) throw new CommanderError(code, 'axle.appset.failed', '');
    });
  return appset;
}

export async function appsetGenerate(
  o: { file: string; clusters?: string; output: 'json' | 'yaml'; cwd?: string },
  io: AppsetIO,
): Promise<number> {
  const cwd = o.cwd ?? process.cwd();
  const text = await readInput(o.file, io);
  const parsed = parseApplicationSet(text);
  for (const w of parsed.warnings) io.stderr(`warning: ${w.path}: ${w.message}\n`);
  if (!parsed.appset) {
    for (const e of parsed.errors) io.stderr(`error: ${e.path}: ${e.message}\n`);
    return 1;
  }
  const appset = parsed.appset;

  let clusters: ClusterInfo[] = [];
  if (o.clusters !== undefined) {
    const res = parseClusters(await readInput(o.clusters, io), o.clusters);
    for (const w of res.warnings) io.stderr(`warning: ${w}\n`);
    clusters = res.clusters;
  }

  const cacheDir = await mkdtemp(join(tmpdir(), 'axle-appset-git-'));
  let result;
  try {
    const reader = new LocalPathReader(
      new CachedTreeReader(new GitCache(cacheDir, GIT_TIMEOUT_MS), MAX_INPUT_BYTES),
      cwd,
    );
    // On the user's own machine: no budget for the whole set (each application still has one).
    result = await generateApplications(appset, { clusters, git: reader, maxRenderMs: Infinity });
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }

  const destKind = destinationKind(appset);
  const apps = result.applications.map((a) => toArgoApplication(a, appset, destKind));
  // What was generated is printed even when some of it failed; nothing at all is not `[]`.
  if (apps.length > 0 || result.errors.length === 0) io.stdout(formatData(apps, o.output));
  for (const e of result.errors) io.stderr(`error: ${errorSubject(e)}${e.message}\n`);
  return result.errors.length > 0 ? 1 : 0;
}

function errorSubject(e: GenerationError): string {
  if (e.index < 0) return ''; // the message starts with the generator's path
  return `${e.name ?? `#${e.index}`}: `;
}

// ---------------------------------------------------------------------------------------------
// Input

async function readInput(path: string, io: AppsetIO): Promise<string> {
  let buf: Buffer;
  if (io.readFile) {
    buf = Buffer.from(io.readFile(path), 'utf8');
  } else if (path === '-') {
    buf = await readStdin();
  } else {
    buf = readFileBounded(path);
  }
  if (buf.length > MAX_INPUT_BYTES) throw tooLarge(path);
  return buf.toString('utf8');
}

function tooLarge(path: string): CliError {
  return new CliError(
    `${path === '-' ? 'standard input' : path}: input is larger than 4 MiB (${MAX_INPUT_BYTES} bytes); refusing to read it`,
  );
}

/** Reads at most MAX_INPUT_BYTES + 1 bytes, so an oversized (or endless) file is refused early. */
function readFileBounded(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new CliError(`cannot read ${path}: is a directory`);
    if (st.isFile() && st.size > MAX_INPUT_BYTES) throw tooLarge(path);
    const buf = Buffer.alloc(MAX_INPUT_BYTES + 1);
    let len = 0;
    while (len < buf.length) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    if (len > MAX_INPUT_BYTES) throw tooLarge(path);
    return buf.subarray(0, len);
  } finally {
    closeSync(fd);
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const chunk of process.stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    len += b.length;
    if (len > MAX_INPUT_BYTES) {
      process.stdin.destroy();
      throw tooLarge('-');
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------
// Clusters file

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Fields of `axle cluster list -o yaml` that mean nothing here; accepted silently. */
const IGNORED_CLUSTER_FIELDS = new Set(['agent', 'createdAt', 'updatedAt']);
const CLUSTER_FIELDS = new Set(['name', 'server', 'labels', 'annotations', 'project']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses a clusters file: a YAML or JSON list of `{name, server, labels?, annotations?, project?}`
 * (the output of `axle cluster list -o yaml` works as is). Throws a CliError naming the index and
 * field of the first problem.
 */
export function parseClusters(
  text: string,
  file: string,
): { clusters: ClusterInfo[]; warnings: string[] } {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [];
  for (const d of list)
    if (d.errors.length > 0) {
      const e = d.errors[0];
      const line = e.linePos?.[0]?.line;
      throw new CliError(
        `${file}: invalid YAML${line ? ` at line ${line}` : ''}: ${e.message.split('\n')[0]}`,
      );
    }
  const values = list
    .map((d) => d.toJS({ maxAliasCount: 100 }) as unknown)
    .filter((v) => v !== null && v !== undefined);
  if (values.length > 1)
    throw new CliError(
      `${file}: expected a single list of clusters, found ${values.length} documents`,
    );
  const raw = values[0] ?? [];
  if (!Array.isArray(raw)) throw new CliError(`${file}: expected a list of clusters`);

  const fail = (path: string, msg: string) => new CliError(`${file}: ${path}: ${msg}`);
  const clusters: ClusterInfo[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  raw.forEach((item: unknown, i) => {
    const at = `[${i}]`;
    if (!isPlainObject(item)) throw fail(at, 'expected an object with name and server');
    const name = item.name;
    if (name === undefined || name === null || name === '') throw fail(`${at}.name`, 'is required');
    if (typeof name !== 'string') throw fail(`${at}.name`, 'must be a string');
    if (name.length > 63 || !DNS1123_LABEL.test(name))
      throw fail(
        `${at}.name`,
        `invalid cluster name ${JSON.stringify(name)}: must be a DNS-1123 label (at most 63 lowercase alphanumeric characters or '-', starting and ending with an alphanumeric character)`,
      );
    const prev = seen.get(name);
    if (prev !== undefined)
      throw fail(`${at}.name`, `duplicate cluster name ${JSON.stringify(name)} (also [${prev}])`);
    seen.set(name, i);
    const server = item.server;
    if (server === undefined || server === null || server === '')
      throw fail(`${at}.server`, 'is required');
    if (typeof server !== 'string') throw fail(`${at}.server`, 'must be a string');
    const cluster: ClusterInfo = {
      name,
      server,
      labels: stringMap(item.labels, `${at}.labels`, fail),
      annotations: stringMap(item.annotations, `${at}.annotations`, fail),
    };
    if (item.project !== undefined && item.project !== null) {
      if (typeof item.project !== 'string') throw fail(`${at}.project`, 'must be a string');
      cluster.project = item.project;
    }
    for (const k of Object.keys(item))
      if (!CLUSTER_FIELDS.has(k) && !IGNORED_CLUSTER_FIELDS.has(k))
        warnings.push(`${file}: ${at}.${k}: unknown field (ignored)`);
    clusters.push(cluster);
  });
  return { clusters, warnings };
}

function stringMap(
  v: unknown,
  path: string,
  fail: (path: string, msg: string) => CliError,
): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v)) throw fail(path, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string')
      throw fail(`${path}.${k}`, `must be a string (quote it: "${String(val)}")`);
    out[k] = val;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Git

/** `https://…`, `ssh://…`, `file://…` and the like. */
const URL_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/** scp-like `git@host:org/repo.git` (a colon before the first slash). */
const SCP_RE = /^[^/:]+:/;

/**
 * Resolves a repoURL that is a local path (absolute, or relative to `cwd`) to an absolute path;
 * URLs (including `file://`) and scp-like addresses are returned unchanged.
 */
export function resolveRepoURL(url: string, cwd: string): string {
  if (url === '' || URL_RE.test(url) || SCP_RE.test(url)) return url;
  return resolvePath(cwd, url);
}

/** Hands git absolute paths for local-path repoURLs; everything else goes through unchanged. */
class LocalPathReader implements GitTreeReader {
  constructor(
    private readonly inner: GitTreeReader,
    private readonly cwd: string,
  ) {}

  private url(u: string): string {
    return resolveRepoURL(u, this.cwd);
  }

  resolve(repoURL: string, revision: string): Promise<string> {
    return this.inner.resolve(this.url(repoURL), revision);
  }

  listDirectories(repoURL: string, commit: string): Promise<string[]> {
    return this.inner.listDirectories(this.url(repoURL), commit);
  }

  listFiles(repoURL: string, commit: string): Promise<string[]> {
    return this.inner.listFiles(this.url(repoURL), commit);
  }

  readFile(repoURL: string, commit: string, path: string): Promise<Buffer> {
    return this.inner.readFile(this.url(repoURL), commit, path);
  }
}

// ---------------------------------------------------------------------------------------------
// Output

type DestinationKind = 'name' | 'server';

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

/**
 * Which destination field the generated Applications carry. generateApplications resolves the
 * destination against the clusters and fills in both `name` and `server`, but Argo CD rejects an
 * Application that sets both; the Applications printed carry the field the template set. When the
 * templates do not tell (both set, one rendering empty; or a templatePatch touching the
 * destination) the server URL is printed, which identifies the cluster on its own.
 */
function destinationKind(appset: ApplicationSet): DestinationKind {
  const spec = appset.spec;
  if (spec.templatePatch !== undefined && /destination/.test(spec.templatePatch)) return 'server';
  const base = spec.template.spec.destination ?? {};
  const kinds = new Set<DestinationKind | 'both'>();
  const add = (d: { name?: unknown; server?: unknown }) => {
    const name = nonEmpty(d.name);
    const server = nonEmpty(d.server);
    kinds.add(name && server ? 'both' : name ? 'name' : 'server');
  };
  const overrides = spec.generators.map(generatorDestination);
  if (overrides.length === 0) add(base);
  for (const o of overrides)
    add({
      name: nonEmpty(o?.name) ? o?.name : base.name,
      server: nonEmpty(o?.server) ? o?.server : base.server,
    });
  return kinds.size === 1 && kinds.has('name') ? 'name' : 'server';
}

function generatorDestination(
  entry: GeneratorSpec,
): { name?: unknown; server?: unknown } | undefined {
  const type = GENERATOR_TYPES.find((t) => entry[t] !== undefined);
  if (!type) return undefined;
  const tpl = (entry[type] as { template?: unknown }).template;
  if (!isPlainObject(tpl) || !isPlainObject(tpl.spec)) return undefined;
  const dest = tpl.spec.destination;
  return isPlainObject(dest) ? dest : undefined;
}

/** A complete Argo CD Application resource for one generated Application. */
export function toArgoApplication(
  app: GeneratedApplication,
  appset: ApplicationSet,
  destKind: DestinationKind = 'server',
): ArgoApplication {
  const metadata: ArgoApplication['metadata'] = { name: app.metadata.name };
  if (appset.metadata.namespace) metadata.namespace = appset.metadata.namespace;
  if (app.metadata.labels && Object.keys(app.metadata.labels).length > 0)
    metadata.labels = app.metadata.labels;
  if (app.metadata.annotations && Object.keys(app.metadata.annotations).length > 0)
    metadata.annotations = app.metadata.annotations;
  if (app.metadata.finalizers && app.metadata.finalizers.length > 0)
    metadata.finalizers = app.metadata.finalizers;
  const d = app.spec.destination;
  const destination: ArgoApplication['spec']['destination'] =
    destKind === 'name' ? { name: d.name } : { server: d.server };
  if (d.namespace !== undefined) destination.namespace = d.namespace;
  const spec: ArgoApplication['spec'] = {
    project: app.spec.project,
    source: app.spec.source,
    destination,
  };
  if (app.spec.syncPolicy !== undefined) spec.syncPolicy = app.spec.syncPolicy;
  if (app.spec.ignoreDifferences !== undefined && app.spec.ignoreDifferences.length > 0)
    spec.ignoreDifferences = app.spec.ignoreDifferences;
  return { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata, spec };
}
