import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClusterInfo } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { ClusterInfoReporter } from './cluster-info.js';

function setup() {
  const served: ClusterInfo = { kubeVersion: 'v1.34.2', apiVersions: ['apps/v1', 'v1', 'v1/Pod'] };
  const source = { reads: 0, fail: false, serverCapabilities: () => Promise.resolve(served) };
  source.serverCapabilities = () => {
    source.reads++;
    return source.fail
      ? Promise.reject(new Error('connection refused'))
      : Promise.resolve(structuredClone(served));
  };
  const sent: ClusterInfo[] = [];
  const link = { up: true };
  const reporter = new ClusterInfoReporter(source, (i) => link.up && sent.push(i) > 0, {
    intervalMs: 60_000,
    soonMs: 2000,
  });
  return { served, source, sent, link, reporter };
}

describe('ClusterInfoReporter', () => {
  afterEach(() => vi.useRealTimers());

  it('tells a hub that takes it after Welcome, and nothing to a hub that does not', async () => {
    const { sent, source, reporter } = setup();
    reporter.welcomed(['need-bundle']);
    await reporter.refresh();
    expect(source.reads).toBe(0);
    expect(sent).toEqual([]);
    reporter.welcomed(['need-bundle', 'cluster-info']);
    await reporter.refresh();
    expect(sent).toEqual([{ kubeVersion: 'v1.34.2', apiVersions: ['apps/v1', 'v1', 'v1/Pod'] }]);
    reporter.stop();
  });

  it('sends again only what changed, and everything after the next Welcome', async () => {
    const { sent, served, reporter } = setup();
    reporter.welcomed(['cluster-info']);
    await reporter.refresh();
    await reporter.refresh();
    expect(sent).toHaveLength(1);
    served.apiVersions.push('example.com/v1', 'example.com/v1/Widget');
    await reporter.refresh();
    expect(sent).toHaveLength(2);
    expect(sent[1].apiVersions).toContain('example.com/v1/Widget');
    reporter.welcomed(['cluster-info']); // a new stream: the hub hears it again
    await reporter.refresh();
    expect(sent).toHaveLength(3);
    reporter.stop();
  });

  it('keeps nothing it could not send or read, and tries again at the next read', async () => {
    const { sent, source, link, reporter } = setup();
    link.up = false;
    reporter.welcomed(['cluster-info']);
    await reporter.refresh();
    expect(sent).toEqual([]);
    link.up = true;
    source.fail = true;
    await reporter.refresh();
    expect(sent).toEqual([]);
    source.fail = false;
    await reporter.refresh();
    expect(sent).toHaveLength(1);
    reporter.stop();
  });

  it('reads again soon after a change, once for several, and periodically', async () => {
    vi.useFakeTimers();
    const { source, sent, reporter } = setup();
    reporter.welcomed(['cluster-info']);
    await vi.advanceTimersByTimeAsync(0);
    expect(source.reads).toBe(1);
    reporter.soon();
    reporter.soon();
    await vi.advanceTimersByTimeAsync(2000);
    expect(source.reads).toBe(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(source.reads).toBe(3);
    // The periodic read sends even an unchanged report (the hub may have failed to store one).
    expect(sent).toHaveLength(2);
    reporter.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(source.reads).toBe(3);
  });
});
