import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { canonicalJson, compressBundle, decompressBundle, makeBundle } from './bundle.js';
import type { KubeObject } from './types.js';

const obj = (kind: string, name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: kind === 'Deployment' ? 'apps/v1' : 'v1',
  kind,
  metadata: { name },
  ...extra,
});

describe('bundles', () => {
  it('orders namespaces first and hashes content, not key order', () => {
    const a = makeBundle([
      obj('Deployment', 'web'),
      obj('ConfigMap', 'cfg', { data: { b: '2', a: '1' } }),
      obj('Namespace', 'ns'),
    ]);
    expect(a.objects.map((o) => o.kind)).toEqual(['Namespace', 'ConfigMap', 'Deployment']);
    const b = makeBundle([
      obj('ConfigMap', 'cfg', { data: { a: '1', b: '2' } }),
      obj('Namespace', 'ns'),
      obj('Deployment', 'web'),
    ]);
    expect(b.hash).toBe(a.hash);
    expect(a.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const c = makeBundle([
      obj('ConfigMap', 'cfg', { data: { a: '1', b: '3' } }),
      obj('Namespace', 'ns'),
      obj('Deployment', 'web'),
    ]);
    expect(c.hash).not.toBe(a.hash);
  });

  it('refuses duplicates', () => {
    expect(() => makeBundle([obj('ConfigMap', 'x'), obj('ConfigMap', 'x')])).toThrow(
      'duplicate resource ConfigMap/x',
    );
  });

  it('round-trips through gzip and checks the hash', () => {
    const b = makeBundle([obj('ConfigMap', 'x')]);
    const back = decompressBundle(compressBundle(b.json), b.hash);
    expect(back.objects).toEqual(b.objects);
    expect(() => decompressBundle(compressBundle(b.json), 'sha256:00')).toThrow(/hash mismatch/);
  });

  it('refuses a gzip bomb', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 32));
    expect(() => decompressBundle(bomb, undefined)).toThrow(/cannot be decompressed/);
  });

  it('canonicalJson sorts nested keys', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
