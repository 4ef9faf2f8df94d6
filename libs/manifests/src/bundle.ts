import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ManifestError } from './errors.js';
import { compareForApply, resourceId, resourceKey } from './identity.js';
import { DEFAULT_LIMITS, type ManifestLimits } from './limits.js';
import type { KubeObject } from './types.js';

/** A rendered desired state: objects in canonical order, addressed by the hash of their content. */
export interface Bundle {
  objects: KubeObject[];
  /** `sha256:<hex>` of the canonical JSON. */
  hash: string;
  /** Canonical JSON (sorted keys), what the hash covers. */
  json: string;
}

/** JSON with object keys sorted at every level: equal content gives equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function sha256(data: string | Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Orders objects canonically, refuses duplicates, and hashes the result. */
export function makeBundle(objects: KubeObject[], limits: ManifestLimits = DEFAULT_LIMITS): Bundle {
  if (objects.length > limits.maxObjects) {
    throw new ManifestError(`bundle has ${objects.length} objects, more than ${limits.maxObjects}`);
  }
  const sorted = [...objects].sort(compareForApply);
  const seen = new Set<string>();
  for (const o of sorted) {
    const id = resourceId(resourceKey(o));
    if (seen.has(id))
      throw new ManifestError(
        `duplicate resource ${o.kind}/${o.metadata.name}${o.metadata.namespace ? ` in namespace ${o.metadata.namespace}` : ''}`,
      );
    seen.add(id);
  }
  const json = canonicalJson(sorted);
  if (Buffer.byteLength(json) > limits.maxBundleBytes) {
    throw new ManifestError(`rendered manifests are larger than ${limits.maxBundleBytes} bytes`);
  }
  return { objects: sorted, hash: sha256(json), json };
}

export function compressBundle(json: string): Buffer {
  return gzipSync(json);
}

/** Inflates and parses a bundle, refusing output over the limit (gzip bombs) and hash mismatches. */
export function decompressBundle(
  gz: Uint8Array,
  expectedHash: string | undefined,
  limits: ManifestLimits = DEFAULT_LIMITS,
): Bundle {
  let raw: Buffer;
  try {
    raw = gunzipSync(gz, { maxOutputLength: limits.maxBundleBytes });
  } catch (e) {
    throw new ManifestError(`bundle cannot be decompressed: ${(e as Error).message}`);
  }
  const json = raw.toString('utf8');
  const hash = sha256(json);
  if (expectedHash && hash !== expectedHash) {
    throw new ManifestError(`bundle hash mismatch: expected ${expectedHash}, got ${hash}`);
  }
  const objects = JSON.parse(json) as unknown;
  if (!Array.isArray(objects)) throw new ManifestError('bundle is not a list of objects');
  return { objects: objects as KubeObject[], hash, json };
}
