import { CommanderError, type Command } from 'commander';
import type { ResponseOf, Schemas } from '../../../libs/api-client/src/index.js';
import { stringify } from 'yaml';
import { unifiedDiff } from '../../../libs/diff/src/unified.js';
import type { HubClient } from './hub-client.js';
import { HubError } from './hub-client.js';
import { CliError, collect, formatStreamed, table, type OutputFormat } from './output.js';

/** What the command modules share with the CLI's entry point. */
export interface CommandContext {
  stdout(s: string): void;
  stderr(s: string): void;
  read(path: string): string;
  documents(text: string, file: string): unknown[];
  opts(): { client: HubClient; format: OutputFormat };
  print(format: OutputFormat, data: unknown, render: () => string): void;
}

type SyncResult = Schemas['SyncResult'];

type ClusterState = Schemas['ClusterStatusView'];

type HistoryView = ResponseOf<'/api/v1/applications/{name}/history', 'get'>[number];

const WAIT_POLL_MS = 1000;

const appPath = (name: string) => `/api/v1/applications/${encodeURIComponent(name)}`;

/** The rollout named: an ApplicationSet's (RollingSync), else an application's (waves). */
async function rolloutCall(
  client: HubClient,
  name: string,
  method: 'GET' | 'POST',
  suffix = '',
): Promise<RolloutView> {
  const n = encodeURIComponent(name);
  try {
    return await client.request<RolloutView>(
      method,
      `/api/v1/applicationsets/${n}/rollout${suffix}`,
    );
  } catch (e) {
    if (!(e instanceof HubError) || e.status !== 404) throw e;
    return client.request<RolloutView>(method, `/api/v1/applications/${n}/rollout${suffix}`);
  }
}

type RolloutView = Schemas['RolloutView'];

/**
 * Statuses after which `rollout status --watch` stops without the rollout having completed: it
 * then fails (exit 1), as `kubectl rollout status` does. Paused waits for someone to resume it.
 */
const STOPPED = new Set<RolloutView['status']>(['Halted', 'RolledBack', 'Aborted', 'Paused']);

function rolloutText(v: RolloutView): string {
  const [what, step, unit] =
    v.kind === 'app'
      ? ['application', 'wave', 'CLUSTER']
      : ['applicationset', 'step', 'APPLICATION'];
  const head = `${what} "${v.name}": ${v.status}, ${step} ${v.step}${v.message ? `: ${v.message}` : ''}\n`;
  return (
    head +
    table(
      [step.toUpperCase(), 'MAX UPDATE', unit, 'PHASE'],
      v.steps.flatMap((s) =>
        s.units.length
          ? s.units.map((a) => [String(s.step), String(s.maxUpdate), a.name, a.phase])
          : [[String(s.step), String(s.maxUpdate), '-', '-']],
      ),
    )
  );
}

/**
 * Rollout control: `app sync | rollback | history | refresh | auto-sync | apply` and
 * `appset refresh | apply`.
 */
export function registerRolloutCommands(
  program: Command,
  app: Command,
  appset: Command,
  ctx: CommandContext,
): void {
  const rollout = program
    .command('rollout')
    .description("rollouts: an ApplicationSet's RollingSync or an application's waves (by name)");
  rollout
    .command('status <name>')
    .description('progress per step and application')
    .option(
      '-w, --watch',
      'print again on every change until the rollout settles (-o json: one JSON document a line; -o yaml: documents separated by ---): exit 0 once Completed; 1 when Halted, RolledBack, Aborted or Paused, or at --timeout',
    )
    .option('--timeout <seconds>', 'how long --watch follows', '600')
    .action(async (name: string, o: { watch?: boolean; timeout: string }) => {
      const { client, format } = ctx.opts();
      const deadline = Date.now() + seconds(o.timeout);
      let last = '';
      for (;;) {
        const v = await rolloutCall(client, name, 'GET');
        const text = format === 'table' ? rolloutText(v) : JSON.stringify(v);
        if (text !== last) {
          // Followed, each change is a document of its own: NDJSON, or YAML documents.
          if (o.watch && format !== 'table') ctx.stdout(formatStreamed(v, format));
          else ctx.print(format, v, () => rolloutText(v));
        }
        last = text;
        if (!o.watch || v.status === 'Completed') return;
        if (STOPPED.has(v.status)) {
          throw new CliError(
            `rollout of "${name}" is ${v.status}${v.message ? `: ${v.message}` : ''}`,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new CliError(
            `timed out waiting for the rollout of "${name}" to complete (${v.status}, ${v.kind === 'app' ? 'wave' : 'step'} ${v.step})`,
          );
        }
        await new Promise((res) => setTimeout(res, Math.min(WAIT_POLL_MS, left)));
      }
    });
  const actions = {
    pause: 'sync nothing more until resumed',
    resume: 'go on (also after a halt or abort)',
    abort: 'stop this rollout; a new commit starts the next one',
    promote: 'let the wave waiting for promotion start',
  };
  for (const [action, description] of Object.entries(actions)) {
    rollout
      .command(`${action} <name>`)
      .description(description)
      .action(async (name: string) => {
        const { client, format } = ctx.opts();
        const v = await rolloutCall(client, name, 'POST', `/${action}`);
        ctx.print(format, v, () => rolloutText(v));
      });
  }

  deploymentOptions(app.command('sync <name>'))
    .description(
      'deploy the desired state now (an application without automated sync waits for this)',
    )
    .option('--revision <rev>', 'a branch, tag or commit instead of the tracked targetRevision')
    .option('--prune', 'delete what is no longer in the source')
    .action(
      async (
        name: string,
        o: {
          cluster: string[];
          revision?: string;
          prune?: boolean;
          dryRun?: boolean;
          wait?: boolean;
          timeout: string;
        },
      ) => {
        const { client, format } = ctx.opts();
        const r = await client.request<SyncResult>('POST', `${appPath(name)}/sync`, {
          ...(o.cluster.length ? { clusters: o.cluster } : {}),
          ...(o.revision ? { revision: o.revision } : {}),
          ...(o.prune ? { prune: true } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
        });
        ctx.print(format, r, () => syncText(r, 'sync'));
        if (o.wait && !r.dryRun) await waitOrFail(ctx, client, r, seconds(o.timeout));
      },
    );

  deploymentOptions(app.command('rollback <name> <id>'))
    .description("deploy a history entry's bundle again (git is not read); suspends automated sync")

    .action(
      async (
        name: string,
        id: string,
        o: { cluster: string[]; dryRun?: boolean; wait?: boolean; timeout: string },
      ) => {
        if (!/^[1-9]\d{0,15}$/.test(id))
          throw new CliError(`history id "${id}": expected a number`);
        const { client, format } = ctx.opts();
        const r = await client.request<SyncResult>('POST', `${appPath(name)}/rollback`, {
          id: Number(id),
          ...(o.cluster.length ? { clusters: o.cluster } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
        });
        ctx.print(format, r, () => syncText(r, `rollback to #${id}`));
        if (o.wait && !r.dryRun) await waitOrFail(ctx, client, r, seconds(o.timeout));
      },
    );

  app
    .command('diff <name>')
    .description(
      'desired (the current render, or --revision) against live per cluster, kubectl diff style; exit 1 when they differ',
    )
    .option('--cluster <name>', 'only this destination cluster (repeatable)', collect, [])
    .option('--revision <rev>', 'a branch, tag or commit to render and compare instead')
    .action(async (name: string, o: { cluster: string[]; revision?: string }) => {
      const { client, format } = ctx.opts();
      const q = new URLSearchParams();
      for (const c of o.cluster) q.append('cluster', c);
      if (o.revision) q.set('revision', o.revision);
      let d: AppDiff;
      try {
        d = await client.request<AppDiff>('GET', `${appPath(name)}/diff?${q.toString()}`);
      } catch (e) {
        // kubectl diff's convention: 1 means differences, anything above an error.
        throw new CliError((e as Error).message, 2);
      }
      ctx.print(format, d, () => diffText(d));
      // Everything has been printed: end with kubectl diff's code, silently.
      if (d.clusters.some((c) => c.resources.length > 0)) {
        throw new CommanderError(1, 'axle.diff.differs', '');
      }
    });

  app
    .command('history <name>')
    .description('desired states dispatched, newest first, and what became of each per cluster')
    .action(async (name: string) => {
      const { client, format } = ctx.opts();
      const h = await client.request<HistoryView[]>('GET', `${appPath(name)}/history`);
      ctx.print(format, h, () =>
        table(
          ['ID', 'REVISION', 'WHEN', 'BY', 'REASON', 'CLUSTERS'],
          h.map((e) => [
            String(e.id),
            e.revision.slice(0, 12),
            e.recordedAt,
            e.actor,
            e.reason.slice(0, 60),
            e.targets.map((t) => `${t.cluster}=${t.result}`).join(' ') || '-',
          ]),
        ),
      );
    });

  app
    .command('refresh <name>')
    .description("read the application's repository now and reconcile it")
    .action(async (name: string) => {
      const { client } = ctx.opts();
      await client.request('POST', `${appPath(name)}/refresh`);
      ctx.stdout(`application "${name}" refresh requested\n`);
    });

  app
    .command('auto-sync <name>')
    .description('turn automated sync back on (after a rollback) or suspend it')
    .option('--enable', 'sync automatically again (back to what git says)')
    .option('--disable', 'stop syncing automatically until enabled')
    .action(async (name: string, o: { enable?: boolean; disable?: boolean }) => {
      if (!o.enable === !o.disable) throw new CliError('give exactly one of --enable, --disable');
      const { client } = ctx.opts();
      await client.request('PUT', `${appPath(name)}/auto-sync`, { enabled: !!o.enable });
      ctx.stdout(`application "${name}" automated sync ${o.enable ? 'enabled' : 'suspended'}\n`);
    });

  app
    .command('apply')
    .description('create or update applications from a file (kubectl apply style)')
    .requiredOption('-f, --file <path>', 'file, or - for standard input')
    .action(async (o: { file: string }) => {
      await applyAll(ctx, o.file, '/api/v1/applications', 'application');
    });

  appset
    .command('diff <name>')
    .description(
      'what a revision (a branch, say) would change across the fleet: apps added and removed, resources and fields per cluster; exit 1 when anything changes',
    )
    .requiredOption('--revision <rev>', 'branch, tag or commit of the repository')
    .option('--repo <url>', "the repository read at that revision (default: the template's)")
    .action(async (name: string, o: { revision: string; repo?: string }) => {
      const { client, format } = ctx.opts();
      const q = new URLSearchParams({ revision: o.revision, ...(o.repo ? { repo: o.repo } : {}) });
      let p: FleetPreview;
      try {
        p = await client.request<FleetPreview>(
          'GET',
          `/api/v1/applicationsets/${encodeURIComponent(name)}/diff?${q.toString()}`,
        );
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      ctx.print(format, p, () => previewText(p));
      if (p.added.length || p.removed.length || p.changed.length) {
        throw new CommanderError(1, 'axle.diff.differs', '');
      }
    });

  appset
    .command('refresh <name>')
    .description('read the repositories of an ApplicationSet now and evaluate it again')
    .action(async (name: string) => {
      const { client } = ctx.opts();
      await client.request('POST', `/api/v1/applicationsets/${encodeURIComponent(name)}/refresh`);
      ctx.stdout(`applicationset "${name}" refreshed\n`);
    });

  appset
    .command('apply')
    .description('create or update ApplicationSets from a file (kubectl apply style)')
    .requiredOption('-f, --file <path>', 'file, or - for standard input')
    .action(async (o: { file: string }) => {
      await applyAll(ctx, o.file, '/api/v1/applicationsets', 'applicationset');
    });
}

type FleetPreview = Schemas['FleetPreview'];

function previewText(p: FleetPreview): string {
  const lines = [
    `applicationset "${p.applicationSet}" at ${p.revision} (${p.commit.slice(0, 12)}): ${p.added.length} added, ${p.removed.length} removed, ${p.changed.length} changed, ${p.unchanged} unchanged`,
    ...p.added.map((a) => `+ application ${a.name} (${a.clusters.join(', ')})`),
    ...p.removed.map((a) => `- application ${a.name} (${a.clusters.join(', ') || 'no cluster'})`),
    ...p.changes.flatMap((c) => {
      const sign = c.action === 'add' ? '+' : c.action === 'remove' ? '-' : '~';
      const where = `${c.apps} app(s), ${c.clusters} cluster(s): ${c.examples.join(', ')}${c.apps > c.examples.length ? ', …' : ''}`;
      const id = `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}`;
      return [
        `${sign} ${id} — ${where}`,
        ...c.fields.map((f) => `    ${f.path}: ${f.from || '(absent)'} → ${f.to || '(absent)'}`),
      ];
    }),
    ...p.errors.map((e) => `error ${e.name ?? ''}: ${e.message}`),
  ];
  return lines.join('\n') + '\n';
}

type AppDiff = Schemas['AppDiff'];

/** Every differing resource as `diff -u -N live/… desired/…` over sorted YAML. */
function diffText(d: AppDiff): string {
  let out = '';
  for (const c of d.clusters) {
    if (!c.liveKnown)
      out += `# ${c.cluster}: what the agent applied is no longer in the history; not compared\n`;
    for (const r of c.resources) {
      const apiVersion = (r.desired ?? r.live)?.apiVersion ?? r.group;
      const file = `${apiVersion.replace('/', '.')}.${r.kind}.${r.namespace}.${r.name}`.replace(
        '..',
        '.',
      );
      const live = `live/${c.cluster}/${file}`;
      const desired = `desired/${c.cluster}/${file}`;
      out += `diff -u -N ${live} ${desired}\n`;
      out += unifiedDiff(yamlOf(r.live), yamlOf(r.desired), { oldName: live, newName: desired });
    }
  }
  return out;
}

function yamlOf(o: unknown): string {
  return o === null ? '' : stringify(o, { sortMapEntries: true, lineWidth: 0 });
}

/** The options a sync and a rollback share: which clusters, dry run, and following it. */
function deploymentOptions(cmd: Command): Command {
  return cmd
    .option('--cluster <name>', 'only this destination cluster (repeatable)', collect, [])
    .option('--dry-run', 'show what would be deployed where; change nothing')
    .option('--wait', 'follow each cluster until it is synced and healthy, or fails')
    .option('--timeout <seconds>', 'how long --wait waits', '300');
}

/** Create, or (already exists) update, each document of a file. */
async function applyAll(ctx: CommandContext, file: string, base: string, kind: string) {
  const { client } = ctx.opts();
  for (const doc of ctx.documents(ctx.read(file), file)) {
    const name = documentName(doc);
    if (!name) throw new CliError(`${file}: a document has no metadata.name (or name)`);
    try {
      await client.request('POST', base, doc);
      ctx.stdout(`${kind} "${name}" created\n`);
    } catch (e) {
      if (!(e instanceof HubError) || e.status !== 409) throw e;
      await client.request('PUT', `${base}/${encodeURIComponent(name)}`, doc);
      ctx.stdout(`${kind} "${name}" configured\n`);
    }
  }
}

function documentName(doc: unknown): string | undefined {
  const d = doc as { name?: unknown; metadata?: { name?: unknown } } | null;
  const n = d?.metadata?.name ?? d?.name;
  return typeof n === 'string' && n ? n : undefined;
}

function syncText(r: SyncResult, what: string): string {
  const head = `application "${r.application}": ${what} at ${r.revision.slice(0, 12)} (bundle ${r.bundleHash.slice(0, 19)})${r.dryRun ? ', dry run: nothing changed' : r.historyId ? `, history #${r.historyId}` : ''}\n`;
  return (
    head +
    table(
      ['CLUSTER', 'ACTION', 'FROM', 'GENERATION'],
      r.clusters.map((c) => [
        c.cluster,
        c.action,
        c.from ? c.from.revision.slice(0, 12) : '-',
        c.generation === undefined ? '-' : String(c.generation),
      ]),
    ) +
    childrenText(r)
  );
}

/** App of apps: the child applications a sync writes, refuses and deletes. */
function childrenText(r: SyncResult): string {
  const c = r.children;
  if (!c) return '';
  const list = (names: string[]) => (names.length ? names.join(', ') : '(none)');
  return (
    `child applications: ${list(c.applications)}\n` +
    (c.deleted.length ? `deleted (no longer in the manifests): ${list(c.deleted)}\n` : '') +
    c.refused.map((why) => `refused: ${why}\n`).join('')
  );
}

/** Follows a sync per cluster; fails (exit 1) when a cluster fails or time runs out. */
async function waitOrFail(
  ctx: CommandContext,
  client: HubClient,
  r: SyncResult,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const table = ctx.opts().format === 'table';
  const say = (s: string) => (table ? ctx.stdout(s) : ctx.stderr(s));
  const wanted = new Map(
    r.clusters.filter((c) => c.action === 'deploy').map((c) => [c.cluster, c.generation ?? 0]),
  );
  const removed = r.clusters.filter((c) => c.action === 'remove').map((c) => c.cluster);
  const shown = new Map<string, string>();
  const outcome = new Map<string, boolean>();
  for (;;) {
    const a = await client.request<{ status: { clusters: ClusterState[] } }>(
      'GET',
      appPath(r.application),
    );
    const by = new Map(a.status.clusters.map((c) => [c.cluster, c]));
    const states: [string, Progress][] = [
      ...[...wanted].map(([c, gen]): [string, Progress] => [c, progress(by.get(c), gen)]),
      ...removed.map((c): [string, Progress] => [
        c,
        by.has(c) ? { text: 'removing' } : { text: 'removed', done: true, ok: true },
      ]),
    ];
    for (const [cluster, p] of states) {
      if (outcome.has(cluster)) continue;
      // Progress goes with the table; with -o json|yaml, stdout holds the document alone.
      if (shown.get(cluster) !== p.text) say(`${cluster}: ${p.text}\n`);
      shown.set(cluster, p.text);
      if (p.done) outcome.set(cluster, p.ok === true);
    }
    if (outcome.size === states.length) break;
    if (Date.now() > deadline) {
      const left = states.filter(([c]) => !outcome.has(c)).map(([c]) => c);
      throw new CliError(`timed out waiting for ${left.join(', ')}`);
    }
    await new Promise((res) => setTimeout(res, WAIT_POLL_MS));
  }
  const failed = [...outcome].filter(([, ok]) => !ok).map(([c]) => c);
  if (failed.length) {
    throw new CliError(`sync failed on ${failed.length} cluster(s): ${failed.join(', ')}`);
  }
}

interface Progress {
  text: string;
  done?: boolean;
  ok?: boolean;
}

/** Where one cluster is with generation `gen`. */
function progress(c: ClusterState | undefined, gen: number): Progress {
  if (!c) return { text: 'waiting for the hub' };
  if (c.appliedGeneration < gen) {
    return { text: c.ackedGeneration >= gen ? 'received by the agent, applying' : 'sent' };
  }
  const op = c.operation;
  const message = typeof op?.message === 'string' ? op.message : undefined;
  if (op?.phase === 'Running') return { text: `syncing${message ? `: ${message}` : ''}` };
  const retryAt = Number(op?.nextRetryAtUnixMs ?? 0);
  if (op?.phase === 'Failed' && retryAt > 0) {
    // Another attempt is planned (syncPolicy.retry): not the outcome yet.
    const when = new Date(retryAt).toISOString();
    return { text: `failed, retrying at ${when}${message ? `: ${message}` : ''}` };
  }
  if (op?.phase === 'Failed') {
    return { text: `failed: ${message ?? c.message}`, done: true, ok: false };
  }
  const at = `${c.sync} ${c.health} at ${c.revision?.slice(0, 12) ?? '-'}`;
  if (c.health === 'Degraded') return { text: `${at}: ${c.message}`, done: true, ok: false };
  if (c.health === 'Progressing' || c.health === 'Missing') return { text: at };
  return { text: at, done: true, ok: true };
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`--timeout "${v}": expected seconds`);
  return n * 1000;
}
