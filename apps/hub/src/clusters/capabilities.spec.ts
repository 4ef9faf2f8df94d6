import { describe, expect, it } from 'vitest';
import {
  capabilitiesKey,
  commonCapabilities,
  compareKubeVersions,
  MAX_API_VERSIONS,
  parseCapabilities,
  readsCapabilities,
  reportedHash,
} from './capabilities.js';

const caps = (kubeVersion: string, apiVersions: string[]) =>
  parseCapabilities({ kubeVersion, apiVersions });

describe('parseCapabilities', () => {
  it('sorts and dedupes what an agent reports, and hashes the set', () => {
    const a = caps('v1.34.2', [
      'v1/Pod',
      'apps/v1',
      'v1',
      'v1/Pod',
      'monitoring.coreos.com/v1/ServiceMonitor',
    ]);
    expect(a.apiVersions).toEqual([
      'apps/v1',
      'monitoring.coreos.com/v1/ServiceMonitor',
      'v1',
      'v1/Pod',
    ]);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(
      caps('v1.34.2', ['v1', 'v1/Pod', 'apps/v1', 'monitoring.coreos.com/v1/ServiceMonitor']).hash,
    ).toBe(a.hash);
    expect(caps('v1.34.3', a.apiVersions).hash).not.toBe(a.hash);
  });

  it('takes the versions managed clusters report, as Helm compares them', () => {
    expect(caps('v1.34.2', []).kubeVersion).toBe('v1.34.2');
    expect(caps('v1.30.4-eks-a737599', []).kubeVersion).toBe('v1.30.4');
    expect(caps('v1.29.3+k3s1', []).kubeVersion).toBe('v1.29.3');
    expect(caps('1.28', []).kubeVersion).toBe('v1.28.0');
    // A provider's rebuild of the same release is the same set: nothing renders again.
    expect(caps('v1.31.0-gke.1000', ['v1']).hash).toBe(caps('v1.31.0-gke.2000', ['v1']).hash);
  });

  it('leaves out an entry that is no API version, and takes versions CRDs may have', () => {
    const r = caps('v1.34.2', [
      'apps/v1',
      '--set=x',
      'Apps/v1',
      'x.io/v1/Deploy ment',
      'x.io/ver1-beta/My_Kind',
    ]);
    expect(r.apiVersions).toEqual(['apps/v1', 'x.io/ver1-beta/My_Kind']);
    expect(r.dropped).toEqual(['--set=x', 'Apps/v1', 'x.io/v1/Deploy ment']);
  });

  it('refuses a report past its bounds, or without a version, naming the field and the reason', () => {
    expect(() => caps('', [])).toThrow(/kubeVersion: "" is not a Kubernetes version/);
    expect(() => caps('v1.34; rm -rf /', [])).toThrow(/kubeVersion/);
    expect(() =>
      caps(
        'v1.34.2',
        Array.from({ length: MAX_API_VERSIONS + 1 }, () => 'v1'),
      ),
    ).toThrow(/more than 20000/);
    expect(() =>
      caps(
        'v1.34.2',
        Array.from({ length: 3000 }, (_, i) => `${'g'.repeat(340)}${i}.io/v1`),
      ),
    ).toThrow(/apiVersions: \d+ characters in all, more than 1000000/);
  });

  it('hashes a report as sent: equal to the stored hash when the agent sent it as stored', () => {
    const stored = caps('v1.30.4-eks-1', ['v1', 'apps/v1']);
    expect(reportedHash({ kubeVersion: 'v1.30.4-eks-2', apiVersions: stored.apiVersions })).toBe(
      stored.hash,
    );
    expect(reportedHash({ kubeVersion: 'v1.30.4', apiVersions: ['v1', 'apps/v1'] })).not.toBe(
      stored.hash,
    );
  });
});

describe('commonCapabilities', () => {
  const east = caps('v1.34.2', [
    'apps/v1',
    'v1',
    'monitoring.coreos.com/v1',
    'monitoring.coreos.com/v1/ServiceMonitor',
  ]);
  const west = caps('v1.31.9', ['apps/v1', 'v1', 'gateway.networking.k8s.io/v1']);

  it('is one cluster’s set as it is, and nothing when no agent reported', () => {
    expect(commonCapabilities([east])).toBe(east);
    expect(commonCapabilities([east, { ...east }])).toBe(east);
    expect(commonCapabilities([])).toBeUndefined();
  });

  it('for several clusters, the lowest version and what every one of them serves', () => {
    const both = commonCapabilities([east, west])!;
    expect(both.kubeVersion).toBe('v1.31.9');
    expect(both.apiVersions).toEqual(['apps/v1', 'v1']);
    expect(both.hash).toBe(caps('v1.31.9', ['apps/v1', 'v1']).hash);
    expect(commonCapabilities([west, east])!.hash).toBe(both.hash);
  });

  it('orders versions by number, not by text', () => {
    expect(compareKubeVersions('v1.9.0', 'v1.10.0')).toBeLessThan(0);
    expect(compareKubeVersions('v1.30.10', 'v1.30.9')).toBeGreaterThan(0);
    expect(compareKubeVersions('v1.30.4-eks-1', '1.30.4')).toBe(0);
  });
});

describe('capabilitiesKey', () => {
  const clusters = new Map([
    ['east', { capabilities: 'a'.repeat(64) }],
    ['west', { capabilities: 'b'.repeat(64) }],
    ['new', { capabilities: null }],
  ]);

  it('names the sets an application renders for', () => {
    expect(capabilitiesKey(['east'], clusters)).toEqual({
      key: 'a'.repeat(64),
      hashes: ['a'.repeat(64)],
    });
    expect(capabilitiesKey(['east', 'gone'], clusters).key).toBe('a'.repeat(64));
    // A cluster whose agent has not reported yet counts for nothing (not: Helm's defaults for all).
    expect(capabilitiesKey(['east', 'new'], clusters).key).toBe('a'.repeat(64));
    expect(capabilitiesKey(['new', 'gone'], clusters)).toEqual({ key: '', hashes: [] });
    const two = capabilitiesKey(['west', 'east'], clusters);
    expect(two.hashes).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
    expect(two.key).toMatch(/^[0-9a-f]{64}$/);
    expect(two.key).toBe(capabilitiesKey(['east', 'west'], clusters).key);
  });
});

describe('readsCapabilities', () => {
  const spec = (helm?: { kubeVersion?: string; apiVersions?: string[] }) => ({
    source: helm ? { helm } : {},
  });

  it('is true for Helm, plugins and sources not rendered yet, unless the source names both', () => {
    expect(readsCapabilities({ renderedTool: 'helm', spec: spec() })).toBe(true);
    expect(readsCapabilities({ renderedTool: 'plugin', spec: spec() })).toBe(true);
    expect(readsCapabilities({ renderedTool: null, spec: spec() })).toBe(true);
    expect(readsCapabilities({ renderedTool: 'helm', spec: spec({ kubeVersion: '1.30' }) })).toBe(
      true,
    );
    expect(
      readsCapabilities({
        renderedTool: 'helm',
        spec: spec({ kubeVersion: '1.30', apiVersions: ['x.io/v1'] }),
      }),
    ).toBe(false);
    expect(readsCapabilities({ renderedTool: 'directory', spec: spec() })).toBe(false);
    expect(readsCapabilities({ renderedTool: 'kustomize', spec: spec() })).toBe(false);
  });
});
