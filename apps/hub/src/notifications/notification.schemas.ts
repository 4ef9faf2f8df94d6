import { z } from 'zod';
import { TRIGGERS } from './triggers.js';

const name = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lower case, digits, -)');

const httpUrl = z
  .string()
  .max(2048)
  .url()
  .regex(/^https?:\/\//, 'must be an http(s):// URL')
  // fetch refuses them, and would say why with the whole URL in the error that read-only users
  // see in the delivery log: credentials go in `headers` (Authorization) instead.
  .refine((u) => !/^https?:\/\/[^/?#]*@/.test(u), {
    message: 'must not carry credentials (user:password@): put them in headers, e.g. Authorization',
  });

const timeoutSeconds = z.number().int().min(1).max(60).optional();

/** Extra webhook headers: valid names, none that the hub sets itself. */
const headers = z.record(z.string(), z.string().max(4096)).superRefine((h, ctx) => {
  const names = Object.keys(h);
  if (names.length > 20) ctx.addIssue({ code: 'custom', message: 'at most 20 headers' });
  for (const name of names) {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(name))
      ctx.addIssue({ code: 'custom', path: [name], message: 'must be an HTTP header name' });
    else if (/^(content-type|content-length|host|x-axle-.*|idempotency-key)$/i.test(name))
      ctx.addIssue({ code: 'custom', path: [name], message: 'is set by the hub' });
    // What fetch refuses (line breaks, control characters) would fail every send, with the
    // value (a token, often) in the error shown to read-only users.
    else if (/[^\t\x20-\x7e\x80-\xff]/.test(h[name]))
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: 'must be a valid HTTP header value (no line breaks or control characters)',
      });
  }
});

const email = z.string().max(254).email();

export const createDestinationSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('webhook'),
      name,
      url: httpUrl,
      /** Signs each body: X-Axle-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>. */
      secret: z.string().min(16, 'must be at least 16 characters').max(512).optional(),
      /** Extra headers (e.g. Authorization); sealed at rest like the secret. */
      headers: headers.optional(),
      timeoutSeconds,
    })
    .strict(),
  z.object({ type: z.literal('slack'), name, url: httpUrl, timeoutSeconds }).strict(),
  z.object({ type: z.literal('teams'), name, url: httpUrl, timeoutSeconds }).strict(),
  z
    .object({
      type: z.literal('email'),
      name,
      smtp: z
        .object({
          host: z.string().min(1).max(253),
          port: z.number().int().min(1).max(65_535).default(587),
          /** tls: implicit TLS (465); starttls: upgrade required; none: plain (local relays). */
          security: z.enum(['tls', 'starttls', 'none']).default('starttls'),
          username: z.string().min(1).max(255).optional(),
          password: z.string().min(1).max(1024).optional(),
        })
        .strict()
        .refine((s) => (s.username === undefined) === (s.password === undefined), {
          message: 'username and password go together',
          path: ['password'],
        }),
      from: email,
      to: z.array(email).min(1).max(50),
      timeoutSeconds,
    })
    .strict(),
]);
export type CreateDestination = z.output<typeof createDestinationSchema>;
export type DestinationType = CreateDestination['type'];

const pattern = z.string().min(1).max(253);

export const subscriptionSpecSchema = z
  .object({
    name,
    destination: name,
    triggers: z.array(z.enum(TRIGGERS)).min(1).max(TRIGGERS.length),
    /**
     * Which events: every field given must match (names are globs with `*`). Events about an
     * ApplicationSet or a rollout carry no cluster, and cluster events no project or application.
     */
    selector: z
      .object({
        projects: z.array(pattern).min(1).max(50).optional(),
        applications: z.array(pattern).min(1).max(50).optional(),
        applicationSets: z.array(pattern).min(1).max(50).optional(),
        clusterSelector: z
          .object({ matchLabels: z.record(z.string().max(317), z.string().max(63)) })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    /** Go templates (sprig included) for the message; defaults per trigger. */
    template: z
      .object({
        title: z.string().max(4096).optional(),
        body: z.string().max(16_384).optional(),
      })
      .strict()
      .default({}),
    /** The first event of a group waits this long for others to join it (one message). */
    groupWaitSeconds: z.number().int().min(0).max(3600).default(10),
    /** After a message, more events of the same group within this window send one summary. */
    windowSeconds: z.number().int().min(0).max(86_400).default(300),
  })
  .strict();
export type SubscriptionSpec = z.output<typeof subscriptionSpecSchema>;
