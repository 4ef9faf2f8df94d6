/**
 * Reads a fetch response's body as text, at most `maxBytes`: beyond, the body is cancelled and
 * an error says so (`truncate`: the first `maxBytes` are returned instead, for error messages).
 */
export async function readBody(res: Response, maxBytes: number, truncate = false): Promise<string> {
  if (!res.body) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
      if (size > maxBytes) {
        if (truncate) break;
        throw new Error(`the answer is larger than ${maxBytes} bytes`);
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(parts)
    .toString('utf8')
    .slice(0, truncate ? maxBytes : undefined);
}

/**
 * `fetch` bounded in time that follows no redirect; a failure to get any answer becomes an
 * error `<label>: <reason>` (the reason: no answer in time, or the network error's code).
 */
export async function fetchWithin(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  label: string,
): Promise<Response> {
  try {
    return await fetch(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    // Never the error's own message when it has no cause: fetch's quotes the URL, whose query
    // or user part may hold a secret, and this reason is shown to read-only users.
    const reason =
      err.name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000} s`
        : (err.cause?.code ??
          (err.cause?.message ? redactUrls(err.cause.message) : undefined) ??
          `${err.name}: the request could not be made`);
    throw new Error(`${label}: ${reason}`, { cause: e });
  }
}

/** A URL as errors and views show it: its origin only (a webhook's path or query is a secret). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === '/' ? u.origin : `${u.origin}/…`;
  } catch {
    return '<url>';
  }
}

/** URLs in a message, each reduced as redactUrl does. */
function redactUrls(message: string): string {
  return message.replace(/\bhttps?:\/\/[^\s'"]+/g, redactUrl);
}
