import type { Command } from 'commander';
import type { Schemas } from '../../../libs/api-client/src/index.js';
import { CliError, collect, oneOrList, table } from './output.js';
import type { CommandContext } from './rollout-commands.js';

type DestinationView = Schemas['DestinationView'];

type SubscriptionView = Schemas['SubscriptionView'];

type DeliveryView = Schemas['DeliveryView'];

const path = (kind: string, name = '') =>
  `/api/v1/notifications/${kind}${name ? `/${encodeURIComponent(name)}` : ''}`;

function selectorText(s: Record<string, unknown>): string {
  const parts = Object.entries(s).map(([k, v]) =>
    k === 'clusterSelector'
      ? `clusters: ${Object.entries((v as { matchLabels: Record<string, string> }).matchLabels)
          .map(([l, x]) => `${l}=${x}`)
          .join(',')}`
      : `${k}: ${(v as string[]).join(',')}`,
  );
  return parts.join('; ') || 'everything';
}

/** `axle notify`: destinations, subscriptions, test messages and the outbox. */
export function registerNotifyCommands(program: Command, ctx: CommandContext): void {
  const notify = program
    .command('notify')
    .description('notifications: destinations, subscriptions, test messages, deliveries');

  const dest = notify.command('destination').description('where messages go');
  dest
    .command('add [name]')
    .description(
      'add a destination from -f FILE (any type, email included) or from flags (webhook, slack, teams)',
    )
    .option('-f, --file <file>', 'YAML or JSON: {name, type, ...}')
    .option('--type <type>', 'webhook | slack | teams')
    .option('--url <url>', 'the endpoint (for Slack and Teams, the incoming webhook URL)')
    .option(
      '--secret-env <var>',
      'webhook: sign bodies with the secret in this environment variable',
    )
    .option('--header <name=value>', 'webhook: an extra header (repeatable)', collect, [])
    .option('--timeout <seconds>', 'how long one send may take')
    .action(
      async (
        name: string | undefined,
        o: {
          file?: string;
          type?: string;
          url?: string;
          secretEnv?: string;
          header: string[];
          timeout?: string;
        },
      ) => {
        const { client, format } = ctx.opts();
        let bodies: unknown[];
        if (o.file) {
          bodies = ctx.documents(ctx.read(o.file), o.file);
        } else {
          if (!name || !o.type) throw new CliError('give NAME and --type, or -f FILE');
          const secret = o.secretEnv ? process.env[o.secretEnv] : undefined;
          if (o.secretEnv && !secret)
            throw new CliError(`environment variable ${o.secretEnv} is not set`);
          const headers = Object.fromEntries(
            o.header.map((h) => {
              const i = h.indexOf('=');
              if (i <= 0) throw new CliError(`--header ${h}: expected NAME=VALUE`);
              return [h.slice(0, i), h.slice(i + 1)];
            }),
          );
          bodies = [
            {
              name,
              type: o.type,
              url: o.url,
              ...(secret ? { secret } : {}),
              ...(o.header.length ? { headers } : {}),
              ...(o.timeout ? { timeoutSeconds: Number(o.timeout) } : {}),
            },
          ];
        }
        const added: DestinationView[] = [];
        // One document printed for all of them (a list when several), as `app create` does.
        const report = () =>
          ctx.print(format, oneOrList(added), () =>
            added.map((d) => `destination "${d.name}" (${d.type}) added\n`).join(''),
          );
        for (const body of bodies) {
          try {
            added.push(await client.request<DestinationView>('POST', path('destinations'), body));
          } catch (e) {
            if (added.length) report();
            throw e;
          }
        }
        report();
      },
    );
  dest.command('list').action(async () => {
    const { client, format } = ctx.opts();
    const list = await client.request<DestinationView[]>('GET', path('destinations'));
    ctx.print(format, list, () =>
      table(
        ['NAME', 'TYPE', 'TARGET'],
        list.map((d) => [
          d.name,
          d.type,
          d.type === 'email'
            ? `${(d.config.to as string[]).join(', ')} via ${(d.config.smtp as { host: string }).host}`
            : String(d.config.url),
        ]),
      ),
    );
  });
  dest.command('delete <name>').action(async (name: string) => {
    const { client } = ctx.opts();
    await client.request('DELETE', path('destinations', name));
    ctx.stdout(`destination "${name}" deleted\n`);
  });

  notify
    .command('test <destination>')
    .description('send a sample message now; exit 1 with the reason when it does not arrive')
    .option('--trigger <trigger>', 'the sample event', 'on-sync-succeeded')
    .action(async (name: string, o: { trigger: string }) => {
      const { client, format } = ctx.opts();
      const r = await client.request<{ idempotencyKey: string }>(
        'POST',
        `${path('destinations', name)}/test`,
        { trigger: o.trigger },
      );
      ctx.print(
        format,
        r,
        () => `sent a sample ${o.trigger} message to "${name}" (${r.idempotencyKey})\n`,
      );
    });

  const sub = notify.command('subscription').description('who hears what');
  sub
    .command('apply')
    .description('create or replace subscriptions from a YAML or JSON file (one per document)')
    .requiredOption('-f, --file <file>', 'the subscriptions')
    .action(async (o: { file: string }) => {
      const { client } = ctx.opts();
      for (const doc of ctx.documents(ctx.read(o.file), o.file)) {
        const name = (doc as { name?: unknown }).name;
        if (typeof name !== 'string' || !name)
          throw new CliError(`${o.file}: a subscription needs a name`);
        const r = await client.request<{ created: boolean }>(
          'PUT',
          path('subscriptions', name),
          doc,
        );
        ctx.stdout(`subscription "${name}" ${r.created ? 'created' : 'configured'}\n`);
      }
    });
  sub.command('list').action(async () => {
    const { client, format } = ctx.opts();
    const list = await client.request<SubscriptionView[]>('GET', path('subscriptions'));
    ctx.print(format, list, () =>
      table(
        ['NAME', 'DESTINATION', 'TRIGGERS', 'SELECTOR'],
        list.map((s) => [s.name, s.destination, s.triggers.join(','), selectorText(s.selector)]),
      ),
    );
  });
  sub.command('delete <name>').action(async (name: string) => {
    const { client } = ctx.opts();
    await client.request('DELETE', path('subscriptions', name));
    ctx.stdout(`subscription "${name}" deleted\n`);
  });

  notify
    .command('deliveries')
    .description('the outbox, newest first (Dead: given up, see LAST ERROR)')
    .option('--status <status>', 'Pending | Delivered | Dead')
    .option('--subscription <name>', 'only this subscription')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: { status?: string; subscription?: string; limit: string }) => {
      const { client, format } = ctx.opts();
      const q = new URLSearchParams({ limit: o.limit });
      if (o.status) q.set('status', o.status);
      if (o.subscription) q.set('subscription', o.subscription);
      const list = await client.request<DeliveryView[]>(
        'GET',
        `${path('deliveries')}?${q.toString()}`,
      );
      ctx.print(format, list, () =>
        table(
          ['ID', 'SUBSCRIPTION', 'TRIGGER', 'SUBJECT', 'COUNT', 'STATUS', 'ATTEMPTS', 'LAST ERROR'],
          list.map((d) => [
            String(d.id),
            d.subscription,
            d.trigger,
            d.subject,
            String(d.count),
            d.status,
            String(d.attempts),
            d.lastError.slice(0, 80),
          ]),
        ),
      );
    });
  notify
    .command('retry <id>')
    .description('send a dead delivery again')
    .action(async (id: string) => {
      const { client } = ctx.opts();
      await client.request('POST', `${path('deliveries', id)}/retry`);
      ctx.stdout(`delivery ${id} queued again\n`);
    });
}
