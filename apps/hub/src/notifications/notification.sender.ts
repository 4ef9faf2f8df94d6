import { Injectable } from '@nestjs/common';
import nodemailer from 'nodemailer';
import { fetchWithin, readBody, redactUrl as redact } from '../common/http-body.js';
import { signature, slackBody, teamsBody, webhookBody, type Outgoing } from './messages.js';

/** A destination with its secrets opened, for one send. */
export type ResolvedDestination =
  | {
      type: 'webhook';
      url: string;
      secret?: string;
      headers?: Record<string, string>;
      timeoutSeconds?: number;
    }
  | { type: 'slack'; url: string; timeoutSeconds?: number }
  | { type: 'teams'; url: string; timeoutSeconds?: number }
  | {
      type: 'email';
      smtp: {
        host: string;
        port: number;
        security: 'tls' | 'starttls' | 'none';
        username?: string;
        password?: string;
      };
      from: string;
      to: string[];
      timeoutSeconds?: number;
    };

/** A send that did not work: `permanent` ones are not retried (a 4xx other than 408/429). */
export class DeliveryFailed extends Error {
  constructor(
    message: string,
    readonly permanent = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_S = 10;
const MAX_RESPONSE_BYTES = 4096;

/**
 * Sends one message to one destination: HTTP POST (webhook, Slack, Teams) or SMTP. No redirects
 * are followed, every call is bounded in time, and answers are read only as far as an error
 * message needs.
 */
@Injectable()
export class NotificationSender {
  async send(dest: ResolvedDestination, o: Outgoing): Promise<void> {
    const timeoutMs = (dest.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000;
    switch (dest.type) {
      case 'webhook': {
        const body = webhookBody(o, new Date());
        const headers: Record<string, string> = {
          ...dest.headers,
          'content-type': 'application/json',
          'idempotency-key': o.key,
          'x-axle-delivery': o.key,
          'x-axle-event': o.trigger,
        };
        if (dest.secret) headers['x-axle-signature-256'] = signature(dest.secret, body);
        return post(dest.url, body, headers, timeoutMs);
      }
      case 'slack':
        return post(dest.url, slackBody(o), { 'content-type': 'application/json' }, timeoutMs);
      case 'teams':
        return post(dest.url, teamsBody(o), { 'content-type': 'application/json' }, timeoutMs);
      case 'email':
        return mail(dest, o, timeoutMs);
    }
  }
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  let res: Response;
  try {
    res = await fetchWithin(
      url,
      { method: 'POST', body, headers: { 'user-agent': 'axle-notifications', ...headers } },
      timeoutMs,
      `POST ${redact(url)}`,
    );
  } catch (e) {
    throw new DeliveryFailed((e as Error).message);
  }
  const text = (await readBody(res, MAX_RESPONSE_BYTES, true).catch(() => ''))
    .slice(0, 300)
    .replace(/\s+/g, ' ')
    .trim();
  if (res.status >= 200 && res.status < 300) return;
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  const after = Number(res.headers.get('retry-after'));
  throw new DeliveryFailed(
    `POST ${redact(url)}: HTTP ${res.status}${text ? `: ${text}` : ''}`,
    !retryable && !(res.status >= 300 && res.status < 400),
    Number.isFinite(after) && after > 0 ? Math.min(after, 3600) * 1000 : undefined,
  );
}

async function mail(
  dest: Extract<ResolvedDestination, { type: 'email' }>,
  o: Outgoing,
  timeoutMs: number,
): Promise<void> {
  const { smtp } = dest;
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    auth: smtp.username ? { user: smtp.username, pass: smtp.password } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  // One overall deadline (the transport's timeouts apply per phase), well inside the lease.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([
      deadline,
      transport.sendMail({
        from: dest.from,
        to: dest.to,
        subject: o.message.title,
        text: o.message.body,
        // The same key on every retry: mail systems and readers can tell repeats apart.
        messageId: `<${o.key}@axle.notifications>`,
        headers: { 'X-Axle-Idempotency-Key': o.key, 'X-Axle-Event': o.trigger },
      }),
    ]);
  } catch (e) {
    const err = e as Error & { responseCode?: number; code?: string };
    // 5xx SMTP replies are permanent (bad recipient, refused), 4xx and network errors transient.
    const permanent = err.responseCode !== undefined && err.responseCode >= 500;
    throw new DeliveryFailed(
      `SMTP ${smtp.host}:${smtp.port}: ${err.message.slice(0, 300)}`,
      permanent,
    );
  } finally {
    clearTimeout(timer);
    transport.close();
  }
}
