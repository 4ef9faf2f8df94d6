import { CliError } from './output.js';

/** The hub answered with an error status. */
export class HubError extends CliError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** What a header cannot carry, or should not: control characters and beyond Latin-1. */
// eslint-disable-next-line no-control-regex
const UNSENDABLE = /[\u0000-\u001f\u007f-\u009f]|[^\u0000-\u00ff]/;

export interface HubClientOptions {
  /** Where the token came from (--token, AXLE_TOKEN, a file), for messages about it. */
  tokenFrom?: string;
  /** Added to a 401's message when no token was sent. */
  noTokenHint?: string;
}

/** The hub's REST API as the CLI uses it; errors become messages that name fields. */
export class HubClient {
  private readonly token: string | undefined;

  constructor(
    private readonly server: string,
    token?: string,
    private readonly options: HubClientOptions = {},
  ) {
    // Spaces and line breaks around it are not part of it (a secret pasted with its newline), as
    // fetch itself trims a header value; only what is inside is checked.
    this.token = token?.trim() || undefined;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers = this.headers(body !== undefined);
    let res: Response;
    try {
      res = await fetch(`${this.server.replace(/\/+$/, '')}${path}`, {
        method,
        headers,
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the hub at ${this.server}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      );
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = text;
    }
    if (!res.ok) {
      const d = data as
        { message?: string; fields?: { field: string; reason: string }[] } | undefined;
      const fields = d?.fields?.length
        ? '\n' + d.fields.map((f) => `  ${f.field || '(body)'}: ${f.reason}`).join('\n')
        : '';
      const message = d?.fields?.length ? (d.message ?? '').split(':')[0] : (d?.message ?? text);
      const hint =
        res.status === 401 && !this.token && this.options.noTokenHint
          ? ` (${this.options.noTokenHint})`
          : '';
      throw new HubError(`${res.status} ${message}${hint}${fields}`, res.status);
    }
    return data as T;
  }

  /** The request's headers; a token is never part of a message (fetch's own error prints it). */
  private headers(json: boolean): Headers {
    if (this.token && UNSENDABLE.test(this.token)) {
      const from = this.options.tokenFrom ? ` (from ${this.options.tokenFrom})` : '';
      throw new CliError(
        `the API token${from} contains a control character (a line break, say) or one an HTTP header cannot carry; it was not sent`,
      );
    }
    try {
      return new Headers({
        ...(json ? { 'content-type': 'application/json' } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      });
    } catch {
      // Header values stay out of errors, whatever the reason.
      throw new CliError('the request has a header value HTTP cannot carry; nothing was sent');
    }
  }
}
