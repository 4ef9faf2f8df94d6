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

export interface HubClientOptions {
  /** Added to a 401's message when no token was sent. */
  noTokenHint?: string;
}

/** The hub's REST API as the CLI uses it; errors become messages that name fields. */
export class HubClient {
  constructor(
    private readonly server: string,
    private readonly token?: string,
    private readonly options: HubClientOptions = {},
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.server.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
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
}
