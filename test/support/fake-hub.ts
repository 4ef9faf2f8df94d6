import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a fake hub received. */
export interface SeenRequest {
  method: string;
  url: string;
  authorization?: string;
  body: string;
}

export interface FakeHub {
  url: string;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** A stand-in hub on 127.0.0.1 for CLI specs: records each request and answers with `answer`. */
export async function fakeHub(
  answer: (req: SeenRequest, res: ServerResponse) => void = (_, res) => json(res, 200, []),
): Promise<FakeHub> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
