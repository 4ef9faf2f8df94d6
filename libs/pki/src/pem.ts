import { PkiError } from './errors.js';

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,64})-----([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Upper bound for any PEM input; a CA bundle is a few KiB, so this only stops abuse. */
export const MAX_PEM_BYTES = 1024 * 1024;

/** All PEM blocks in `text`, in order. Text outside the blocks (openssl "Bag Attributes" etc.) is ignored. */
export function pemBlocks(text: unknown, what: string, maxBytes = MAX_PEM_BYTES): PemBlock[] {
  if (typeof text !== 'string') {
    throw new PkiError(
      `${what}: expected a PEM string, got ${text === null ? 'null' : typeof text}`,
    );
  }
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) {
    throw new PkiError(`${what}: ${size} bytes is larger than the limit of ${maxBytes} bytes`);
  }
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2].replace(/\s+/g, '');
    if (body.length === 0 || body.length % 4 !== 0 || !BASE64.test(body)) {
      throw new PkiError(`${what}: PEM block "${m[1]}" is not valid base64`);
    }
    blocks.push({ label: m[1], der: new Uint8Array(Buffer.from(body, 'base64')) });
  }
  return blocks;
}

/** The first block with one of `labels`; PkiError if there is none. */
export function pemFind(
  text: unknown,
  labels: readonly string[],
  what: string,
  maxBytes = MAX_PEM_BYTES,
): PemBlock {
  const block = pemBlocks(text, what, maxBytes).find((b) => labels.includes(b.label));
  if (!block) {
    throw new PkiError(`${what}: no PEM block of type ${labels.map((l) => `"${l}"`).join(' or ')}`);
  }
  return block;
}

/** The DER of the first block with one of `labels`; PkiError if there is none. */
export function pemDecode(
  text: unknown,
  labels: readonly string[],
  what: string,
  maxBytes = MAX_PEM_BYTES,
): Uint8Array {
  return pemFind(text, labels, what, maxBytes).der;
}

export function pemEncode(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
