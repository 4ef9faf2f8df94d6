import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import type { IgnoreRule } from '../../../../libs/diff/src/index.js';
import type { PropagationPolicy } from '../kube/kube-client.js';

export const ARGO_SYNC_OPTIONS = 'argocd.argoproj.io/sync-options';
export const AXLE_SYNC_OPTIONS = 'app.axle.io/sync-options';
export const ARGO_SYNC_WAVE = 'argocd.argoproj.io/sync-wave';
export const AXLE_SYNC_WAVE = 'app.axle.io/sync-wave';
export const ARGO_HOOK = 'argocd.argoproj.io/hook';
export const ARGO_HOOK_DELETE_POLICY = 'argocd.argoproj.io/hook-delete-policy';
export const HELM_HOOK = 'helm.sh/hook';
export const HELM_HOOK_WEIGHT = 'helm.sh/hook-weight';
export const HELM_HOOK_DELETE_POLICY = 'helm.sh/hook-delete-policy';
export const HELM_RESOURCE_POLICY = 'helm.sh/resource-policy';

/**
 * Helm's hooks as Argo CD maps them (its Helm guide): install and upgrade hooks run in PreSync or
 * PostSync. `crd-install` is a plain resource. The others (test, rollback, delete) have no phase
 * in a sync: they are hooks that are never applied.
 */
const HELM_HOOK_TYPES: Readonly<Record<string, HookType>> = {
  'pre-install': 'PreSync',
  'pre-upgrade': 'PreSync',
  'post-install': 'PostSync',
  'post-upgrade': 'PostSync',
};
const HELM_DELETE_POLICIES: Readonly<Record<string, HookDeletePolicy>> = {
  'before-hook-creation': 'BeforeHookCreation',
  'hook-succeeded': 'HookSucceeded',
  'hook-failed': 'HookFailed',
};

export type HookType = 'PreSync' | 'Sync' | 'PostSync' | 'SyncFail';
export type HookDeletePolicy = 'HookSucceeded' | 'HookFailed' | 'BeforeHookCreation';
export const HOOK_TYPES: readonly HookType[] = ['PreSync', 'Sync', 'PostSync', 'SyncFail'];

export interface RetryPolicy {
  /** Retries after the first failure; negative: unlimited. */
  limit: number;
  durationMs: number;
  factor: number;
  maxDurationMs: number;
}

/** The sync policy the agent holds for an app (persisted in its state file). */
export interface SyncPolicyState {
  automated: boolean;
  prune: boolean;
  selfHeal: boolean;
  syncOptions?: string[];
  retry?: RetryPolicy;
  observeOnly?: boolean;
  ignoreDifferences?: IgnoreRule[];
  /**
   * A person confirmed this generation's prune: not held however much it deletes (absent in
   * states written before the prune guard, and in every automated generation).
   */
  pruneConfirmed?: boolean;
  /**
   * The kinds the application's project lets it apply cluster-scoped (absent: not bounded; in
   * states written before the field too). See `SyncPolicy.cluster_kinds`.
   */
  clusterKinds?: { group: string; kind: string }[];
}

/** App-wide sync options, resolved with their defaults. */
export interface AppSyncOptions {
  /** Create missing namespaces (Axle's default; `CreateNamespace=false` turns it off). */
  createNamespace: boolean;
  replace: boolean;
  /** `Validate=false`: writes are validated `Ignore` instead of `Strict` by the API server. */
  validate: boolean;
  applyOutOfSyncOnly: boolean;
  /**
   * A new generation leaves alone the objects whose content did not change and whose last apply
   * still matches the live object (`ApplyOutOfSyncOnly=false` turns it off: every object is
   * applied on every sync, as Argo CD does by default).
   */
  skipUnchanged: boolean;
  pruneLast: boolean;
  propagationPolicy: PropagationPolicy;
  respectIgnoreDifferences: boolean;
  observeOnly: boolean;
}

/** Per-resource options from its annotations. */
export interface ResourceSyncOptions {
  /** `Prune=false`: never pruned. */
  prune: boolean;
  /**
   * `Prune=confirm`: pruned only once a person confirms it (a sync with prune); until then the
   * prune is held, as the prune guard holds one.
   */
  pruneConfirm?: boolean;
  /** `Delete=false` (and `Delete=confirm`, which Axle cannot ask for): kept when the app is deleted. */
  delete: boolean;
  replace?: boolean;
  pruneLast?: boolean;
  observeOnly?: boolean;
}

/** Parses "A=b,C=d" lists (several sources merged, later ones win). */
export function parseOptionList(...lists: (readonly string[] | string | undefined)[]) {
  const out = new Map<string, string>();
  for (const l of lists) {
    if (l === undefined) continue;
    const items = typeof l === 'string' ? l.split(',') : l;
    for (const raw of items) {
      const item = raw.trim();
      if (!item) continue;
      const i = item.indexOf('=');
      if (i < 0) out.set(item, 'true');
      else out.set(item.slice(0, i).trim(), item.slice(i + 1).trim());
    }
  }
  return out;
}

function bool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'true') return true;
  if (s === 'false') return false;
  return undefined;
}

export function appSyncOptions(policy: SyncPolicyState, agentObserveOnly = false): AppSyncOptions {
  const o = parseOptionList(policy.syncOptions);
  const prop = (o.get('PrunePropagationPolicy') ?? '').toLowerCase();
  return {
    createNamespace: bool(o.get('CreateNamespace')) ?? true,
    replace: bool(o.get('Replace')) ?? false,
    validate: bool(o.get('Validate')) ?? true,
    applyOutOfSyncOnly: bool(o.get('ApplyOutOfSyncOnly')) ?? false,
    skipUnchanged: bool(o.get('ApplyOutOfSyncOnly')) !== false,
    pruneLast: bool(o.get('PruneLast')) ?? false,
    // Argo defaults to foreground; with foreground an object stays (Terminating) until the
    // garbage collector removed its dependents. Axle deletes in the background unless told.
    propagationPolicy:
      prop === 'foreground' ? 'Foreground' : prop === 'orphan' ? 'Orphan' : 'Background',
    respectIgnoreDifferences: bool(o.get('RespectIgnoreDifferences')) ?? false,
    observeOnly:
      agentObserveOnly || policy.observeOnly === true || (bool(o.get('ObserveOnly')) ?? false),
  };
}

function annotations(obj: KubeObject | undefined): Record<string, string> {
  return obj?.metadata?.annotations ?? {};
}

export function resourceSyncOptions(obj: KubeObject | undefined): ResourceSyncOptions {
  const a = annotations(obj);
  const o = parseOptionList(a[ARGO_SYNC_OPTIONS], a[AXLE_SYNC_OPTIONS]);
  return {
    prune: bool(o.get('Prune')) ?? true,
    ...(o.get('Prune')?.toLowerCase() === 'confirm' ? { pruneConfirm: true } : {}),
    // Helm's `resource-policy: keep` is Delete=false, as in Argo CD. An app is deleted without a
    // confirmation step, so what asks for one (`Delete=confirm`) is kept rather than deleted.
    delete:
      o.get('Delete')?.toLowerCase() === 'confirm'
        ? false
        : (bool(o.get('Delete')) ?? a[HELM_RESOURCE_POLICY]?.trim() !== 'keep'),
    replace: bool(o.get('Replace')),
    pruneLast: bool(o.get('PruneLast')),
    observeOnly: bool(o.get('ObserveOnly')),
  };
}

/**
 * Sync wave (Axle's annotation, then Argo's, then Helm's hook weight, as Argo CD reads it); 0 when
 * absent or not an integer.
 */
export function syncWave(obj: KubeObject | undefined): number {
  const a = annotations(obj);
  const raw = a[AXLE_SYNC_WAVE] ?? a[ARGO_SYNC_WAVE] ?? a[HELM_HOOK_WEIGHT];
  if (raw === undefined) return 0;
  const n = Number(raw.trim());
  return Number.isInteger(n) ? n : 0;
}

export interface HookSpec {
  types: HookType[];
  deletePolicies: HookDeletePolicy[];
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The object's hook types, as gitops-engine reads them: Argo CD's hook annotation, else Helm's
 * (see HELM_HOOK_TYPES). Undefined for a plain resource (no hook annotation, or only Helm's
 * `crd-install`). `'Skip'` for an object a sync never applies: `hook: Skip`, and a hook with no
 * phase in a sync (PreDelete and PostDelete, which Axle does not run; Helm's test, rollback and
 * delete hooks; a hook type it does not know).
 */
export function hookSpec(obj: KubeObject): HookSpec | 'Skip' | undefined {
  const a = annotations(obj);
  const argo = list(a[ARGO_HOOK]);
  const helm = list(a[HELM_HOOK]);
  let types: HookType[];
  if (a[ARGO_HOOK] !== undefined) {
    if (argo.length === 0) return undefined;
    types = argo.filter((n): n is HookType => (HOOK_TYPES as string[]).includes(n));
  } else {
    if (helm.every((h) => h === 'crd-install')) return undefined;
    types = [...new Set(helm.flatMap((h) => HELM_HOOK_TYPES[h] ?? []))];
  }
  if (types.length === 0) return 'Skip';
  const policies = [
    ...list(a[ARGO_HOOK_DELETE_POLICY]).filter((p): p is HookDeletePolicy =>
      ['HookSucceeded', 'HookFailed', 'BeforeHookCreation'].includes(p),
    ),
    ...list(a[HELM_HOOK_DELETE_POLICY]).flatMap((p) => HELM_DELETE_POLICIES[p] ?? []),
  ];
  // Argo CD's default (and Helm's) when none is given.
  return {
    types,
    deletePolicies: policies.length ? [...new Set(policies)] : ['BeforeHookCreation'],
  };
}

/** A Go duration ("5s", "1m30s", "250ms") in milliseconds; undefined when malformed. */
export function parseGoDuration(s: string): number | undefined {
  const text = s.trim();
  if (!text) return undefined;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

/** Retry policy from the wire with Argo CD's defaults (5s, ×2, at most 3m). */
export function retryPolicy(r: {
  limit: number;
  duration: string;
  factor: number;
  maxDuration: string;
}): RetryPolicy {
  return {
    limit: r.limit,
    durationMs: parseGoDuration(r.duration) ?? 5_000,
    factor: r.factor > 0 ? r.factor : 2,
    maxDurationMs: parseGoDuration(r.maxDuration) ?? 180_000,
  };
}

/** Delay before retry number `n` (0-based). */
export function retryDelay(p: RetryPolicy, n: number): number {
  return Math.min(p.maxDurationMs, p.durationMs * p.factor ** Math.min(n, 30));
}

/** Whether another retry is allowed after `failures` failed attempts. */
export function mayRetry(p: RetryPolicy | undefined, failures: number): boolean {
  if (!p) return false;
  return p.limit < 0 || failures <= p.limit;
}
