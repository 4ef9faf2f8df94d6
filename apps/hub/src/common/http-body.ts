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
