import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePull {
  number: number;
  title: string;
  branch: string;
  target: string;
  sha: string;
  labels: string[];
  author: string;
}

/**
 * GitHub, Gitea, GitLab and Bitbucket Server on loopback, as far as pull requests go: each
 * provider's documented REST path, paging and JSON shape, over the same list of pull requests.
 * Records every request's path and headers.
 */
export async function startScmServer(pulls: FakePull[]) {
  const requests: { path: string; headers: IncomingHttpHeaders }[] = [];
  const page = <T>(items: T[], n: number, size: number) => items.slice((n - 1) * size, n * size);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: url.pathname + url.search, headers: req.headers });
    const json = (body: unknown, headers: Record<string, string> = {}) =>
      res
        .writeHead(200, { 'content-type': 'application/json', ...headers })
        .end(JSON.stringify(body));
    const q = (k: string) => url.searchParams.get(k);
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname))) {
      if (m[2] !== 'app') return void res.writeHead(404).end('{"message":"Not Found"}');
      const size = Number(q('per_page') ?? 30);
      return json(
        page(pulls, Number(q('page') ?? 1), size).map((p) => ({
          number: p.number,
          title: p.title,
          head: { ref: p.branch, sha: p.sha },
          base: { ref: p.target },
          labels: p.labels.map((name) => ({ name })),
          user: { login: p.author },
        })),
      );
    }
    if (/^\/api\/v1\/repos\/([^/]+)\/([^/]+)\/pulls$/.test(url.pathname)) {
      const size = Number(q('limit') ?? 50);
      return json(
        page(pulls, Number(q('page') ?? 1), size).map((p) => ({
          number: p.number,
          title: p.title,
          head: { ref: p.branch, sha: p.sha },
          base: { ref: p.target },
          labels: p.labels.map((name) => ({ name })),
          user: { login: p.author },
        })),
      );
    }
    if (/^\/api\/v4\/projects\/[^/]+\/merge_requests$/.exec(url.pathname)) {
      // Two merge requests per page here, to be paged through X-Next-Page.
      const n = Number(q('page') ?? 1);
      const wanted = q('labels')?.split(',') ?? [];
      const list = pulls.filter((p) => wanted.every((l) => p.labels.includes(l)));
      const next = n * 2 < list.length ? String(n + 1) : '';
      return json(
        page(list, n, 2).map((p) => ({
          iid: p.number,
          title: p.title,
          source_branch: p.branch,
          target_branch: p.target,
          sha: p.sha,
          labels: p.labels,
          author: { username: p.author },
        })),
        { 'x-next-page': next },
      );
    }
    if (/^\/rest\/api\/1\.0\/projects\/[^/]+\/repos\/[^/]+\/pull-requests$/.exec(url.pathname)) {
      const start = Number(q('start') ?? 0);
      const limit = Number(q('limit') ?? 25);
      const values = pulls.slice(start, start + limit);
      const last = start + limit >= pulls.length;
      return json({
        values: values.map((p) => ({
          id: p.number,
          title: p.title,
          fromRef: { displayId: p.branch, latestCommit: p.sha },
          toRef: { displayId: p.target },
          author: { user: { name: p.author } },
        })),
        isLastPage: last,
        ...(last ? {} : { nextPageStart: start + limit }),
      });
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
