import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { parseAllDocuments } from 'yaml';
import { assessHealthOfYamlDocuments } from '../../../libs/health/src/index.js';
import { parseManifests } from '../../../libs/manifests/src/index.js';
import { registerAppsetCommands } from './appset-generate.js';
import type { ResponseOf, Schemas } from '../../../libs/api-client/src/index.js';
import { HubClient, type HubClientOptions } from './hub-client.js';
import {
  CliError,
  collect,
  formatData,
  oneOrList,
  parseFormat,
  table,
  type OutputFormat,
} from './output.js';
import { registerNotifyCommands } from './notify-commands.js';
import { registerRolloutCommands } from './rollout-commands.js';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  readFile?: (path: string) => string;
}

const DEFAULT_SERVER = 'http://127.0.0.1:8080';
/** Clusters asked of the hub per request by `cluster list` (the hub's most is 1,000). */
const CLUSTER_PAGE = 1000;
/** Applications asked of the hub per request by `app list` (the hub's most is 1,000). */
const APP_PAGE = 500;

/**
 * Every item of a list the hub serves by name a page at a time (`limit`, then `after` = the last
 * name), at most `most`. Only an empty page ends it: one comes back short when items it found were
 * deleted before it was read. A hub that does not page (it answers from the start again) ends it
 * too, taken once.
 */
async function readPages<T extends { name: string }>(
  client: HubClient,
  path: string,
  pageSize: number,
  filters: Record<string, string>,
  most = Infinity,
): Promise<T[]> {
  const list: T[] = [];
  const seen = new Set<string>();
  while (list.length < most) {
    const q = new URLSearchParams({
      limit: String(Math.min(pageSize, most - list.length)),
      ...(list.length ? { after: list[list.length - 1].name } : {}),
      ...filters,
    });
    const got = await client.request<T[]>('GET', `${path}?${q.toString()}`);
    if (got.length === 0 || seen.has(got[0].name)) break;
    for (const item of got) seen.add(item.name);
    list.push(...got);
  }
  return list;
}

interface AppListOptions {
  project?: string;
  appSet?: string;
  parent?: string;
  cluster?: string;
  selector?: string;
  sync?: string;
  health?: string;
  limit?: string;
}

type ClusterView = Schemas['ClusterView'];

type AppView = Schemas['ApplicationView'];

/** Runs the `axle` command line; returns the exit code. Never calls process.exit. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const read =
    io.readFile ?? ((p: string) => (p === '-' ? readFileSync(0, 'utf8') : readFileSync(p, 'utf8')));
  const program = new Command('axle')
    .description('Axle: multi-cluster GitOps hub')
    .addOption(
      new Option('-s, --server <url>', 'hub URL').env('AXLE_SERVER').default(DEFAULT_SERVER),
    )
    .addOption(new Option('-o, --output <format>', 'json | yaml | table'))
    .addOption(
      new Option(
        '-t, --token <token>',
        'API token (default: $AXLE_TOKEN, else, for the local hub only, its .axle/admin-token here)',
      ),
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError(false);

  const opts = () => {
    const o = program.opts<{ server: string; output?: string; token?: string }>();
    // The flag wins over AXLE_SERVER, which wins over the default. (Commander reads
    // process.env itself; io.env is what this run was given.)
    const server =
      program.getOptionValueSource('server') === 'cli'
        ? o.server
        : io.env.AXLE_SERVER || DEFAULT_SERVER;
    return {
      client: new HubClient(server, ...credentials(server, o.token, io.env)),
      format: parseFormat(o.output),
    };
  };
  const print = (format: OutputFormat, data: unknown, render: () => string) =>
    io.stdout(format === 'table' ? render() : formatData(data, format));

  const cluster = program.command('cluster').description('register and inspect clusters');
  cluster
    .command('add <name>')
    .description('register a cluster: prints its one-time bootstrap token (or agent token)')
    .option('-l, --label <k=v>', 'label (repeatable)', collect, [])
    .option('-a, --annotation <k=v>', 'annotation (repeatable)', collect, [])
    .option('--api-server <url>', 'API server URL, for display')
    .option('-m, --install-manifest <file>', 'write the agent install manifest (mTLS) to this file')
    .option(
      '--ca-file <file>',
      "write the hub CA (PEM) to this file, for the agent's AXLE_HUB_CA_FILE",
    )
    .action(
      async (
        name: string,
        o: {
          label: string[];
          annotation: string[];
          apiServer?: string;
          installManifest?: string;
          caFile?: string;
        },
      ) => {
        const { client, format } = opts();
        const res = await client.request<ClusterAdded>('POST', '/api/v1/clusters', {
          name,
          labels: keyValues(o.label, '--label'),
          annotations: keyValues(o.annotation, '--annotation'),
          ...(o.apiServer ? { server: o.apiServer } : {}),
        });
        writeKitFiles(res, o);
        print(format, res, () => addedText(res, o));
      },
    );
  cluster
    .command('list')
    .alias('ls')
    .description('clusters by name, read from the hub a page at a time')
    .option('-l, --selector <selector>', 'only those whose labels match (env=prod,region in (eu))')
    .option('--connected', 'only those whose agent is connected')
    .option('--disconnected', 'only those whose agent is not connected')
    .action(async (o: { selector?: string; connected?: boolean; disconnected?: boolean }) => {
      const { client, format } = opts();
      if (o.connected && o.disconnected)
        throw new CliError('--connected and --disconnected: give one of them');
      const connected = o.connected ? 'true' : o.disconnected ? 'false' : undefined;
      const list = await readPages<ClusterView>(client, '/api/v1/clusters', CLUSTER_PAGE, {
        ...(o.selector !== undefined ? { selector: o.selector } : {}),
        ...(connected ? { connected } : {}),
      });
      print(format, list, () =>
        table(['NAME', 'AGENT', 'KUBERNETES', 'LABELS', 'AGE'], list.map(clusterRow)),
      );
    });
  cluster.command('get <name>').action(async (name: string) => {
    const { client, format } = opts();
    const c = await client.request<ClusterView>(
      'GET',
      `/api/v1/clusters/${encodeURIComponent(name)}`,
    );
    print(format, c, () =>
      table(['NAME', 'AGENT', 'KUBERNETES', 'LABELS', 'AGE'], [clusterRow(c)]),
    );
  });
  cluster
    .command('bootstrap-token <name>')
    .description(
      'issue a new one-time bootstrap token (and install manifest) to (re-)enrol an agent',
    )
    .option('-m, --install-manifest <file>', 'write the agent install manifest to this file')
    .option(
      '--ca-file <file>',
      "write the hub CA (PEM) to this file, for the agent's AXLE_HUB_CA_FILE",
    )
    .action(async (name: string, o: { installManifest?: string; caFile?: string }) => {
      const { client, format } = opts();
      const res = await client.request<
        ResponseOf<'/api/v1/clusters/{name}/bootstrap-token', 'post'>
      >('POST', `/api/v1/clusters/${encodeURIComponent(name)}/bootstrap-token`);
      const kit = { ...res, cluster: { name } as ClusterView };
      writeKitFiles(kit, o);
      print(format, res, () => addedText(kit, o));
    });
  cluster
    .command('revoke <name>')
    .description(
      "revoke the cluster's agent certificates: its stream is cut and reconnection refused",
    )
    .action(async (name: string) => {
      const { client } = opts();
      const r = await client.request<{ revokedCertificates: number }>(
        'POST',
        `/api/v1/clusters/${encodeURIComponent(name)}/revoke`,
      );
      io.stdout(`cluster "${name}": ${r.revokedCertificates} certificate(s) revoked\n`);
    });
  cluster.command('delete <name>').action(async (name: string) => {
    const { client } = opts();
    await client.request('DELETE', `/api/v1/clusters/${encodeURIComponent(name)}`);
    io.stdout(`cluster "${name}" deleted\n`);
  });

  const app = program.command('app').description('create and inspect applications');
  app
    .command('create')
    .description(
      'create applications from a YAML/JSON file (Axle or Argo CD Application; several documents allowed)',
    )
    .requiredOption('-f, --file <path>', 'file, or - for standard input')
    .action(async (o: { file: string }) => {
      const { client, format } = opts();
      const docs = readDocuments(read(o.file), o.file);
      const created: AppView[] = [];
      const report = () =>
        print(format, created.length === 1 ? created[0] : created, () =>
          created.map((a) => `application "${a.name}" created\n`).join(''),
        );
      for (const doc of docs) {
        try {
          created.push(await client.request<AppView>('POST', '/api/v1/applications', doc));
        } catch (e) {
          // Those before it were created: say so before the error (a rerun would meet them).
          if (created.length) report();
          throw e;
        }
      }
      report();
    });
  app
    .command('list')
    .alias('ls')
    .description('applications by name, read from the hub a page at a time')
    .option('--project <name>', 'only those of this project')
    .option('--app-set <name>', 'only those this ApplicationSet generates')
    .option('--parent <name>', "only this application's children (app of apps)")
    .option('--cluster <name>', 'only those destined to this cluster')
    .option('-l, --selector <selector>', 'only those whose labels match (team=web,env in (prod))')
    .option('--sync <states>', 'only those in these sync states (OutOfSync,Unknown)')
    .option('--health <states>', 'only those in these health states (Degraded,Missing)')
    .option('--limit <n>', 'at most this many')
    .action(async (o: AppListOptions) => {
      const { client, format } = opts();
      const most = o.limit === undefined ? Infinity : Number(o.limit);
      if (o.limit !== undefined && (!Number.isInteger(most) || most < 1))
        throw new CliError('--limit: must be a whole number ≥ 1');
      const list = await readPages<AppView>(
        client,
        '/api/v1/applications',
        APP_PAGE,
        {
          // Given empty, still sent: the hub refuses it by name rather than the CLI listing all.
          ...(o.project !== undefined ? { project: o.project } : {}),
          ...(o.appSet !== undefined ? { appSet: o.appSet } : {}),
          ...(o.parent !== undefined ? { parent: o.parent } : {}),
          ...(o.cluster !== undefined ? { cluster: o.cluster } : {}),
          ...(o.selector !== undefined ? { selector: o.selector } : {}),
          ...(o.sync !== undefined ? { sync: o.sync } : {}),
          ...(o.health !== undefined ? { health: o.health } : {}),
        },
        most,
      );
      print(format, list, () =>
        table(['NAME', 'SYNC', 'HEALTH', 'REVISION', 'CLUSTERS'], list.map(appRow)),
      );
    });
  app.command('get <name>').action(async (name: string) => {
    const { client, format } = opts();
    const a = await client.request<AppView>(
      'GET',
      `/api/v1/applications/${encodeURIComponent(name)}`,
    );
    // App of apps: its children, named with their states (the table view only).
    const children =
      format === 'table'
        ? await client.request<AppView[]>(
            'GET',
            `/api/v1/applications?parent=${encodeURIComponent(name)}&limit=1000`,
          )
        : [];
    print(format, a, () => {
      const head = table(['NAME', 'SYNC', 'HEALTH', 'REVISION', 'CLUSTERS'], [appRow(a)]);
      const per = table(
        ['CLUSTER', 'SYNC', 'HEALTH', 'AGENT', 'REVISION', 'GENERATION', 'MESSAGE'],
        a.status.clusters.map((c) => [
          c.cluster,
          c.sync,
          c.health,
          agentState(c),
          short(c.revision),
          `${c.appliedGeneration}/${c.desiredGeneration}`,
          c.message,
        ]),
      );
      const conds = a.status.conditions.map((c) => `${c.type}: ${c.message}\n`).join('');
      const parent = a.parent ? `child of application ${a.parent}\n` : '';
      const kids = children.length
        ? `child applications: ${children.map((c) => `${c.name} (${c.status.sync}, ${c.status.health})`).join(', ')}\n`
        : '';
      return `${head}${parent}${kids}\n${per}${conds ? `\n${conds}` : ''}`;
    });
  });
  app
    .command('delete <name>')
    .option(
      '--cascade <bool>',
      'false: keep its resources in the clusters, no longer tracked (as argocd app delete --cascade=false)',
      'true',
    )
    .action(async (name: string, o: { cascade: string }) => {
      if (o.cascade !== 'true' && o.cascade !== 'false')
        throw new CliError(`--cascade: must be true or false, not "${o.cascade}"`);
      const { client } = opts();
      const query = o.cascade === 'false' ? '?cascade=false' : '';
      await client.request('DELETE', `/api/v1/applications/${encodeURIComponent(name)}${query}`);
      io.stdout(
        `application "${name}" deleted${o.cascade === 'false' ? ' (its resources kept)' : ''}\n`,
      );
    });

  program
    .command('health')
    .description('assess the health of the objects in a manifest file (offline)')
    .requiredOption('-f, --file <path>', 'file, or - for standard input')
    .action((o: { file: string }) => {
      const objs = parseManifests(read(o.file), o.file);
      const format = program.opts<{ output?: string }>().output ?? 'json';
      const rows = assessHealthOfYamlDocuments(objs);
      if (format === 'json')
        io.stdout(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
      else
        print(parseFormat(format), rows, () =>
          table(
            ['KIND', 'NAME', 'STATUS', 'MESSAGE'],
            rows.map((r) => [r.kind, r.name, r.status, r.message]),
          ),
        );
    });

  const token = program.command('token').description('API tokens (admin)');
  token
    .command('create <name>')
    .description('create an API token and print it (shown once)')
    .addOption(
      new Option('-r, --role <role>', 'admin or readonly')
        .choices(['admin', 'readonly'])
        .default('readonly'),
    )
    .option('--expires-in-hours <n>', 'expiry, in hours', (v) => Number(v))
    .action(async (name: string, o: { role: string; expiresInHours?: number }) => {
      const { client, format } = opts();
      const r = await client.request<{ token: string; info: { name: string; role: string } }>(
        'POST',
        '/api/v1/tokens',
        {
          name,
          role: o.role,
          ...(o.expiresInHours !== undefined ? { expiresInHours: o.expiresInHours } : {}),
        },
      );
      print(
        format,
        r,
        () => `token "${r.info.name}" (${r.info.role}) created; shown once:\n${r.token}\n`,
      );
    });
  token.command('list').action(async () => {
    const { client, format } = opts();
    const list = await client.request<
      {
        name: string;
        role: string;
        expiresAt: string | null;
        revoked: boolean;
        lastUsedAt: string | null;
      }[]
    >('GET', '/api/v1/tokens');
    print(format, list, () =>
      table(
        ['NAME', 'ROLE', 'EXPIRES', 'STATE', 'LAST USED'],
        list.map((t) => [
          t.name,
          t.role,
          t.expiresAt ?? 'never',
          t.revoked ? 'revoked' : 'active',
          t.lastUsedAt ?? '-',
        ]),
      ),
    );
  });
  token.command('revoke <name>').action(async (name: string) => {
    const { client } = opts();
    await client.request('DELETE', `/api/v1/tokens/${encodeURIComponent(name)}`);
    io.stdout(`token "${name}" revoked\n`);
  });

  program
    .command('events')
    .description('the audit log: who changed what, when, with before and after')
    .option('--kind <kind>', 'Cluster, Application, ApplicationSet, ApiToken')
    .option('--name <name>', 'resource name')
    .option('--limit <n>', 'most events to show', '50')
    .action(async (o: { kind?: string; name?: string; limit: string }) => {
      const { client, format } = opts();
      const q = new URLSearchParams({
        limit: o.limit,
        ...(o.kind ? { kind: o.kind } : {}),
        ...(o.name ? { name: o.name } : {}),
      });
      const events = await client.request<
        { id: string; at: string; actor: string; action: string; kind: string; name: string }[]
      >('GET', `/api/v1/events?${q.toString()}`);
      print(format, events, () =>
        table(
          ['TIME', 'ACTOR', 'ACTION', 'RESOURCE'],
          events.map((e) => [e.at, e.actor, e.action, `${e.kind}/${e.name}`]),
        ),
      );
    });

  const appset = registerAppsetCommands(program, io);
  appset
    .command('create')
    .description(
      'create (or, with --dry-run, preview) ApplicationSets from a file: Argo CD YAML or Axle JSON',
    )
    .requiredOption('-f, --file <path>', 'file, or - for standard input')
    .option(
      '--dry-run',
      'show what would be generated, created, updated and deleted; change nothing',
    )
    .action(async (o: { file: string; dryRun?: boolean }) => {
      const { client, format } = opts();
      const previews: DryRun[] = [];
      const created: AppSetView[] = [];
      // One document printed for all of them (a list when several), as `app create` does.
      const report = () =>
        o.dryRun
          ? print(format, oneOrList(previews), () => previews.map(dryRunText).join(''))
          : print(format, oneOrList(created), () => created.map(createdText).join(''));
      for (const doc of readDocuments(read(o.file), o.file)) {
        try {
          if (o.dryRun) {
            previews.push(
              await client.request<DryRun>('POST', '/api/v1/applicationsets/dry-run', doc),
            );
          } else {
            created.push(await client.request<AppSetView>('POST', '/api/v1/applicationsets', doc));
          }
        } catch (e) {
          // Those before it were created (or previewed): say so before the error.
          if (previews.length || created.length) report();
          throw e;
        }
      }
      report();
      // A preview with errors fails, as kubectl's dry runs do. Everything has been printed
      // already: end with the code, silently.
      if (previews.some((r) => r.errors.length > 0)) {
        throw new CommanderError(1, 'axle.appset.failed', '');
      }
    });
  appset
    .command('list')
    .alias('ls')
    .action(async () => {
      const { client, format } = opts();
      const list = await client.request<AppSetView[]>('GET', '/api/v1/applicationsets');
      print(format, list, () => table(['NAME', 'APPS', 'STATUS', 'MESSAGE'], list.map(appSetRow)));
    });
  appset.command('get <name>').action(async (name: string) => {
    const { client, format } = opts();
    const a = await client.request<AppSetView>(
      'GET',
      `/api/v1/applicationsets/${encodeURIComponent(name)}`,
    );
    print(format, a, () => {
      const conds = table(
        ['CONDITION', 'STATUS', 'REASON', 'MESSAGE'],
        a.status.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
      );
      const errs = [
        ...a.status.applicationErrors.map((e) => `error: ${e.name ?? e.path}: ${e.message}\n`),
        ...(a.applicationConditions ?? []).map(
          (c) => `error: ${c.name}: ${c.type}: ${c.message}\n`,
        ),
      ].join('');
      const warns = a.warnings.map((w) => `warning: ${w.path}: ${w.message}\n`).join('');
      return `${table(['NAME', 'APPS', 'STATUS', 'MESSAGE'], [appSetRow(a)])}\n${conds}${errs}${warns}`;
    });
  });
  appset.command('delete <name>').action(async (name: string) => {
    const { client } = opts();
    await client.request('DELETE', `/api/v1/applicationsets/${encodeURIComponent(name)}`);
    io.stdout(`applicationset "${name}" deleted\n`);
  });
  appset
    .command('confirm-deletion <name>')
    .description('let the hub delete the applications its mass-deletion guard is holding back')
    .action(async (name: string) => {
      const { client } = opts();
      const r = await client.request<{ confirmed: string[] }>(
        'POST',
        `/api/v1/applicationsets/${encodeURIComponent(name)}/confirm-deletion`,
      );
      io.stdout(
        r.confirmed.length
          ? `confirmed deletion of: ${r.confirmed.join(', ')}\n`
          : 'nothing is waiting for confirmation\n',
      );
    });

  const context = {
    stdout: io.stdout,
    stderr: io.stderr,
    read,
    documents: readDocuments,
    opts,
    print,
  };
  registerRolloutCommands(program, app, appset, context);
  registerNotifyCommands(program, context);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof CliError) {
      io.stderr(`error: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

/**
 * The token to send to `server`, and what to say when the hub answers 401 without one. A token
 * given (--token, AXLE_TOKEN) goes to any server; the local hub's admin token file only to the
 * local hub, never to a server named elsewhere.
 */
function credentials(
  server: string,
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): [token: string | undefined, options: HubClientOptions] {
  if (flag !== undefined) return [flag, { tokenFrom: '--token' }];
  if (env.AXLE_TOKEN !== undefined) return [env.AXLE_TOKEN, { tokenFrom: 'AXLE_TOKEN' }];
  const file = adminTokenFile(env);
  const token = readToken(file);
  if (token === undefined)
    return [undefined, { noTokenHint: `no token was sent: give --token or AXLE_TOKEN` }];
  if (isLocalHub(server, env)) return [token, { tokenFrom: file }];
  return [
    undefined,
    {
      noTokenHint: `no token was sent: ${file} is sent only to the local hub (${localHubText(env)}); give --token or AXLE_TOKEN for ${server}`,
    },
  ];
}

/** A hub started from this checkout writes its first admin token here (AXLE_DATA_DIR/admin-token). */
function adminTokenFile(env: NodeJS.ProcessEnv): string {
  return join(env.AXLE_DATA_DIR || '.axle', 'admin-token');
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The port the local hub listens on: AXLE_HTTP_PORT, as the hub reads it, else the default. */
function localHubPort(env: NodeJS.ProcessEnv): string {
  return env.AXLE_HTTP_PORT || new URL(DEFAULT_SERVER).port;
}

function localHubText(env: NodeJS.ProcessEnv): string {
  const host = env.AXLE_HTTP_HOST;
  return `a loopback address${host && !isLoopback(host) ? ` or ${host}` : ''}, port ${localHubPort(env)}`;
}

/**
 * Whether `server` is the hub this checkout runs (the one that wrote the admin token file): a
 * loopback address, or the AXLE_HTTP_HOST it is configured with, at its port (AXLE_HTTP_PORT,
 * else the default server's).
 */
export function isLocalHub(server: string, env: NodeJS.ProcessEnv): boolean {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (u.username || u.password) return false;
  const port = u.port || (u.protocol === 'http:' ? '80' : '443');
  if (port !== localHubPort(env)) return false;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const configured = env.AXLE_HTTP_HOST?.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return isLoopback(host) || (!!configured && host === configured);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function keyValues(items: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new CliError(`${flag} "${item}": expected key=value`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

export function readDocuments(text: string, file: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new CliError(`${file}: ${doc.errors[0].message.split('\n')[0]}`);
    const v: unknown = doc.toJS({ maxAliasCount: 100 });
    if (v !== null && v !== undefined) out.push(v);
  }
  if (out.length === 0) throw new CliError(`${file}: no documents`);
  return out;
}

type AppSetView = Schemas['AppSetView'];

type DryRun = ResponseOf<'/api/v1/applicationsets/dry-run', 'post'>;

function appSetRow(a: AppSetView): string[] {
  const bad = a.status.conditions.find(
    (c) =>
      (c.type === 'ErrorOccurred' && c.status === 'True') ||
      (c.type !== 'ErrorOccurred' && c.status === 'False'),
  );
  // Generated applications that fail at reconcile make the ApplicationSet unhealthy too.
  const failing = a.applicationConditions ?? [];
  const first = failing[0];
  return [
    a.name,
    String(a.applications.length),
    bad
      ? bad.reason
      : first
        ? 'ApplicationErrors'
        : a.status.conditions.length
          ? 'Healthy'
          : 'Pending',
    bad?.message ??
      (first
        ? `${new Set(failing.map((f) => f.name)).size} application(s) failing; ${first.name}: ${first.type}: ${first.message}`
        : ''),
  ];
}

function createdText(r: AppSetView): string {
  return [
    `applicationset "${r.name}" created`,
    ...r.warnings.map((w) => `warning: ${w.path}: ${w.message}`),
    '',
  ].join('\n');
}

function dryRunText(r: DryRun): string {
  const lines = [
    ...r.plan.create.map((n) => `create   ${n}`),
    ...r.plan.update.map((n) => `update   ${n}`),
    ...r.plan.delete.map((n) => `delete   ${n}`),
    ...r.pendingDeletion.map((n) => `delete   ${n} (needs confirmation)`),
    ...r.errors.map((e) => `error    ${e.name ?? e.path}: ${e.message}`),
    ...r.warnings.map((w) => `warning  ${w.path}: ${w.message}`),
  ];
  const counts = `${r.applications.length} application(s): ${r.plan.create.length} to create, ${r.plan.update.length} to update, ${r.plan.delete.length} to delete, ${r.plan.unchanged.length} unchanged`;
  return [...lines, counts, ''].join('\n');
}

type ClusterAdded = ResponseOf<'/api/v1/clusters', 'post'>;
type TokenModeAdded = Extract<ClusterAdded, { agentToken: string }>;

/** AXLE_AGENT_AUTH=token: a bearer token instead of an mTLS enrolment kit. */
const tokenMode = (res: ClusterAdded): res is TokenModeAdded => 'agentToken' in res;

/** The install manifest (it holds the bootstrap token: 0600) and the hub CA, where asked for. */
function writeKitFiles(res: ClusterAdded, o: { installManifest?: string; caFile?: string }): void {
  if (tokenMode(res)) return;
  if (o.installManifest) {
    writeFileSync(o.installManifest, res.installManifest, { mode: 0o600 });
  }
  if (o.caFile) writeFileSync(o.caFile, res.caCertificate, { mode: 0o644 });
}

function addedText(res: ClusterAdded, o: { installManifest?: string; caFile?: string }): string {
  const manifestFile = o.installManifest;
  if (tokenMode(res)) {
    return [
      `cluster "${res.cluster.name}" registered`,
      `agent token (shown once): ${res.agentToken}`,
      `run the agent with AXLE_CLUSTER=${res.cluster.name} AXLE_AGENT_TOKEN=<token> AXLE_HUB_ADDRESS=<hub grpc host:port>`,
      '',
    ].join('\n');
  }
  return [
    `cluster "${res.cluster.name}" registered`,
    `bootstrap token (one use, expires ${res.bootstrapTokenExpiresAt}): ${res.bootstrapToken}`,
    manifestFile
      ? `install the agent with: kubectl apply -f ${manifestFile}`
      : 'install the agent with the manifest written by --install-manifest FILE (or installManifest in -o yaml)',
    `the agent enrolls at ${res.enrollAddress} and connects to ${res.hubAddress} with its own certificate`,
    o.caFile
      ? `hub CA written to ${o.caFile} (the agent's AXLE_HUB_CA_FILE)`
      : "write the hub CA for the agent's AXLE_HUB_CA_FILE with --ca-file FILE",
    '',
  ].join('\n');
}

function clusterRow(c: ClusterView): string[] {
  const labels =
    Object.entries(c.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',') || '<none>';
  return [
    c.name,
    c.agent.connected ? `connected (${c.agent.version ?? '?'})` : 'disconnected',
    c.kubernetes?.version ?? '<unknown>',
    labels,
    age(c.createdAt),
  ];
}

function appRow(a: AppView): string[] {
  const n = a.status.clusters.length;
  const synced = a.status.clusters.filter((c) => c.sync === 'Synced').length;
  return [a.name, a.status.sync, a.status.health, short(a.status.revision), `${synced}/${n}`];
}

/**
 * The cluster's agent: `connected`, or how long it has been away. An agent sends a status only
 * when it changes, so a report is current only while its agent is connected.
 */
function agentState(c: { connected: boolean; lastSeenAt: string | null }): string {
  if (c.connected) return 'connected';
  return c.lastSeenAt ? `away ${age(c.lastSeenAt)}` : 'never connected';
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 12) : '-';
}

function age(iso: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
