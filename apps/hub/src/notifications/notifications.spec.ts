import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  collapse,
  deliveryEvent,
  matches,
  renderMessage,
  sampleEvent,
  signature,
  slackBody,
  teamsBody,
  templateData,
  templateProblems,
  webhookBody,
} from './messages.js';
import { createDestinationSchema, subscriptionSpecSchema } from './notification.schemas.js';
import { backoffMs } from './notification.outbox.js';
import { planDeliveries, route } from './outbox-plan.js';
import {
  clusterChecks,
  deletionHeldCheck,
  rolloutCheck,
  targetChecks,
  transitions,
  type TargetObservation,
} from './triggers.js';

const at = new Date('2026-12-05T12:00:00Z');

function target(over: Partial<TargetObservation> = {}): TargetObservation {
  return {
    appId: 'a1',
    clusterId: 'c1',
    app: { name: 'api', project: 'payments', applicationSet: null },
    cluster: { name: 'edge-1', labels: { env: 'prod' } },
    desiredGeneration: 3,
    appliedGeneration: 3,
    revision: 'abcdef0123456789',
    sync: 'Synced',
    health: 'Healthy',
    message: '',
    drifted: false,
    selfHeal: false,
    operation: { phase: 'Succeeded', generation: 3, message: 'applied 4 objects' },
    ...over,
  };
}

/** Runs observations one after the other against one store, as the detector does. */
function run(...observations: TargetObservation[]) {
  const store = new Map<string, string>();
  const fired: string[][] = [];
  for (const o of observations) {
    const t = transitions(targetChecks(o), store, at);
    for (const w of t.writes) {
      if (w.value === null) store.delete(w.key);
      else store.set(w.key, w.value);
    }
    fired.push(t.events.map((e) => e.trigger));
  }
  return fired;
}

describe('target triggers', () => {
  it('fire a sync outcome once per generation, and again when a retry changes it', () => {
    expect(
      run(
        target({
          appliedGeneration: 2,
          operation: { phase: 'Running', generation: 3, message: '' },
        }),
        target({
          operation: { phase: 'Failed', generation: 3, message: 'boom' },
          sync: 'OutOfSync',
        }),
        target({ operation: { phase: 'Failed', generation: 3, message: 'boom again' } }),
        target(),
        target(),
        target({ desiredGeneration: 4 }),
        target({ desiredGeneration: 4, appliedGeneration: 4, operation: null }),
      ),
    ).toEqual([[], ['on-sync-failed'], [], ['on-sync-succeeded'], [], [], ['on-sync-succeeded']]);
  });

  it('fire Degraded on the change, recovered only after Degraded', () => {
    expect(
      run(
        target({ health: 'Progressing' }),
        target(),
        target({ health: 'Degraded' }),
        target({ health: 'Degraded' }),
        target({ health: 'Progressing' }),
        target({ health: 'Healthy' }),
        target({ health: 'Healthy' }),
      ).map((t) => t.filter((x) => x.startsWith('on-health'))),
    ).toEqual([[], [], ['on-health-degraded'], [], [], ['on-health-recovered'], []]);
  });

  it('fire Degraded again when a later state degrades after a spell out of it', () => {
    expect(
      run(
        target({ health: 'Degraded' }),
        target({ health: 'Progressing' }), // a fix rolling out
        target({ health: 'Degraded' }), // the fix failed too
        target({ health: 'Progressing' }),
        target({ health: 'Healthy' }),
      ).map((t) => t.filter((x) => x.startsWith('on-health'))),
    ).toEqual([['on-health-degraded'], [], ['on-health-degraded'], [], ['on-health-recovered']]);
  });

  it('fire no sync outcome for a failed attempt with another planned, nor for observe-only', () => {
    expect(
      run(
        target({
          sync: 'OutOfSync',
          operation: { phase: 'Failed', generation: 3, message: 'boom', retrying: true },
        }),
        target(),
      ).map((t) => t.filter((x) => x.startsWith('on-sync'))),
    ).toEqual([[], ['on-sync-succeeded']]);
    expect(
      run(target({ operation: null, observeOnly: true })).map((t) =>
        t.filter((x) => x.startsWith('on-sync')),
      ),
    ).toEqual([[]]);
  });

  it('fire drift only while self-heal is off, once until it is gone', () => {
    expect(
      run(
        target({ drifted: true, selfHeal: true }),
        target({ drifted: true }),
        target({ drifted: true }),
        target(),
        target({ drifted: true }),
      ).map((t) => t.filter((x) => x === 'on-drift-detected')),
    ).toEqual([[], ['on-drift-detected'], [], [], ['on-drift-detected']]);
  });

  it('carry the application and cluster, grouped by application', () => {
    const store = new Map<string, string>();
    const e = transitions(targetChecks(target({ health: 'Degraded' })), store, at).events;
    expect(
      e
        .filter((x) => x.trigger !== 'on-sync-succeeded')
        .map((x) => [x.trigger, x.group, x.subject, x.cluster?.name]),
    ).toEqual([['on-health-degraded', 'a1', 'a1/c1', 'edge-1']]);
  });
});

describe('rollout, appset and cluster triggers', () => {
  it('fire a halted or rolled-back rollout once per rollout', () => {
    const r = {
      kind: 'appset' as const,
      ownerId: 'o',
      name: 'web',
      status: 'Halted',
      step: 1,
      message: 'web-2 failed',
      startedAt: 't1',
    };
    const store = new Map<string, string>();
    const first = transitions([rolloutCheck(r)], store, at);
    expect(first.events.map((e) => [e.trigger, e.rollout?.step])).toEqual([
      ['on-rollout-halted', 2],
    ]);
    store.set(first.writes[0].key, first.writes[0].value!);
    expect(transitions([rolloutCheck(r)], store, at).events).toEqual([]);
    expect(
      transitions([rolloutCheck({ ...r, status: 'RolledBack' })], store, at).events[0].trigger,
    ).toBe('on-rollout-rolled-back');
    expect(transitions([rolloutCheck({ ...r, startedAt: 't2' })], store, at).events).toHaveLength(
      1,
    );
    expect(transitions([rolloutCheck({ ...r, status: 'Completed' })], store, at).writes).toEqual([
      { key: 'rollout/appset/o', value: null },
    ]);
  });

  it('fire a held deletion once per set of names', () => {
    const store = new Map<string, string>();
    const c = deletionHeldCheck({ id: 's', name: 'web', pending: ['b', 'a'] });
    const t = transitions([c], store, at);
    expect(t.events[0].appset?.pendingDeletion).toEqual(['a', 'b']);
    store.set('deletion/s', t.writes[0].value!);
    expect(
      transitions([deletionHeldCheck({ id: 's', name: 'web', pending: ['a', 'b'] })], store, at)
        .events,
    ).toEqual([]);
    expect(
      transitions([deletionHeldCheck({ id: 's', name: 'web', pending: ['a', 'c'] })], store, at)
        .events,
    ).toHaveLength(1);
  });

  it('fire a disconnection after the threshold and a certificate past 5/6 of its life', () => {
    const base = {
      id: 'c',
      name: 'edge-1',
      labels: {},
      connected: false,
      lastSeenAt: new Date(at.getTime() - 61_000),
      certificate: {
        serial: '0a',
        issuedAt: new Date(at.getTime() - 21 * 3600_000),
        notAfter: new Date(at.getTime() + 3 * 3600_000),
      },
    };
    const store = new Map<string, string>();
    expect(
      transitions(clusterChecks(base, at, 60_000), store, at).events.map((e) => e.trigger),
    ).toEqual(['on-agent-disconnected', 'on-certificate-expiring']);
    expect(
      transitions(clusterChecks(base, at, 120_000), store, at).events.map((e) => e.trigger),
    ).toEqual(['on-certificate-expiring']);
    const fresh = {
      ...base,
      connected: true,
      certificate: {
        ...base.certificate,
        issuedAt: at,
        notAfter: new Date(at.getTime() + 86_400_000),
      },
    };
    expect(transitions(clusterChecks(fresh, at, 60_000), store, at).events).toEqual([]);
    // Never connected is not "disconnected".
    expect(
      transitions(
        clusterChecks({ ...fresh, connected: false, lastSeenAt: null }, at, 60_000),
        store,
        at,
      ).events,
    ).toEqual([]);
  });
});

describe('subscriptions', () => {
  const e = deliveryEvent({
    trigger: 'on-sync-failed',
    subject: 'a1/c1',
    group: 'a1',
    value: '3:Failed',
    at: at.toISOString(),
    app: { name: 'api-eu', project: 'payments', applicationSet: 'apis' },
    cluster: { name: 'edge-1', labels: { env: 'prod', region: 'eu' } },
    revision: 'abcdef0123456789',
  });

  it('select by project, application glob, appset and cluster labels', () => {
    expect(matches({}, e)).toBe(true);
    expect(matches({ projects: ['payments'] }, e)).toBe(true);
    expect(matches({ projects: ['other'] }, e)).toBe(false);
    expect(matches({ applications: ['api-*'] }, e)).toBe(true);
    expect(matches({ applications: ['web-*'] }, e)).toBe(false);
    expect(matches({ applicationSets: ['apis'] }, e)).toBe(true);
    expect(matches({ clusterSelector: { matchLabels: { env: 'prod' } } }, e)).toBe(true);
    expect(matches({ clusterSelector: { matchLabels: { env: 'dev' } } }, e)).toBe(false);
    // An event without a cluster never matches a cluster selector.
    expect(matches({ clusterSelector: { matchLabels: {} } }, { appset: { name: 'apis' } })).toBe(
      false,
    );
    expect(matches({ applicationSets: ['apis'] }, { appset: { name: 'apis' } })).toBe(true);
  });

  it('render default messages, with a summary of collapsed events', () => {
    let d = e;
    for (const c of ['edge-2', 'edge-3', 'edge-2'])
      d = collapse(d, { ...e, cluster: { name: c, labels: {} }, message: `failed on ${c}` });
    const data = templateData(
      {
        key: 'k1',
        subscription: 's',
        count: 4,
        firstAt: at,
        lastAt: new Date(at.getTime() + 5000),
      },
      d,
    );
    const m = renderMessage({}, data);
    expect(m.title).toBe('api-eu failed to sync abcdef01 on edge-1, edge-2, edge-3 and 1 more');
    expect(m.body).toBe(
      'failed on edge-2\n(4 events from 2026-12-05T12:00:00.000Z to 2026-12-05T12:00:05.000Z)',
    );
  });

  it('render custom Go templates, and refuse broken ones at admission with the field', () => {
    const spec = subscriptionSpecSchema.parse({
      name: 's',
      destination: 'd',
      triggers: ['on-health-degraded'],
      template: { title: '{{.app.name | upper}} {{.health}} in {{.cluster.labels.env}}' },
    });
    expect(templateProblems(spec)).toEqual([]);
    const data = templateData(
      { key: 'k', subscription: 's', count: 1, firstAt: at, lastAt: at },
      sampleEvent('on-health-degraded'),
    );
    expect(renderMessage(spec.template, data).title).toBe('GUESTBOOK Degraded in prod');
    const bad = { ...spec, template: { body: '{{.app.name | nosuchfunc}}' } };
    expect(templateProblems(bad)[0].field).toBe('template.body');
    // A field the trigger's events do not carry: refused, not dead at delivery time.
    const noApp = {
      ...spec,
      triggers: ['on-agent-disconnected' as const],
      template: { title: '{{.app.name}}' },
    };
    expect(templateProblems(noApp)[0]).toMatchObject({ field: 'template.title' });
    const endless = { ...spec, template: { body: '{{range $i := until 100000000}}x{{end}}' } };
    expect(templateProblems(endless)[0].reason).toMatch(/limit|too large|steps/i);
  });

  it('format webhook, Slack and Teams bodies, and sign the exact body', () => {
    const data = templateData(
      { key: 'k1', subscription: 's', count: 1, firstAt: at, lastAt: at },
      e,
    );
    const o = { key: 'k1', trigger: e.trigger, message: renderMessage({}, data), data };
    const body = webhookBody(o, at);
    expect(JSON.parse(body)).toMatchObject({
      idempotencyKey: 'k1',
      trigger: 'on-sync-failed',
      event: { app: { name: 'api-eu' }, cluster: { name: 'edge-1' } },
    });
    expect(signature('s3cret-s3cret-s3cret', body)).toBe(
      `sha256=${createHmac('sha256', 's3cret-s3cret-s3cret').update(body).digest('hex')}`,
    );
    expect(JSON.parse(slackBody(o))).toMatchObject({ text: expect.stringContaining('api-eu') });
    const card = JSON.parse(teamsBody(o)) as {
      attachments: { contentType: string; content: { type: string } }[];
    };
    expect(card.attachments[0]).toMatchObject({
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: { type: 'AdaptiveCard' },
    });
  });
});

describe('the outbox plan', () => {
  const sub = {
    id: 's1',
    name: 'ops',
    destinationId: 'd1',
    destination: 'hook',
    createdAt: at,
    changedAt: at,
    spec: subscriptionSpecSchema.parse({
      name: 'ops',
      destination: 'hook',
      triggers: ['on-health-degraded'],
      groupWaitSeconds: 10,
      windowSeconds: 300,
    }),
  };
  const event = (cluster: string, app = 'a1') => ({
    trigger: 'on-health-degraded' as const,
    subject: `${app}/${cluster}`,
    group: app,
    value: 'Degraded',
    at: at.toISOString(),
    app: { name: app, project: 'default', applicationSet: null },
    cluster: { name: cluster, labels: {} },
  });

  it('groups an application’s events on many clusters into one delivery that waits for them', () => {
    const groups = route([event('c1'), event('c2'), event('c1', 'a2')], [sub]);
    const plan = planDeliveries(groups, new Map(), at);
    expect(plan.merges).toEqual([]);
    expect(
      plan.inserts.map((i) => [
        i.groupKey,
        i.count,
        i.event.clusters,
        i.notBefore.getTime() - at.getTime(),
      ]),
    ).toEqual([
      ['s1|on-health-degraded|a1', 2, ['c1', 'c2'], 10_000],
      ['s1|on-health-degraded|a2', 1, ['c1'], 10_000],
    ]);
    expect(new Set(plan.inserts.map((i) => i.idempotencyKey)).size).toBe(2);
  });

  it('folds into a delivery not yet attempted, and holds the next one to the end of the window', () => {
    const groups = route([event('c3')], [sub]);
    const head = {
      id: 7,
      status: 'Pending',
      attempts: 0,
      leaseUntil: null,
      createdAt: at,
      event: deliveryEvent(event('c1')),
    };
    const merged = planDeliveries(groups, new Map([['s1|on-health-degraded|a1', head]]), at);
    expect(merged.merges).toEqual([
      { id: 7, count: 1, event: expect.objectContaining({ clusters: ['c1', 'c3'] }) },
    ]);
    // Already sent 60 s ago: the next message waits until the window has passed.
    const later = new Date(at.getTime() + 60_000);
    const sent = planDeliveries(
      groups,
      new Map([['s1|on-health-degraded|a1', { ...head, status: 'Delivered', attempts: 1 }]]),
      later,
    );
    expect(sent.inserts[0].notBefore.getTime()).toBe(at.getTime() + 300_000);
    // Being sent right now (leased): a new delivery, not a change under the sender's feet.
    const leased = planDeliveries(
      groups,
      new Map([
        ['s1|on-health-degraded|a1', { ...head, leaseUntil: new Date(at.getTime() + 1000) }],
      ]),
      at,
    );
    expect(leased.inserts).toHaveLength(1);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(2, 1, 0.5)).toBe(2000);
    expect(backoffMs(2, 4, 0.5)).toBe(16_000);
    expect(backoffMs(2, 30, 0.5)).toBe(600_000);
    expect(backoffMs(2, 1, 0)).toBe(1600);
    expect(backoffMs(2, 1, 1)).toBe(2400);
  });
});

describe('destinations', () => {
  it('refuse a webhook header value fetch would refuse, naming the header', () => {
    const r = createDestinationSchema.safeParse({
      type: 'webhook',
      name: 'hook',
      url: 'https://hooks.example.com/x',
      headers: { Authorization: 'Bearer s3cr3t\nX', 'X-Team': 'platform' },
    });
    expect(r.success).toBe(false);
    const issue = r.error!.issues[0];
    expect(issue.path).toEqual(['headers', 'Authorization']);
    expect(issue.message).toContain('valid HTTP header value');
    expect(JSON.stringify(r.error!.issues)).not.toContain('s3cr3t');
  });

  it('refuse a URL carrying credentials, which fetch would quote in every failed delivery', () => {
    for (const url of ['https://u:p4ss@hooks.example.com/x', 'http://token@10.0.0.1:8080/']) {
      const r = createDestinationSchema.safeParse({ type: 'slack', name: 'hook', url });
      expect(r.success, url).toBe(false);
      expect(r.error!.issues[0].path).toEqual(['url']);
      expect(r.error!.issues[0].message).toContain('must not carry credentials');
    }
    const ok = { type: 'slack', name: 'hook', url: 'https://hooks.example.com/x?user=a@b' };
    expect(createDestinationSchema.safeParse(ok).success).toBe(true);
  });
});
