import { describe, expect, it } from 'vitest';
import { HealthStatus, SyncPolicy, SyncStatus } from '../gen/axle/agent/v1/agent.js';
import {
  decodeHealth,
  decodeSync,
  decodeSyncPolicy,
  encodeHealth,
  encodeSync,
  encodeSyncPolicy,
  HEALTH_STATES,
  SYNC_STATES,
  type SyncPolicyModel,
} from './codec.js';

describe('wire codec', () => {
  it('maps every sync and health state to the wire and back', () => {
    expect(SYNC_STATES).toEqual(['Synced', 'OutOfSync', 'Unknown']);
    for (const s of SYNC_STATES) expect(decodeSync(encodeSync(s))).toBe(s);
    expect([...HEALTH_STATES].sort()).toEqual(
      ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'].sort(),
    );
    for (const h of HEALTH_STATES) expect(decodeHealth(encodeHealth(h))).toBe(h);
    // Every wire value this version knows has a state: none is left unmapped.
    const known = (e: object) => Object.values(e).filter((v) => typeof v === 'number' && v >= 0);
    for (const v of known(SyncStatus) as SyncStatus[]) expect(decodeSync(v)).toBeDefined();
    for (const v of known(HealthStatus) as HealthStatus[]) expect(decodeHealth(v)).toBeDefined();
  });

  it('reads unspecified as Unknown, and a newer peer’s value as undefined', () => {
    expect(decodeSync(SyncStatus.SYNC_STATUS_UNSPECIFIED)).toBe('Unknown');
    expect(decodeHealth(HealthStatus.HEALTH_STATUS_UNSPECIFIED)).toBe('Unknown');
    expect(decodeSync(99 as SyncStatus)).toBeUndefined();
    expect(decodeHealth(99 as HealthStatus)).toBeUndefined();
  });

  it('sends a sync policy the agent reads back as it was meant', () => {
    const full: SyncPolicyModel = {
      automated: true,
      prune: true,
      selfHeal: false,
      syncOptions: ['CreateNamespace=false', 'PruneLast=true'],
      retry: { limit: 3, duration: '5s', factor: 2, maxDuration: '3m' },
      observeOnly: true,
      ignoreDifferences: [
        {
          group: 'apps',
          kind: 'Deployment',
          name: '',
          namespace: '',
          jsonPointers: ['/spec/replicas'],
          managedFieldsManagers: ['kube-controller-manager'],
        },
      ],
      pruneConfirmed: true,
    };
    expect(decodeSyncPolicy(encodeSyncPolicy(full))).toEqual(full);
    const bare: SyncPolicyModel = { automated: false, prune: false, selfHeal: false };
    expect(encodeSyncPolicy({ ...bare, syncOptions: [], ignoreDifferences: [] })).toEqual(bare);
    expect(decodeSyncPolicy(encodeSyncPolicy(bare))).toEqual(bare);
  });

  it('carries a confirmed prune over the wire, and leaves it out when unconfirmed', () => {
    const bare: SyncPolicyModel = { automated: true, prune: true, selfHeal: false };
    const bytes = (m: SyncPolicyModel) => SyncPolicy.encode(encodeSyncPolicy(m)).finish();
    const confirmed = SyncPolicy.decode(bytes({ ...bare, pruneConfirmed: true }));
    expect(decodeSyncPolicy(confirmed)).toEqual({ ...bare, pruneConfirmed: true });
    // Unconfirmed (and false) is no field at all: what an older hub sends looks the same.
    expect(bytes({ ...bare, pruneConfirmed: false })).toEqual(bytes(bare));
    expect(decodeSyncPolicy(SyncPolicy.decode(bytes(bare)))).toEqual(bare);
  });

  it("carries a project's bound on cluster-scoped kinds, an empty one too (none allowed)", () => {
    const bare: SyncPolicyModel = { automated: true, prune: true, selfHeal: false };
    const wire = (m: SyncPolicyModel) =>
      decodeSyncPolicy(SyncPolicy.decode(SyncPolicy.encode(encodeSyncPolicy(m)).finish()));
    const bounded = { ...bare, clusterKinds: [{ group: '', kind: 'PersistentVolume' }] };
    expect(wire(bounded)).toEqual(bounded);
    expect(wire({ ...bare, clusterKinds: [] })).toEqual({ ...bare, clusterKinds: [] });
    expect(wire(bare)).toEqual(bare);
  });

  it('reads a Deploy without a policy (a first-version hub) as automated sync', () => {
    expect(decodeSyncPolicy(undefined)).toEqual({ automated: true, prune: false, selfHeal: false });
  });
});
