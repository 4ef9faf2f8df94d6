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

export interface FakeRepo {
  id: number;
  name: string;
  defaultBranch: string;
  topics: string[];
  /** Branch → head commit. */
  branches: Record<string, string>;
  /** Paths (files and directories) per branch. */
  paths: Record<string, string[]>;
}

/**
 * GitHub, Gitea, GitLab and Bitbucket Server on loopback, as far as pull requests and an
 * organization's repositories go: each provider's documented REST paths, paging and JSON shapes,
 * over the same data (organization `team`, project `TEAM`). Records every request's path and
 * headers.
 */
export async function startScmServer(pulls: FakePull[], repos: FakeRepo[] = []) {
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
    if (
      repoRoute(repos, url, `http://${req.headers.host}`, json, () => res.writeHead(404).end('{}'))
    )
      return;
    // --- pull requests ---
    // GitHub (v3) and Gitea (v1) answer pull requests in the same shape.
    if ((m = /^\/api\/(v3|v1)\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname))) {
      if (m[1] === 'v3' && m[3] !== 'app')
        return void res.writeHead(404).end('{"message":"Not Found"}');
      const size = Number(q(m[1] === 'v3' ? 'per_page' : 'limit') ?? 30);
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

/** The repository routes of each provider (SCM provider generator); true when one answered. */
function repoRoute(
  repos: FakeRepo[],
  url: URL,
  origin: string,
  send: (body: unknown, headers?: Record<string, string>) => void,
  notFound: () => void,
): boolean {
  const q = (k: string) => url.searchParams.get(k);
  const page = <T>(items: T[], n: number, size: number) => items.slice((n - 1) * size, n * size);
  const ok = (body: unknown, headers?: Record<string, string>) => {
    send(body, headers);
    return true;
  };
  const missing = () => {
    notFound();
    return true;
  };
  let m: RegExpExecArray | null;
  const repoNamed = (name: string) => repos.find((r) => r.name === name || String(r.id) === name);
  const branchList = (r: FakeRepo) => Object.entries(r.branches);
  const has = (r: FakeRepo | undefined, branch: string | null, path: string) =>
    !!r &&
    (r.paths[branch ?? r.defaultBranch] ?? []).some((p) => p === path || p.startsWith(`${path}/`));
  // --- repositories (SCM provider generator) ---
  if (url.pathname === '/api/v3/orgs/team/repos')
    return ok(
      page(repos, Number(q('page') ?? 1), Number(q('per_page') ?? 30)).map((r) => ({
        id: r.id,
        name: r.name,
        clone_url: `${origin}/team/${r.name}.git`,
        ssh_url: `git@scm.local:team/${r.name}.git`,
        default_branch: r.defaultBranch,
        topics: r.topics,
      })),
    );
  if ((m = /^\/api\/(v3|v1)\/repos\/team\/([^/]+)\/branches(?:\/([^/]+))?$/.exec(url.pathname))) {
    const r = repoNamed(m[2]);
    if (!r) return missing();
    const shape = (name: string, sha: string) =>
      m![1] === 'v3' ? { name, commit: { sha } } : { name, commit: { id: sha } };
    if (m[3]) {
      const b = decodeURIComponent(m[3]);
      return r.branches[b] ? ok(shape(b, r.branches[b])) : missing();
    }
    return ok(branchList(r).map(([b, sha]) => shape(b, sha)));
  }
  if ((m = /^\/api\/(v3|v1)\/repos\/team\/([^/]+)\/contents\/(.+)$/.exec(url.pathname))) {
    const path = decodeURIComponent(m[3]);
    return has(repoNamed(m[2]), q('ref'), path) ? ok({ path }) : missing();
  }
  if (url.pathname === '/api/v1/orgs/team/repos')
    return ok(
      page(repos, Number(q('page') ?? 1), Number(q('limit') ?? 30)).map((r) => ({
        id: r.id,
        name: r.name,
        clone_url: `${origin}/team/${r.name}.git`,
        ssh_url: `git@scm.local:team/${r.name}.git`,
        default_branch: r.defaultBranch,
      })),
    );
  if ((m = /^\/api\/v1\/repos\/team\/([^/]+)\/topics$/.exec(url.pathname)))
    return ok({ topics: repoNamed(m[1])?.topics ?? [] });
  if (url.pathname === '/api/v4/groups/team/projects')
    return ok(
      repos.map((r) => ({
        id: r.id,
        path: r.name,
        namespace: { full_path: 'team' },
        ssh_url_to_repo: `git@scm.local:team/${r.name}.git`,
        http_url_to_repo: `${origin}/team/${r.name}.git`,
        default_branch: r.defaultBranch,
        topics: r.topics,
      })),
      { 'x-next-page': '' },
    );
  if ((m = /^\/api\/v4\/projects\/(\d+)\/repository\/branches(?:\/([^/]+))?$/.exec(url.pathname))) {
    const r = repoNamed(m[1])!;
    if (m[2]) {
      const b = decodeURIComponent(m[2]);
      return ok({ name: b, commit: { id: r.branches[b] } });
    }
    return ok(
      branchList(r).map(([name, id]) => ({ name, commit: { id } })),
      { 'x-next-page': '' },
    );
  }
  if ((m = /^\/api\/v4\/projects\/(\d+)\/repository\/files\/(.+)$/.exec(url.pathname))) {
    const r = repoNamed(m[1]);
    const path = decodeURIComponent(m[2]);
    return r && (r.paths[q('ref') ?? r.defaultBranch] ?? []).includes(path)
      ? ok({ file_path: path })
      : missing();
  }
  if ((m = /^\/api\/v4\/projects\/(\d+)\/repository\/tree$/.exec(url.pathname))) {
    const r = repoNamed(m[1]);
    const dir = q('path') ?? '';
    const under = (r?.paths[q('ref') ?? ''] ?? []).filter((p) => p.startsWith(`${dir}/`));
    return ok(under.slice(0, 1).map((p) => ({ path: p })));
  }
  if (url.pathname === '/rest/api/1.0/projects/TEAM/repos')
    return ok({
      values: repos.map((r) => ({
        slug: r.name,
        id: r.id,
        links: {
          clone: [
            { name: 'ssh', href: `ssh://git@scm.local:7999/team/${r.name}.git` },
            { name: 'http', href: `${origin}/scm/team/${r.name}.git` },
          ],
        },
      })),
      isLastPage: true,
    });
  if (
    (m = /^\/rest\/api\/1\.0\/projects\/TEAM\/repos\/([^/]+)\/branches(\/default)?$/.exec(
      url.pathname,
    ))
  ) {
    const r = repoNamed(m[1])!;
    if (m[2]) return ok({ displayId: r.defaultBranch, latestCommit: r.branches[r.defaultBranch] });
    return ok({
      values: branchList(r).map(([displayId, latestCommit]) => ({ displayId, latestCommit })),
      isLastPage: true,
    });
  }
  if (
    (m = /^\/rest\/api\/1\.0\/projects\/TEAM\/repos\/([^/]+)\/browse\/(.+)$/.exec(url.pathname))
  ) {
    const path = decodeURIComponent(m[2]);
    return has(repoNamed(m[1]), q('at'), path) ? ok({ path: { toString: path } }) : missing();
  }
  return false;
}
