import { describe, expect, it } from 'vitest';
import {
  HealthStatus,
  SyncStatus,
  type AgentMessage,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { AppReport } from '../sync/runtime.js';
import { StatusReporter, type HubLink } from './status-reporter.js';

const app = { appId: 'a', generation: 2, revision: 'abc', bundleHash: 'sha256:x' };
const report = (health: AppReport['health']): AppReport => ({
  sync: 'Synced',
  health,
  message: '',
  resources: [],
  drifted: false,
  observeOnly: false,
});

function link() {
  const sent: NonNullable<AgentMessage['msg']>[] = [];
  const l: HubLink & { up: boolean } = {
    up: true,
    get connected() {
      return this.up;
    },
    send(m) {
      if (!this.up) return false;
      sent.push(m.msg!);
      return true;
    },
  };
  return { l, sent };
}

describe('StatusReporter', () => {
  it('maps a report to the wire once, and does not send it again unchanged', () => {
    const { l, sent } = link();
    const r = new StatusReporter(l, (id) => id, 10);
    r.report(app, report('Healthy'));
    r.report(app, report('Healthy'));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      $case: 'status',
      value: {
        appId: 'a',
        generation: 2,
        sync: SyncStatus.SYNC_STATUS_SYNCED,
        health: HealthStatus.HEALTH_STATUS_HEALTHY,
      },
    });
    r.report(app, report('Degraded'));
    expect(sent).toHaveLength(2);
  });

  it('reports a refusal over the generation held, and sends it again on welcome', () => {
    const { l, sent } = link();
    const r = new StatusReporter(l, (id) => id, 10);
    l.up = false; // refused at start, before the hub is connected
    r.refused('a', "refused by this cluster's allow-list: …", app);
    l.up = true;
    r.resend();
    // Not generation 0: the hub keeps the newest report per target, and 0 is older than any.
    expect(sent).toMatchObject([
      {
        $case: 'status',
        value: {
          appId: 'a',
          generation: 2,
          revision: 'abc',
          bundleHash: 'sha256:x',
          sync: SyncStatus.SYNC_STATUS_OUT_OF_SYNC,
          message: "refused by this cluster's allow-list: …",
        },
      },
    ]);
  });

  it('keeps events while the hub is away and sends them, with every status, on welcome', async () => {
    const { l, sent } = link();
    const r = new StatusReporter(l, (id) => id, 10);
    l.up = false;
    r.report(app, report('Progressing'));
    r.event('a', 'Normal', 'SyncStarted', 'started', 2);
    expect(sent).toEqual([]);
    l.up = true;
    r.resend();
    expect(sent.map((m) => m.$case)).toEqual(['status', 'events']);
    const events = sent[1].$case === 'events' ? sent[1].value.events : [];
    expect(events).toMatchObject([{ appId: 'a', reason: 'SyncStarted', offline: true }]);
    // Online, events of one moment travel together.
    r.event('a', 'Normal', 'SyncSucceeded', 'done', 2);
    r.event('a', 'Normal', 'Pruned', 'x deleted', 2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.at(-1)).toMatchObject({ $case: 'events', value: { events: [{}, {}] } });
  });

  it('forgets a removed app: its status is no longer resent', () => {
    const { l, sent } = link();
    const r = new StatusReporter(l, (id) => id, 10);
    r.report(app, report('Healthy'));
    r.forget('a');
    sent.length = 0;
    r.resend();
    expect(sent).toEqual([]);
  });
});
