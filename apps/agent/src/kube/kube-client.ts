import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject, ResourceKey } from '../../../../libs/manifests/src/index.js';
import { mapLimit } from '../../../../libs/workqueue/src/index.js';

/** An API error reduced to what a user needs: the API server's message, HTTP code and reason. */
export class KubeError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly reason = '',
  ) {
    super(message);
  }
}

/** The cluster serves no such kind (yet): a CRD is missing or not established. */
export class NoKindError extends KubeError {
  constructor(apiVersion: string, kind: string) {
    super(`the cluster has no kind ${kind} in ${apiVersion}`, 404, 'NoKind');
  }
}

export function kubeError(e: unknown): KubeError {
  if (e instanceof KubeError) return e;
  const err = e as { code?: unknown; message?: string };
  return new KubeError(err.message ?? String(e), typeof err.code === 'number' ? err.code : 0);
}

export interface ApiResource {
  /** Plural resource name (`configmaps`). */
  name: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
}

export type PropagationPolicy = 'Foreground' | 'Background' | 'Orphan';

export interface RequestOpts {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

export function apiVersionOf(k: Pick<ResourceKey, 'group' | 'version'>): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

const REQUEST_TIMEOUT_MS = 30_000;
/** Credentials (e.g. a projected service account token) are re-read this often. */
const CREDENTIALS_TTL_MS = 60_000;

/**
 * A small JSON client for the Kubernetes API: keep-alive connections, discovery with a cache that
 * can be refreshed (a CRD established after the first lookup), server-side apply, replace, delete,
 * paged lists and watch streams. Credentials come from a kubeconfig via client-node.
 */
export class KubeClient {
  private readonly server: URL;
  private readonly agent: HttpsAgent | undefined;
  private readonly watchAgent: HttpsAgent | undefined;
  private headers: Record<string, string> = {};
  private headersAt = 0;
  private readonly discovery = new Map<string, Promise<Map<string, ApiResource> | null>>();
  private readonly discoveredAt = new Map<string, number>();
  /** The kinds of each group version at its last read (see serverCapabilities). */
  private readonly servedKinds = new Map<string, string[]>();

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    if (this.server.protocol === 'https:') {
      this.agent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
      this.watchAgent = new HttpsAgent({ keepAlive: false });
    }
  }

  static fromKubeconfig(path?: string): KubeClient {
    return new KubeClient(loadKubeConfig(path));
  }

  close(): void {
    this.agent?.destroy();
    this.watchAgent?.destroy();
  }

  // ---- discovery -------------------------------------------------------------------------

  /** The resource serving `kind` in `apiVersion`; throws NoKindError when there is none. */
  async resourceFor(apiVersion: string, kind: string): Promise<ApiResource> {
    let list = await this.discover(apiVersion);
    let r = list?.get(kind);
    if (!r && Date.now() - (this.discoveredAt.get(apiVersion) ?? 0) > 1000) {
      // A CRD may have been established since the last lookup.
      this.invalidate(apiVersion);
      list = await this.discover(apiVersion);
      r = list?.get(kind);
    }
    if (!r) throw new NoKindError(apiVersion, kind);
    return r;
  }

  async isNamespaced(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resourceFor(apiVersion, kind)).namespaced;
  }

  /** Forgets what discovery said about `apiVersion` (all versions when omitted). */
  invalidate(apiVersion?: string): void {
    if (apiVersion) {
      this.discovery.delete(apiVersion);
      this.discoveredAt.delete(apiVersion);
    } else {
      this.discovery.clear();
      this.discoveredAt.clear();
    }
  }

  private discover(apiVersion: string): Promise<Map<string, ApiResource> | null> {
    let p = this.discovery.get(apiVersion);
    if (!p) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      p = this.request<{ resources?: ApiResource[] }>('GET', path).then(
        (body) => {
          const m = new Map<string, ApiResource>();
          for (const r of body.resources ?? []) if (!r.name.includes('/')) m.set(r.kind, r);
          this.discoveredAt.set(apiVersion, Date.now());
          return m;
        },
        (e: unknown) => {
          // Not served: remembered as such, asked again only after a second (see resourceFor).
          if (kubeError(e).code === 404) {
            this.discoveredAt.set(apiVersion, Date.now());
            return null;
          }
          this.discovery.delete(apiVersion);
          throw e;
        },
      );
      this.discovery.set(apiVersion, p);
    }
    return p;
  }

  /**
   * What the API server serves, as Helm's `.Capabilities` and Argo CD see it: its version and
   * every "group/version" and "group/version/Kind" (subresources aside). A group version whose
   * resources cannot be read now (an aggregated API that is down) is listed with the kinds it
   * had at the last read that could (none before one), as client-go's partial discovery keeps it.
   */
  async serverCapabilities(): Promise<{ kubeVersion: string; apiVersions: string[] }> {
    const version = await this.request<{ gitVersion?: string }>('GET', '/version');
    const core = await this.request<{ versions?: string[] }>('GET', '/api');
    const groups = await this.request<{
      groups?: { versions?: { groupVersion: string }[] }[];
    }>('GET', '/apis');
    const groupVersions = [
      ...(core.versions ?? []),
      ...(groups.groups ?? []).flatMap((g) => (g.versions ?? []).map((v) => v.groupVersion)),
    ];
    const out: string[] = [];
    await mapLimit(groupVersions, 4, async (gv) => {
      out.push(gv);
      const path = gv.includes('/') ? `/apis/${gv}` : `/api/${gv}`;
      try {
        const list = await this.request<{ resources?: ApiResource[] }>('GET', path);
        const kinds = (list.resources ?? [])
          .filter((r) => !r.name.includes('/'))
          .map((r) => `${gv}/${r.kind}`);
        this.servedKinds.set(gv, kinds);
        out.push(...kinds);
      } catch {
        // With the kinds it last had (see above): a flapping aggregated API does not make
        // every chart render again each time it comes and goes.
        out.push(...(this.servedKinds.get(gv) ?? []));
      }
    });
    return { kubeVersion: version.gitVersion ?? '', apiVersions: [...new Set(out)].sort() };
  }

  // ---- paths -------------------------------------------------------------------------------

  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const r = await this.resourceFor(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    return r.namespaced && namespace
      ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.name}`
      : `${base}/${r.name}`;
  }

  async objectPath(apiVersion: string, kind: string, name: string, namespace?: string) {
    return `${await this.collectionPath(apiVersion, kind, namespace)}/${encodeURIComponent(name)}`;
  }

  // ---- verbs -------------------------------------------------------------------------------

  async get(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<KubeObject> {
    return this.request('GET', await this.objectPath(apiVersion, kind, name, namespace));
  }

  /** GET that answers undefined for 404. */
  async getOrUndefined(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<KubeObject | undefined> {
    try {
      return await this.get(apiVersion, kind, name, namespace);
    } catch (e) {
      if (kubeError(e).code === 404) return undefined;
      throw e;
    }
  }

  /**
   * Server-side apply (force: the field manager takes over conflicting fields), validated
   * `Strict` (kubectl's default) unless `validate` is false (`Ignore`: kubectl's --validate=false,
   * Argo CD's Validate=false). Apply refuses fields outside the schema either way.
   */
  async apply(
    obj: KubeObject,
    fieldManager: string,
    opts: { dryRun?: boolean; force?: boolean; validate?: boolean } = {},
  ): Promise<KubeObject> {
    const path = await this.objectPath(
      obj.apiVersion,
      obj.kind,
      obj.metadata.name,
      obj.metadata.namespace,
    );
    return this.request('PATCH', path, {
      query: {
        fieldManager,
        force: opts.force ?? true,
        dryRun: opts.dryRun ? 'All' : undefined,
        fieldValidation: fieldValidation(opts.validate),
      },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** PUT (replace), creating the object when it does not exist. Validation as for apply. */
  async replace(obj: KubeObject, fieldManager: string, validate?: boolean): Promise<KubeObject> {
    const { apiVersion, kind, metadata } = obj;
    try {
      const path = await this.objectPath(apiVersion, kind, metadata.name, metadata.namespace);
      const body = { ...obj, metadata: { ...metadata } };
      delete body.metadata.resourceVersion;
      const query = { fieldManager, fieldValidation: fieldValidation(validate) };
      return await this.request('PUT', path, { query, body });
    } catch (e) {
      if (kubeError(e).code !== 404) throw e;
      return this.create(obj, fieldManager, validate);
    }
  }

  async create(obj: KubeObject, fieldManager: string, validate?: boolean): Promise<KubeObject> {
    const path = await this.collectionPath(obj.apiVersion, obj.kind, obj.metadata.namespace);
    const query = { fieldManager, fieldValidation: fieldValidation(validate) };
    return this.request('POST', path, { query, body: obj });
  }

  /** DELETE; a missing object is not an error (returns false). */
  async delete(
    apiVersion: string,
    kind: string,
    name: string,
    namespace: string | undefined,
    propagationPolicy: PropagationPolicy = 'Background',
  ): Promise<boolean> {
    try {
      await this.request('DELETE', await this.objectPath(apiVersion, kind, name, namespace), {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy },
      });
      return true;
    } catch (e) {
      if (kubeError(e).code === 404) return false;
      throw e;
    }
  }

  /** Lists every page (cluster-wide unless `namespace`). */
  async list(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string; limit?: number } = {},
  ): Promise<ListResult> {
    const path = await this.collectionPath(apiVersion, kind, opts.namespace);
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.request<{
        items?: KubeObject[];
        metadata?: { continue?: string; resourceVersion?: string };
      }>('GET', path, {
        query: { labelSelector: opts.labelSelector, limit: opts.limit ?? 500, continue: cont },
      });
      for (const it of page.items ?? []) {
        // List items carry no apiVersion/kind.
        items.push({ ...it, apiVersion, kind });
      }
      cont = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (cont);
    return { items, resourceVersion };
  }

  // ---- transport ---------------------------------------------------------------------------

  /**
   * One request, answered with its JSON body. Like client-go, a request the server turned away
   * for now (429 Too Many Requests: API priority and fairness; or a 5xx with Retry-After) is sent
   * again after the delay it asks for (at most MAX_RETRY_AFTER_S), up to MAX_RETRIES times.
   */
  async request<T>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(method, path, opts, false);
      const text = await readBody(res);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return (text ? JSON.parse(text) : {}) as T;
      const wait = retryAfterMs(status, res.headers['retry-after']);
      if (wait === undefined || attempt >= MAX_RETRIES)
        throw statusError(status, text, method, path);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * Opens a streaming GET (a watch) and calls `onLine` for each line; resolves when the server
   * ends the stream, rejects on errors. `signal` aborts it.
   */
  async stream(
    path: string,
    query: RequestOpts['query'],
    onLine: (line: string) => void,
    signal: AbortSignal,
    idleTimeoutMs: number,
  ): Promise<void> {
    const res = await this.send('GET', path, { query, timeoutMs: idleTimeoutMs }, true, signal);
    const status = res.statusCode ?? 0;
    if (status !== 200) throw statusError(status, await readBody(res), 'GET', path);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) onLine(line);
        }
      });
      res.on('end', () => resolve());
      res.on('error', reject);
      res.on('close', () => resolve());
    });
  }

  private async credentials(): Promise<Record<string, string>> {
    if (Date.now() - this.headersAt < CREDENTIALS_TTL_MS) return this.headers;
    const opts: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (typeof v === 'string' || typeof v === 'number') headers[k] = String(v);
    }
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.headers = headers;
    // One TLS context per credentials, not one per connection (parsing the PEMs is costly).
    this.tls = {
      secureContext: createSecureContext({ ca: opts.ca, cert: opts.cert, key: opts.key }),
      rejectUnauthorized: opts.rejectUnauthorized,
      servername: opts.servername,
    };
    this.headersAt = Date.now();
    return headers;
  }

  private tls: {
    secureContext?: SecureContext;
    rejectUnauthorized?: boolean;
    servername?: string;
  } = {};

  private async send(
    method: string,
    path: string,
    opts: RequestOpts,
    watch: boolean,
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = {
      ...(await this.credentials()),
      Accept: 'application/json',
    };
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const https = url.protocol === 'https:';
    const reqOpts: RequestOptions = {
      method,
      headers,
      agent: watch ? this.watchAgent : this.agent,
      signal,
      ...(https ? this.tls : {}),
    };
    const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(url, reqOpts, resolve);
      req.setTimeout(timeoutMs, () =>
        req.destroy(new KubeError(`${method} ${url.pathname}: timed out after ${timeoutMs} ms`, 0)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

const MAX_RETRIES = 5;
const MAX_RETRY_AFTER_S = 10;

/**
 * How long to wait before sending a request again (undefined: do not): 429 always (1 s when the
 * server names no delay), a 5xx only when it says Retry-After.
 */
export function retryAfterMs(
  status: number,
  header: string | string[] | undefined,
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const seconds = value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
  if (status === 429) return Math.min(seconds ?? 1, MAX_RETRY_AFTER_S) * 1000;
  if (status >= 500 && status < 600 && seconds !== undefined)
    return Math.min(seconds, MAX_RETRY_AFTER_S) * 1000;
  return undefined;
}

function fieldValidation(validate: boolean | undefined): 'Strict' | 'Ignore' {
  return validate === false ? 'Ignore' : 'Strict';
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function statusError(code: number, text: string, method: string, path: string): KubeError {
  let message = `${method} ${path}: HTTP ${code}`;
  let reason = '';
  try {
    const s = JSON.parse(text) as { message?: string; reason?: string };
    if (s.message) message = s.message;
    reason = s.reason ?? '';
  } catch {
    if (text) message = `${message}: ${text.slice(0, 300)}`;
  }
  return new KubeError(message, code, reason);
}
