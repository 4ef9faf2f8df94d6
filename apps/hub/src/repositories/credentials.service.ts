import { Injectable } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import type { GitCredentials } from '../../../../libs/git/src/index.js';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound } from '../common/validation.js';
import { SecretBox } from '../secrets/secret-box.js';
import type { RepositoryCredentialEntity } from './repository-credential.entity.js';
import { CredentialsRepository } from './credentials.repository.js';
import type { CreateCredential } from './credentials.schemas.js';

export interface CredentialView {
  urlPrefix: string;
  type: 'https' | 'ssh';
  username: string | null;
  /** Always redacted. */
  secret: '<redacted>';
  knownHosts: string | null;
  createdAt: string;
}

/** Repository credentials, matched by URL prefix, sealed at rest, redacted everywhere. */
@Injectable()
export class CredentialsService {
  constructor(
    private readonly repo: CredentialsRepository,
    private readonly box: SecretBox,
    private readonly audit: AuditService,
  ) {}

  async create(input: CreateCredential): Promise<CredentialView> {
    const secret = input.type === 'https' ? input.password : input.sshPrivateKey;
    try {
      await this.repo.insert({
        urlPrefix: input.urlPrefix,
        type: input.type,
        username: input.type === 'https' ? input.username : null,
        secretSealed: this.box.seal(secret),
        knownHosts: input.type === 'ssh' ? input.knownHosts : null,
      });
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`credentials for "${input.urlPrefix}" already exist`);
      }
      throw e;
    }
    const v = view(await this.get(input.urlPrefix));
    await this.audit.record(
      'credentials.create',
      'RepositoryCredentials',
      input.urlPrefix,
      undefined,
      v,
    );
    return v;
  }

  async list(): Promise<CredentialView[]> {
    return (await this.repo.list()).map(view);
  }

  async delete(urlPrefix: string): Promise<void> {
    const c = await this.get(urlPrefix);
    await this.repo.delete(c.id);
    await this.audit.record(
      'credentials.delete',
      'RepositoryCredentials',
      urlPrefix,
      view(c),
      undefined,
    );
  }

  /** The credentials with the longest URL prefix matching `url`, decrypted, for one git fetch. */
  async forUrl(url: string): Promise<GitCredentials | undefined> {
    // A handful of rows: pick the longest matching prefix here rather than escaping LIKE.
    const c = (await this.repo.list())
      .filter((r) => prefixMatches(r.urlPrefix, url))
      .sort((a, b) => b.urlPrefix.length - a.urlPrefix.length)[0];
    if (!c) return undefined;
    const secret = this.box.open(c.secretSealed);
    return c.type === 'https'
      ? { type: 'https', username: c.username ?? '', password: secret }
      : { type: 'ssh', privateKey: secret, knownHosts: c.knownHosts ?? '' };
  }

  private async get(urlPrefix: string): Promise<RepositoryCredentialEntity> {
    const c = await this.repo.findByPrefix(urlPrefix);
    if (!c) throw new NotFound(`no credentials for "${urlPrefix}"`);
    return c;
  }
}

function view(c: RepositoryCredentialEntity): CredentialView {
  return {
    urlPrefix: c.urlPrefix,
    type: c.type,
    username: c.username,
    secret: '<redacted>',
    knownHosts: c.knownHosts,
    createdAt: c.createdAt.toISOString(),
  };
}

/**
 * Whether credentials for `prefix` may be sent to `url`: same scheme, user-less host and port, and
 * the path continues at a `/` boundary. A plain string prefix would hand `https://git.example.com`
 * credentials to `https://git.example.com.evil.io` or `https://git.example.com@evil.io`.
 */
export function prefixMatches(prefix: string, url: string): boolean {
  const a = parseRepoUrl(prefix);
  const b = parseRepoUrl(url);
  if (!a || !b || b.userinfo || a.scheme !== b.scheme || a.host !== b.host) return false;
  const base = a.path.replace(/\/+$/, '');
  return b.path === base || b.path.startsWith(`${base}/`) || base === '';
}

function parseRepoUrl(
  u: string,
): { scheme: string; userinfo: string; host: string; path: string } | undefined {
  // scp-like git@host:path counts as ssh://git@host/path
  const scp = /^([\w.-]+)@([\w.-]+):(?!\/\/)(.*)$/.exec(u);
  if (scp) return { scheme: 'ssh', userinfo: '', host: scp[2].toLowerCase(), path: `/${scp[3]}` };
  const m = /^([a-z][a-z0-9+.-]*):\/\/(?:([^@/]*)@)?([^/?#]+)([^?#]*)/i.exec(u);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  // ssh URLs name a user (git@) as a matter of course; for http(s) a user part is suspicious.
  const userinfo = scheme === 'ssh' ? '' : (m[2] ?? '');
  return { scheme, userinfo, host: m[3].toLowerCase(), path: m[4] || '/' };
}
