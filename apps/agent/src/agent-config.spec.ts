import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from './agent-config.js';

/** The least an agent starts with (token auth: no CA file to read). */
const base = {
  AXLE_HUB_ADDRESS: 'hub:9090',
  AXLE_AGENT_TOKEN: 'token-0123456789',
  AXLE_CLUSTER: 'east',
};

describe('loadAgentConfig: the prune guard', () => {
  it('holds prunes of more than half of an app, and of at least 5 objects, by default', () => {
    expect(loadAgentConfig(base).pruneHold).toEqual({ share: 0.5, min: 5 });
  });

  it('reads the share and the minimum (a share of 1 turns the share rule off)', () => {
    const env = { ...base, AXLE_AGENT_PRUNE_HOLD_SHARE: '1', AXLE_AGENT_PRUNE_HOLD_MIN: '20' };
    expect(loadAgentConfig(env).pruneHold).toEqual({ share: 1, min: 20 });
    const strict = { ...base, AXLE_AGENT_PRUNE_HOLD_SHARE: '0.25' };
    expect(loadAgentConfig(strict).pruneHold?.share).toBe(0.25);
  });

  it.each([
    ['AXLE_AGENT_PRUNE_HOLD_SHARE', '0', /above 0 and at most 1/],
    ['AXLE_AGENT_PRUNE_HOLD_SHARE', '1.5', /above 0 and at most 1/],
    ['AXLE_AGENT_PRUNE_HOLD_SHARE', 'half', /must be a number/],
    ['AXLE_AGENT_PRUNE_HOLD_MIN', '0', /whole number of objects, 1 or more/],
    ['AXLE_AGENT_PRUNE_HOLD_MIN', '2.5', /whole number of objects, 1 or more/],
    ['AXLE_AGENT_PRUNE_HOLD_MIN', 'many', /whole number of objects, 1 or more/],
  ])('refuses %s=%s, naming the variable', (name, value, reason) => {
    const load = () => loadAgentConfig({ ...base, [name]: value });
    expect(load).toThrow(new RegExp(`invalid agent configuration:\\n  ${name}: `));
    expect(load).toThrow(reason);
  });
});

describe('loadAgentConfig: the allow-list', () => {
  it('allows everything by default, cluster-scoped kinds included', () => {
    expect(loadAgentConfig(base).allowList).toEqual({
      namespaces: ['*'],
      allowedKinds: ['*'],
      deniedKinds: [],
      clusterKinds: ['*'],
    });
  });

  it('allows no cluster-scoped kind to an agent limited to some namespaces, unless listed', () => {
    const limited = { ...base, AXLE_AGENT_ALLOWED_NAMESPACES: 'team-a-*, team-b' };
    expect(loadAgentConfig(limited).allowList).toMatchObject({
      namespaces: ['team-a-*', 'team-b'],
      clusterKinds: [],
    });
    const listed = {
      ...limited,
      AXLE_AGENT_ALLOWED_CLUSTER_KINDS:
        'rbac.authorization.k8s.io/ClusterRole, apiextensions.k8s.io/*',
    };
    expect(loadAgentConfig(listed).allowList?.clusterKinds).toEqual([
      'rbac.authorization.k8s.io/ClusterRole',
      'apiextensions.k8s.io/*',
    ]);
    // Set to nothing: none, even with every namespace allowed.
    const none = { ...base, AXLE_AGENT_ALLOWED_CLUSTER_KINDS: '' };
    expect(loadAgentConfig(none).allowList?.clusterKinds).toEqual([]);
  });
});
