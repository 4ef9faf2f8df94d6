import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import {
  appSyncOptions,
  hookSpec,
  mayRetry,
  parseGoDuration,
  parseOptionList,
  resourceSyncOptions,
  retryDelay,
  retryPolicy,
  syncWave,
} from './options.js';
import { buildPlan, describeStep } from './plan.js';

const obj = (kind: string, name: string, annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: kind === 'CustomResourceDefinition' ? 'apiextensions.k8s.io/v1' : 'v1',
  kind,
  metadata: { name, annotations },
});

describe('sync options', () => {
  it('parses option lists and resolves app defaults', () => {
    expect([...parseOptionList(['A=b', ' C = d ', 'Flag'], 'A=z,,E=f')]).toEqual([
      ['A', 'z'],
      ['C', 'd'],
      ['Flag', 'true'],
      ['E', 'f'],
    ]);
    const base = { automated: true, prune: true, selfHeal: false };
    expect(appSyncOptions(base)).toEqual({
      createNamespace: true,
      replace: false,
      validate: true,
      applyOutOfSyncOnly: false,
      skipUnchanged: true,
      pruneLast: false,
      propagationPolicy: 'Background',
      respectIgnoreDifferences: false,
      observeOnly: false,
    });
    const o = appSyncOptions({
      ...base,
      syncOptions: [
        'CreateNamespace=false',
        'Replace=true',
        'ApplyOutOfSyncOnly=true',
        'PruneLast=true',
        'PrunePropagationPolicy=foreground',
        'RespectIgnoreDifferences=true',
        'ServerSideApply=true',
      ],
    });
    expect(o).toMatchObject({
      createNamespace: false,
      replace: true,
      applyOutOfSyncOnly: true,
      pruneLast: true,
      propagationPolicy: 'Foreground',
      respectIgnoreDifferences: true,
    });
    expect(
      appSyncOptions({ ...base, syncOptions: ['PrunePropagationPolicy=orphan'] }).propagationPolicy,
    ).toBe('Orphan');
    expect(appSyncOptions({ ...base, syncOptions: ['ObserveOnly=true'] }).observeOnly).toBe(true);
    expect(appSyncOptions({ ...base, syncOptions: ['Validate=false'] }).validate).toBe(false);
    // Every object applied on every sync, as Argo CD does by default, only when asked.
    expect(
      appSyncOptions({ ...base, syncOptions: ['ApplyOutOfSyncOnly=false'] }).skipUnchanged,
    ).toBe(false);
    expect(appSyncOptions({ ...base, observeOnly: true }).observeOnly).toBe(true);
    expect(appSyncOptions(base, true).observeOnly).toBe(true);
  });

  it('reads per-resource options from Argo and Axle annotations', () => {
    expect(resourceSyncOptions(obj('ConfigMap', 'a'))).toEqual({
      prune: true,
      delete: true,
      replace: undefined,
      pruneLast: undefined,
      observeOnly: undefined,
    });
    const o = resourceSyncOptions(
      obj('ConfigMap', 'a', {
        'argocd.argoproj.io/sync-options': 'Prune=false,Replace=true',
        'app.axle.io/sync-options': 'Delete=false,PruneLast=true',
      }),
    );
    expect(o).toEqual({
      prune: false,
      delete: false,
      replace: true,
      pruneLast: true,
      observeOnly: undefined,
    });
  });

  it('reads waves (Axle wins) and hooks with their delete policies', () => {
    expect(syncWave(obj('ConfigMap', 'a', { 'argocd.argoproj.io/sync-wave': '-2' }))).toBe(-2);
    expect(
      syncWave(
        obj('ConfigMap', 'a', {
          'argocd.argoproj.io/sync-wave': '1',
          'app.axle.io/sync-wave': '3',
        }),
      ),
    ).toBe(3);
    expect(syncWave(obj('ConfigMap', 'a', { 'argocd.argoproj.io/sync-wave': 'x' }))).toBe(0);
    expect(hookSpec(obj('Job', 'j'))).toBeUndefined();
    expect(hookSpec(obj('Job', 'j', { 'argocd.argoproj.io/hook': 'Skip' }))).toBe('Skip');
    expect(hookSpec(obj('Job', 'j', { 'argocd.argoproj.io/hook': 'PreSync' }))).toEqual({
      types: ['PreSync'],
      deletePolicies: ['BeforeHookCreation'],
    });
    expect(
      hookSpec(
        obj('Job', 'j', {
          'argocd.argoproj.io/hook': 'PreSync, PostSync',
          'argocd.argoproj.io/hook-delete-policy': 'HookSucceeded,HookFailed,Bogus',
        }),
      ),
    ).toEqual({ types: ['PreSync', 'PostSync'], deletePolicies: ['HookSucceeded', 'HookFailed'] });
  });

  it("maps Helm's hooks as Argo CD does: install and upgrade ones run, the others never apply", () => {
    const helm = (hook: string, more: Record<string, string> = {}) =>
      obj('Job', 'j', { 'helm.sh/hook': hook, ...more });
    expect(hookSpec(helm('pre-install,pre-upgrade'))).toEqual({
      types: ['PreSync'],
      deletePolicies: ['BeforeHookCreation'],
    });
    expect(
      hookSpec(
        helm('post-install', {
          'helm.sh/hook-delete-policy': 'hook-succeeded,before-hook-creation',
        }),
      ),
    ).toEqual({ types: ['PostSync'], deletePolicies: ['HookSucceeded', 'BeforeHookCreation'] });
    // A chart's test pod, rollback and delete hooks: hooks with no phase in a sync.
    for (const h of ['test', 'test-success', 'pre-delete', 'post-delete', 'pre-rollback'])
      expect(hookSpec(helm(h)), h).toBe('Skip');
    // crd-install is a plain resource; Argo CD's annotation wins over Helm's.
    expect(hookSpec(helm('crd-install'))).toBeUndefined();
    expect(hookSpec(helm('test', { 'argocd.argoproj.io/hook': 'Sync' }))).toEqual({
      types: ['Sync'],
      deletePolicies: ['BeforeHookCreation'],
    });
    // Argo CD's delete hooks (and a type it does not know) are never applied in a sync.
    for (const h of ['PreDelete', 'PostDelete', 'Presync'])
      expect(hookSpec(obj('Job', 'j', { 'argocd.argoproj.io/hook': h })), h).toBe('Skip');
    // The hook weight is the wave when no sync-wave is given; keep is Delete=false.
    expect(syncWave(helm('pre-install', { 'helm.sh/hook-weight': '-5' }))).toBe(-5);
    expect(
      syncWave(
        helm('pre-install', { 'helm.sh/hook-weight': '-5', 'argocd.argoproj.io/sync-wave': '2' }),
      ),
    ).toBe(2);
    expect(
      resourceSyncOptions(obj('Secret', 's', { 'helm.sh/resource-policy': 'keep' })).delete,
    ).toBe(false);
    const plan = buildPlan([
      obj('ConfigMap', 'app'),
      helm('test'),
      obj('Job', 'migrate', { 'helm.sh/hook': 'pre-upgrade', 'helm.sh/hook-weight': '1' }),
      obj('Job', 'cleanup', { 'argocd.argoproj.io/hook': 'PostDelete' }),
    ]);
    expect(plan.resources.map((r) => r.raw.metadata.name)).toEqual(['app']);
    expect(plan.steps.map(describeStep)).toEqual([
      'PreSync wave 1',
      'wave 0',
      'prune',
      'prune last',
    ]);
  });

  it('parses Go durations and computes retry backoff like Argo CD', () => {
    expect(parseGoDuration('5s')).toBe(5000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('5')).toBeUndefined();
    expect(parseGoDuration('')).toBeUndefined();
    const p = retryPolicy({ limit: 3, duration: '', factor: 0, maxDuration: '' });
    expect(p).toEqual({ limit: 3, durationMs: 5000, factor: 2, maxDurationMs: 180_000 });
    expect([0, 1, 2, 3, 10].map((n) => retryDelay(p, n))).toEqual([
      5000, 10_000, 20_000, 40_000, 180_000,
    ]);
    expect(mayRetry(p, 3)).toBe(true);
    expect(mayRetry(p, 4)).toBe(false);
    expect(mayRetry({ ...p, limit: -1 }, 1000)).toBe(true);
    expect(mayRetry({ ...p, limit: 0 }, 1)).toBe(false);
    expect(mayRetry(undefined, 1)).toBe(false);
  });
});

describe('buildPlan', () => {
  it('orders by phase, wave, kind and name, with prune steps after the Sync phase', () => {
    const plan = buildPlan([
      obj('ConfigMap', 'b'),
      obj('ConfigMap', 'a', { 'argocd.argoproj.io/sync-wave': '1' }),
      obj('CustomResourceDefinition', 'w'),
      obj('Namespace', 'ns', { 'argocd.argoproj.io/sync-wave': '-1' }),
      obj('Job', 'pre', { 'argocd.argoproj.io/hook': 'PreSync' }),
      obj('Job', 'sync1', {
        'argocd.argoproj.io/hook': 'Sync',
        'argocd.argoproj.io/sync-wave': '1',
      }),
      obj('Job', 'post', { 'argocd.argoproj.io/hook': 'PostSync' }),
      obj('Job', 'fail', { 'argocd.argoproj.io/hook': 'SyncFail' }),
      obj('Secret', 'skipped', { 'argocd.argoproj.io/hook': 'Skip' }),
    ]);
    expect(plan.resources.map((r) => r.raw.metadata.name)).toEqual(['ns', 'w', 'b', 'a']);
    expect(
      plan.steps.map((s) =>
        s.kind === 'apply'
          ? `${describeStep(s)}: ${[...s.resources.map((r) => r.raw.metadata.name), ...s.hooks.map((h) => `hook:${h.item.raw.metadata.name}`)].join(',')}`
          : describeStep(s),
      ),
    ).toEqual([
      'PreSync wave 0: hook:pre',
      'wave -1: ns',
      'wave 0: w,b',
      'wave 1: a,hook:sync1',
      'prune',
      'prune last',
      'PostSync wave 0: hook:post',
    ]);
    expect(plan.syncFail.map((h) => h.item.raw.metadata.name)).toEqual(['fail']);
  });

  it('an app without hooks is its waves plus the prune steps', () => {
    const plan = buildPlan([obj('ConfigMap', 'a')]);
    expect(plan.steps.map((s) => s.kind)).toEqual(['apply', 'prune', 'pruneLast']);
  });
});
