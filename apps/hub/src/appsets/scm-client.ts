import { Injectable } from '@nestjs/common';
import { fetchWithin, readBody } from '../common/http-body.js';
import type {
  PullRequest,
  PullRequestGeneratorSpec,
  ScmClient,
  ScmProviderGeneratorSpec,
  ScmRepository,
} from '../../../../libs/generators/src/index.js';
import { CredentialsService } from '../repositories/credentials.service.js';

const TIMEOUT_MS = 30_000;
const MAX_PAGES = 50;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

type Auth = { username: string; password: string } | undefined;

/**
 * Pull requests from GitHub (and GitHub Enterprise), Gitea, GitLab and Bitbucket Server over
 * their REST APIs, as Argo CD's pull request generator reads them. The token (or username and
 * password for Bitbucket Server) is the HTTPS repository credential whose URL prefix matches the
 * API URL. Paged, bounded in pages, bytes and time.
 */
@Injectable()
export class ScmProviders implements ScmClient {
  constructor(private readonly credentials: CredentialsService) {}

  async listPullRequests(spec: PullRequestGeneratorSpec): Promise<PullRequest[]> {
    if (spec.github) return this.github(spec.github);
    if (spec.gitea) return this.gitea(spec.gitea);
    if (spec.gitlab) return this.gitlab(spec.gitlab);
    if (spec.bitbucketServer) return this.bitbucketServer(spec.bitbucketServer);
    throw new Error('no pull request provider given');
  }

  async listRepositories(spec: ScmProviderGeneratorSpec): Promise<ScmRepository[]> {
    const https = spec.cloneProtocol === 'https';
    if (spec.github) return this.githubRepos(spec.github, https);
    if (spec.gitea) return this.giteaRepos(spec.gitea, https);
    if (spec.gitlab) return this.gitlabRepos(spec.gitlab, https);
    if (spec.bitbucketServer) return this.bitbucketRepos(spec.bitbucketServer, https);
    throw new Error('no SCM provider given');
  }

  async pathExists(
    spec: ScmProviderGeneratorSpec,
    repo: ScmRepository,
    path: string,
  ): Promise<boolean> {
    const p = path.split('/').map(enc).join('/');
    const b = enc(repo.branch);
    if (spec.github) {
      const base = githubBase(spec.github.api);
      return exists(
        `${base}/repos/${enc(repo.organization)}/${enc(repo.repository)}/contents/${p}?ref=${b}`,
        await this.githubHeaders(base),
      );
    }
    if (spec.gitea) {
      const base = trim(spec.gitea.api);
      return exists(
        `${base}/api/v1/repos/${enc(repo.organization)}/${enc(repo.repository)}/contents/${p}?ref=${b}`,
        await this.giteaHeaders(base),
      );
    }
    if (spec.gitlab) {
      const base = trim(spec.gitlab.api ?? 'https://gitlab.com');
      const headers = await this.gitlabHeaders(base);
      const id = String(repo.repositoryId);
      if (
        await exists(
          `${base}/api/v4/projects/${id}/repository/files/${enc(path)}?ref=${b}`,
          headers,
        )
      )
        return true;
      // A directory: the tree under it is not empty.
      const { body } = await get(
        `${base}/api/v4/projects/${id}/repository/tree?path=${enc(path)}&ref=${b}&per_page=1`,
        headers,
        true,
      );
      return array(body).length > 0;
    }
    if (spec.bitbucketServer) {
      const base = trim(spec.bitbucketServer.api).replace(/\/rest$/, '');
      return exists(
        `${base}/rest/api/1.0/projects/${enc(repo.organization)}/repos/${enc(repo.repository)}/browse/${p}?at=${b}&type=true`,
        await this.bitbucketHeaders(base),
      );
    }
    return false;
  }

  private async githubHeaders(base: string): Promise<Record<string, string>> {
    const auth = await this.auth(base);
    return {
      accept: 'application/vnd.github+json',
      ...(auth ? { authorization: `Bearer ${auth.password}` } : {}),
    };
  }

  private async giteaHeaders(base: string): Promise<Record<string, string>> {
    const auth = await this.auth(base);
    return auth ? { authorization: `token ${auth.password}` } : {};
  }

  private async gitlabHeaders(base: string): Promise<Record<string, string>> {
    const auth = await this.auth(base);
    return auth ? { 'private-token': auth.password } : {};
  }

  private async bitbucketHeaders(base: string): Promise<Record<string, string>> {
    const auth = await this.auth(base);
    if (auth?.username)
      return {
        authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`,
      };
    return auth ? { authorization: `Bearer ${auth.password}` } : {};
  }

  private async githubRepos(
    g: NonNullable<ScmProviderGeneratorSpec['github']>,
    https: boolean,
  ): Promise<ScmRepository[]> {
    const base = githubBase(g.api);
    const headers = await this.githubHeaders(base);
    const repos = await pagesOf(
      (page) => `${base}/orgs/${enc(g.organization)}/repos?per_page=100&page=${page}`,
      headers,
      100,
    );
    const out: ScmRepository[] = [];
    for (const r of repos) {
      const name = text(r.name);
      const repoBase = `${base}/repos/${enc(g.organization)}/${enc(name)}`;
      const branches = g.allBranches
        ? await pagesOf((page) => `${repoBase}/branches?per_page=100&page=${page}`, headers, 100)
        : await defaultBranch(`${repoBase}/branches`, text(r.default_branch), headers);
      for (const br of branches)
        out.push({
          organization: g.organization,
          repository: name,
          repositoryId: num(r.id),
          url: text(https ? r.clone_url : r.ssh_url),
          branch: text(br.name),
          sha: text(record(br.commit).sha),
          labels: Array.isArray(r.topics) ? r.topics.map(String) : [],
        });
    }
    return out;
  }

  private async giteaRepos(
    g: NonNullable<ScmProviderGeneratorSpec['gitea']>,
    https: boolean,
  ): Promise<ScmRepository[]> {
    const base = trim(g.api);
    const headers = await this.giteaHeaders(base);
    const repos = await pagesOf(
      (page) => `${base}/api/v1/orgs/${enc(g.owner)}/repos?limit=50&page=${page}`,
      headers,
      50,
    );
    const out: ScmRepository[] = [];
    for (const r of repos) {
      const name = text(r.name);
      const repoBase = `${base}/api/v1/repos/${enc(g.owner)}/${enc(name)}`;
      const topics = record((await get(`${repoBase}/topics`, headers)).body).topics;
      const branches = g.allBranches
        ? await pagesOf((page) => `${repoBase}/branches?limit=50&page=${page}`, headers, 50)
        : await defaultBranch(`${repoBase}/branches`, text(r.default_branch), headers);
      for (const br of branches)
        out.push({
          organization: g.owner,
          repository: name,
          repositoryId: num(r.id),
          url: text(https ? r.clone_url : r.ssh_url),
          branch: text(br.name),
          sha: text(record(br.commit).id),
          labels: Array.isArray(topics) ? topics.map(String) : [],
        });
    }
    return out;
  }

  private async gitlabRepos(
    g: NonNullable<ScmProviderGeneratorSpec['gitlab']>,
    https: boolean,
  ): Promise<ScmRepository[]> {
    const base = trim(g.api ?? 'https://gitlab.com');
    const headers = await this.gitlabHeaders(base);
    const query = `per_page=100&include_subgroups=${g.includeSubgroups ? 'true' : 'false'}${g.topic ? `&topic=${enc(g.topic)}` : ''}`;
    const repos = await gitlabPages(
      `${base}/api/v4/groups/${enc(g.group)}/projects?${query}`,
      headers,
    );
    const out: ScmRepository[] = [];
    for (const r of repos) {
      const id = num(r.id);
      const branchBase = `${base}/api/v4/projects/${id}/repository/branches`;
      const branches = g.allBranches
        ? await pagesOf((p) => `${branchBase}?per_page=100&page=${p}`, headers, 100)
        : await defaultBranch(branchBase, text(r.default_branch), headers);
      for (const br of branches)
        out.push({
          organization: text(record(r.namespace).full_path),
          repository: text(r.path),
          repositoryId: id,
          url: text(https ? r.http_url_to_repo : r.ssh_url_to_repo),
          branch: text(br.name),
          sha: text(record(br.commit).id),
          labels: Array.isArray(r.topics) ? r.topics.map(String) : [],
        });
    }
    return out;
  }

  private async bitbucketRepos(
    g: NonNullable<ScmProviderGeneratorSpec['bitbucketServer']>,
    https: boolean,
  ): Promise<ScmRepository[]> {
    const base = trim(g.api).replace(/\/rest$/, '');
    const headers = await this.bitbucketHeaders(base);
    const project = `${base}/rest/api/1.0/projects/${enc(g.project)}`;
    const repos = await bitbucketPages(`${project}/repos?limit=100`, headers);
    const out: ScmRepository[] = [];
    for (const r of repos) {
      const slug = text(r.slug);
      const links = array(record(r.links).clone);
      const link = links.find((l) => l.name === (https ? 'http' : 'ssh'));
      const branches = g.allBranches
        ? await bitbucketPages(`${project}/repos/${enc(slug)}/branches?limit=100`, headers)
        : await defaultBranch(`${project}/repos/${enc(slug)}/branches`, 'default', headers);
      for (const br of branches)
        out.push({
          organization: g.project,
          repository: slug,
          repositoryId: num(r.id),
          url: text(link?.href),
          branch: text(br.displayId),
          sha: text(br.latestCommit),
          labels: [],
        });
    }
    return out;
  }

  private async auth(base: string): Promise<Auth> {
    const c = await this.credentials.forUrl(base);
    return c?.type === 'https' ? { username: c.username, password: c.password } : undefined;
  }

  private async github(g: NonNullable<PullRequestGeneratorSpec['github']>): Promise<PullRequest[]> {
    const base = githubBase(g.api);
    const list = await pagesOf(
      (page) =>
        `${base}/repos/${enc(g.owner)}/${enc(g.repo)}/pulls?state=open&per_page=100&page=${page}`,
      await this.githubHeaders(base),
      100,
    );
    return list.map(fromGithubLike).filter((p) => hasLabels(p, g.labels));
  }

  private async gitea(g: NonNullable<PullRequestGeneratorSpec['gitea']>): Promise<PullRequest[]> {
    const base = trim(g.api);
    const list = await pagesOf(
      (page) =>
        `${base}/api/v1/repos/${enc(g.owner)}/${enc(g.repo)}/pulls?state=open&limit=50&page=${page}`,
      await this.giteaHeaders(base),
      50,
    );
    return list.map(fromGithubLike).filter((p) => hasLabels(p, g.labels));
  }

  private async gitlab(g: NonNullable<PullRequestGeneratorSpec['gitlab']>): Promise<PullRequest[]> {
    const base = trim(g.api ?? 'https://gitlab.com');
    const query = [
      'per_page=100',
      ...(g.pullRequestState ? [`state=${enc(g.pullRequestState)}`] : []),
      ...(g.labels?.length ? [`labels=${enc(g.labels.join(','))}`] : []),
    ].join('&');
    const list = await gitlabPages(
      `${base}/api/v4/projects/${enc(g.project)}/merge_requests?${query}`,
      await this.gitlabHeaders(base),
    );
    return list.map((m) => ({
      number: num(m.iid),
      title: text(m.title),
      branch: text(m.source_branch),
      targetBranch: text(m.target_branch),
      headSha: text(m.sha),
      labels: Array.isArray(m.labels) ? m.labels.map(String) : [],
      author: text(record(m.author).username),
    }));
  }

  private async bitbucketServer(
    g: NonNullable<PullRequestGeneratorSpec['bitbucketServer']>,
  ): Promise<PullRequest[]> {
    const base = trim(g.api).replace(/\/rest$/, '');
    const list = await bitbucketPages(
      `${base}/rest/api/1.0/projects/${enc(g.project)}/repos/${enc(g.repo)}/pull-requests?state=OPEN&limit=100`,
      await this.bitbucketHeaders(base),
    );
    return list.map((p) => {
      const from = record(p.fromRef);
      return {
        number: num(p.id),
        title: text(p.title),
        branch: text(from.displayId),
        targetBranch: text(record(p.toRef).displayId),
        headSha: text(from.latestCommit),
        labels: [],
        author: text(record(record(p.author).user).name),
      };
    });
  }
}

function fromGithubLike(p: Record<string, unknown>): PullRequest {
  const head = (p.head ?? {}) as Record<string, unknown>;
  const base = (p.base ?? {}) as Record<string, unknown>;
  return {
    number: num(p.number),
    title: text(p.title),
    branch: text(head.ref),
    targetBranch: text(base.ref),
    headSha: text(head.sha),
    labels: array(p.labels).map((l) => text(l.name)),
    author: text((p.user as Record<string, unknown> | undefined)?.login),
  };
}

function hasLabels(p: PullRequest, wanted: string[] | undefined): boolean {
  return (wanted ?? []).every((l) => p.labels.includes(l));
}

/** A 404: the repository (or path) does not exist (`notFound`, read by the generators). */
class NotFoundError extends Error {
  readonly notFound = true;
}

/** A list longer than MAX_PAGES pages: refused rather than cut (a cut list would delete apps). */
function tooMany(url: string): Error {
  return new Error(`${redactQuery(url)}: more than ${MAX_PAGES} pages`);
}

async function get(
  url: string,
  headers: Record<string, string>,
  anyBody = false,
): Promise<{ body: unknown; res: Response }> {
  const res = await fetchWithin(
    url,
    { headers: { 'user-agent': 'axle-applicationset', ...headers } },
    TIMEOUT_MS,
    redactQuery(url),
  );
  const raw = await readBody(res, MAX_RESPONSE_BYTES);
  if (res.status === 404) throw new NotFoundError(`repository not found (${redactQuery(url)})`);
  if (res.status < 200 || res.status >= 300)
    throw new Error(`${redactQuery(url)}: HTTP ${res.status}: ${raw.slice(0, 200)}`);
  try {
    return { body: JSON.parse(raw) as unknown, res };
  } catch {
    if (anyBody) return { body: raw, res };
    throw new Error(`${redactQuery(url)}: the answer is not JSON`);
  }
}

const trim = (u: string) => u.replace(/\/+$/, '');
const enc = encodeURIComponent;
const redactQuery = (u: string) => u.replace(/\?.*$/, '');
const text = (v: unknown) =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
const num = (v: unknown) => (typeof v === 'number' ? v : Number(v) || 0);
function array(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v)
    ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null)
    : [];
}

function githubBase(api: string | undefined): string {
  // go-github's enterprise client adds api/v3/ to a GitHub Enterprise URL.
  if (!api) return 'https://api.github.com';
  return /\/api\/v3$/.test(trim(api)) ? trim(api) : `${trim(api)}/api/v3`;
}

/** Pages of a list API answering plain arrays (GitHub, Gitea), until a short page. */
async function pagesOf(
  url: (page: number) => string,
  headers: Record<string, string>,
  size: number,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let page = 1; ; page++) {
    if (page > MAX_PAGES) throw tooMany(url(page));
    const list = array((await get(url(page), headers)).body);
    out.push(...list);
    if (list.length < size) return out;
  }
}

/** GitLab's paging: the next page is in `X-Next-Page` (empty on the last). */
async function gitlabPages(
  url: string,
  headers: Record<string, string>,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let page = '1';
  for (let n = 0; page; n++) {
    if (n >= MAX_PAGES) throw tooMany(url);
    const { body, res } = await get(`${url}&page=${page}`, headers);
    out.push(...array(body));
    page = res.headers.get('x-next-page') ?? '';
  }
  return out;
}

/** Bitbucket Server's paging: `values`, `isLastPage`, `nextPageStart`. */
async function bitbucketPages(
  url: string,
  headers: Record<string, string>,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start = 0;
  for (let n = 0; ; n++) {
    if (n >= MAX_PAGES) throw tooMany(url);
    const page = record((await get(`${url}&start=${start}`, headers)).body);
    out.push(...array(page.values));
    if (page.isLastPage !== false || typeof page.nextPageStart !== 'number') return out;
    start = page.nextPageStart;
  }
}

/**
 * A repository's default branch, or none: an empty repository has none (no name, or a 404),
 * and is skipped rather than failing the generator, as in Argo CD.
 */
async function defaultBranch(
  branches: string,
  name: string,
  headers: Record<string, string>,
): Promise<Record<string, unknown>[]> {
  if (!name) return [];
  try {
    return [record((await get(`${branches}/${enc(name)}`, headers)).body)];
  } catch (e) {
    if (e instanceof NotFoundError) return [];
    throw e;
  }
}

/** 200: exists; 404: does not; anything else is an error. */
async function exists(url: string, headers: Record<string, string>): Promise<boolean> {
  try {
    await get(url, headers, true);
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}
