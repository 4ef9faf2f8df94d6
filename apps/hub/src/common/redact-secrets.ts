import { createHmac, randomBytes } from 'node:crypto';

/**
 * Redaction of Kubernetes Secret values where the hub's API shows manifests (diffs, previews,
 * the drift agents report). Applied at the view boundary: stored bundles and reports keep their
 * values, only what is returned is redacted.
 *
 * A value becomes `<redacted hmac-sha256:0123456789ab>`: the first 12 hex digits of an HMAC keyed
 * with a random per-process key. Equal values give equal markers within the process, so a diff
 * still tells a changed key from an unchanged one; without the key, a marker cannot be checked
 * against guessed values (short passwords) offline.
 */
const PROCESS_KEY = randomBytes(32);

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** JSON pointers whose values are secret in a core Secret (the annotation holds a copy). */
const SECRET_POINTERS = [
  '/data',
  '/stringData',
  `/metadata/annotations/${LAST_APPLIED.replace(/\//g, '~1')}`,
];

/** A core (`v1`) Secret: a kind named Secret in another API group is not one. */
export function isCoreSecret(k: { group: string; kind: string }): boolean {
  return k.group === '' && k.kind === 'Secret';
}

/** The marker for one value; `text` is its JSON encoding. */
export function secretMarker(text: string, key: Uint8Array = PROCESS_KEY): string {
  const mac = createHmac('sha256', key).update(text).digest('hex');
  return `<redacted hmac-sha256:${mac.slice(0, 12)}>`;
}

function markerOf(v: unknown, key: Uint8Array): string {
  return secretMarker(JSON.stringify(v) ?? '', key);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The object with every value under `data` and `stringData` (and the last-applied annotation,
 * which copies them) replaced by a marker, the keys kept, when it is a core v1 Secret; any other
 * object is returned as it is. The object passed is not modified.
 */
export function redactSecret<T>(obj: T, key: Uint8Array = PROCESS_KEY): T {
  if (!isRecord(obj) || obj.kind !== 'Secret') return obj;
  const apiVersion = obj.apiVersion;
  if (typeof apiVersion !== 'string' || apiVersion.includes('/')) return obj;
  const out: Record<string, unknown> = { ...obj };
  for (const field of ['data', 'stringData']) {
    const v = out[field];
    if (v === undefined || v === null) continue;
    out[field] = isRecord(v)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, markerOf(x, key)]))
      : markerOf(v, key);
  }
  const meta = out.metadata;
  if (isRecord(meta) && isRecord(meta.annotations) && LAST_APPLIED in meta.annotations) {
    out.metadata = {
      ...meta,
      annotations: {
        ...meta.annotations,
        [LAST_APPLIED]: markerOf(meta.annotations[LAST_APPLIED], key),
      },
    };
  }
  return out as T;
}

/** One field diff as agents report it: a JSON pointer, both values JSON-encoded ("" = absent). */
interface FieldDiff {
  path: string;
  desired: string;
  live: string;
}

/** A pointer at, above or under one of a Secret's secret fields. */
function touchesSecret(path: string): boolean {
  return SECRET_POINTERS.some(
    (p) => path === p || path.startsWith(`${p}/`) || p.startsWith(`${path}/`) || path === '',
  );
}

/**
 * Agent-reported resource states with the diff values of core Secrets' secret fields replaced by
 * markers (JSON-encoded, as the values are). Agents redact them already; the hub does not rely
 * on it. Other resources and fields are returned as they are.
 */
export function redactSecretDiffs<R extends { group: string; kind: string; diffs?: FieldDiff[] }>(
  resources: R[],
  key: Uint8Array = PROCESS_KEY,
): R[] {
  return resources.map((r) => {
    if (!isCoreSecret(r) || !r.diffs?.length) return r;
    return {
      ...r,
      diffs: r.diffs.map((d) =>
        touchesSecret(d.path)
          ? {
              ...d,
              desired: d.desired === '' ? '' : JSON.stringify(secretMarker(d.desired, key)),
              live: d.live === '' ? '' : JSON.stringify(secretMarker(d.live, key)),
            }
          : d,
      ),
    };
  });
}
