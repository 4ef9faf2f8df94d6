import { describe, expect, it } from 'vitest';
import { isChildApplication, isHook, isSkipped, isSyncedResource } from './util.js';

const obj = (apiVersion: string, kind: string, annotations?: Record<string, string>) => ({
  apiVersion,
  kind,
  metadata: { name: 'x', ...(annotations ? { annotations } : {}) },
});

describe('which objects a sync applies', () => {
  it('applies plain resources, not hooks nor hook: Skip objects', () => {
    expect(isSyncedResource(obj('v1', 'ConfigMap'))).toBe(true);
    const job = obj('batch/v1', 'Job', { 'argocd.argoproj.io/hook': 'PreSync' });
    expect(isHook(job)).toBe(true);
    expect(isSyncedResource(job)).toBe(false);
    expect(isSyncedResource(obj('v1', 'Pod', { 'argocd.argoproj.io/hook': 'Skip' }))).toBe(false);
    expect(isSkipped(obj('v1', 'Pod', { 'argocd.argoproj.io/hook': 'PreSync, Skip' }))).toBe(true);
    expect(isSkipped(obj('v1', 'Pod', { 'argocd.argoproj.io/hook': 'PreSync' }))).toBe(false);
    expect(isSyncedResource(obj('v1', 'Pod', { 'helm.sh/hook': 'crd-install' }))).toBe(true);
  });

  it('keeps Argo CD Applications for the hub (app of apps): any version, that group only', () => {
    for (const v of ['argoproj.io/v1alpha1', 'argoproj.io/v1beta1']) {
      expect(isChildApplication(obj(v, 'Application'))).toBe(true);
      expect(isSyncedResource(obj(v, 'Application'))).toBe(false);
    }
    expect(isChildApplication(obj('argoproj.io/v1alpha1', 'ApplicationSet'))).toBe(false);
    expect(isChildApplication(obj('app.k8s.io/v1beta1', 'Application'))).toBe(false);
    expect(isSyncedResource(obj('app.k8s.io/v1beta1', 'Application'))).toBe(true);
  });
});
