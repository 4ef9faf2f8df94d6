import { describe, expect, it } from 'vitest';
import { redactSecret, redactSecretDiffs, secretMarker } from './redact-secrets.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const MARKER = /^<redacted hmac-sha256:[0-9a-f]{12}>$/;

const secret = () => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'db', namespace: 'prod', labels: { app: 'db' } },
  type: 'Opaque',
  data: { password: b64('hunter2'), replica: b64('hunter2'), user: b64('admin') },
  stringData: { token: 'tok-123' },
});

describe('redactSecret', () => {
  it('replaces the values of a core Secret by markers, keeping the keys and the rest', () => {
    const s = secret();
    const r = redactSecret(s);
    expect(Object.keys(r.data)).toEqual(['password', 'replica', 'user']);
    expect(Object.keys(r.stringData)).toEqual(['token']);
    for (const v of [...Object.values(r.data), ...Object.values(r.stringData)])
      expect(v).toMatch(MARKER);
    const text = JSON.stringify(r);
    for (const clear of [b64('hunter2'), b64('admin'), 'tok-123', 'hunter2']) {
      expect(text).not.toContain(clear);
    }
    expect(r.metadata).toEqual(s.metadata);
    expect(r.type).toBe('Opaque');
    // The object passed is left as it was (stored bundles keep their values).
    expect(s).toEqual(secret());
  });

  it('gives equal values equal markers and different values different ones', () => {
    const r = redactSecret(secret());
    expect(r.data.password).toBe(r.data.replica);
    expect(r.data.password).not.toBe(r.data.user);
    const changed = redactSecret({ ...secret(), data: { ...secret().data, password: b64('x') } });
    expect(changed.data.password).not.toBe(r.data.password);
    expect(changed.data.user).toBe(r.data.user);
  });

  it('keys the markers: without the key a value cannot be checked against a guess', () => {
    const k1 = Buffer.alloc(32, 1);
    const k2 = Buffer.alloc(32, 2);
    expect(secretMarker('"aGk="', k1)).toBe(secretMarker('"aGk="', k1));
    expect(secretMarker('"aGk="', k1)).not.toBe(secretMarker('"aGk="', k2));
    expect(redactSecret(secret(), k1).data.user).toBe(
      secretMarker(JSON.stringify(b64('admin')), k1),
    );
  });

  it("redacts the last-applied annotation, which copies a Secret's data", () => {
    const s = {
      ...secret(),
      metadata: {
        name: 'db',
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(secret()),
          note: 'kept',
        },
      },
    };
    const r = redactSecret(s);
    expect(r.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toMatch(
      MARKER,
    );
    expect(r.metadata.annotations.note).toBe('kept');
  });

  it('redacts data that is not a map as one value', () => {
    const r = redactSecret({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'x' },
      data: 'c2VjcmV0',
    });
    expect(r.data).toMatch(MARKER);
  });

  it('leaves other objects alone: a ConfigMap, a Deployment, a Secret kind in another group', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } };
    const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: {} };
    const crd = {
      apiVersion: 'example.com/v1',
      kind: 'Secret',
      metadata: { name: 'x' },
      data: { a: 'visible' },
    };
    for (const o of [cm, deploy, crd, null, 'text', 1]) expect(redactSecret(o)).toBe(o);
  });
});

describe('redactSecretDiffs', () => {
  const base = {
    version: 'v1',
    namespace: 'prod',
    name: 'db',
    sync: 'OutOfSync',
    health: 'Healthy',
  };

  it('redacts the secret fields of core Secrets in agent-reported diffs', () => {
    const [r] = redactSecretDiffs([
      {
        ...base,
        group: '',
        kind: 'Secret',
        drifted: true,
        diffs: [
          { path: '/data/password', desired: '"aHVudGVyMg=="', live: '"eA=="' },
          { path: '/stringData/token', desired: '"tok"', live: '' },
          { path: '/data', desired: '{"a":"b"}', live: '{"a":"c"}' },
          { path: '/metadata', desired: '{"name":"db"}', live: '{"name":"db","x":1}' },
          { path: '/metadata/labels/app', desired: '"db"', live: '"web"' },
          { path: '/type', desired: '"Opaque"', live: '"tls"' },
        ],
      },
    ]);
    const [pw, token, data, meta, label, type] = r.diffs;
    expect(pw.path).toBe('/data/password');
    expect(JSON.parse(pw.desired)).toMatch(MARKER);
    expect(JSON.parse(pw.live)).toMatch(MARKER);
    expect(pw.desired).not.toBe(pw.live);
    expect(JSON.stringify(r)).not.toContain('aHVudGVyMg==');
    expect(JSON.parse(token.desired)).toMatch(MARKER);
    expect(token.live).toBe(''); // absent stays absent
    expect(JSON.parse(data.live)).toMatch(MARKER);
    expect(JSON.parse(meta.live)).toMatch(MARKER); // holds the last-applied annotation
    expect(label).toEqual({ path: '/metadata/labels/app', desired: '"db"', live: '"web"' });
    expect(type).toEqual({ path: '/type', desired: '"Opaque"', live: '"tls"' });
  });

  it('gives a diff value the marker its object value gets', () => {
    const [r] = redactSecretDiffs([
      {
        ...base,
        group: '',
        kind: 'Secret',
        diffs: [{ path: '/data/user', desired: JSON.stringify(b64('admin')), live: '' }],
      },
    ]);
    expect(JSON.parse(r.diffs[0].desired)).toBe(redactSecret(secret()).data.user);
  });

  it('leaves other resources alone', () => {
    const rs = [
      {
        ...base,
        group: '',
        kind: 'ConfigMap',
        diffs: [{ path: '/data/a', desired: '"x"', live: '"y"' }],
      },
      {
        ...base,
        group: 'example.com',
        kind: 'Secret',
        diffs: [{ path: '/data/a', desired: '"x"', live: '"y"' }],
      },
      { ...base, group: '', kind: 'Secret' },
    ];
    const out = redactSecretDiffs(rs);
    out.forEach((r, i) => expect(r).toBe(rs[i]));
  });
});
