/** RFC 6901 JSON pointers: parsing, formatting, and removal of what a pointer names. */

export function parseJsonPointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function formatJsonPointer(tokens: readonly string[]): string {
  return tokens.map((t) => `/${t.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/**
 * Removes the value `pointer` names from `root` in place (an array item is spliced out); a
 * pointer that names nothing changes nothing. Returns whether something was removed.
 */
export function removeAtPointer(root: unknown, pointer: string): boolean {
  const tokens = parseJsonPointer(pointer);
  if (tokens.length === 0) return false;
  let node: unknown = root;
  for (const t of tokens.slice(0, -1)) {
    node = step(node, t);
    if (node === undefined) return false;
  }
  const last = tokens[tokens.length - 1];
  if (Array.isArray(node)) {
    const i = arrayIndex(last, node.length);
    if (i === undefined) return false;
    node.splice(i, 1);
    return true;
  }
  if (typeof node === 'object' && node !== null && Object.hasOwn(node, last)) {
    delete (node as Record<string, unknown>)[last];
    return true;
  }
  return false;
}

/** The value at `pointer`, or undefined. */
export function getAtPointer(root: unknown, pointer: string): unknown {
  let node: unknown = root;
  for (const t of parseJsonPointer(pointer)) {
    node = step(node, t);
    if (node === undefined) return undefined;
  }
  return node;
}

/**
 * Sets the value at `pointer`, creating missing maps on the way; `undefined` removes it.
 * Returns false when the path crosses a scalar or a missing list item.
 */
export function setAtPointer(root: unknown, pointer: string, value: unknown): boolean {
  if (value === undefined) return removeAtPointer(root, pointer);
  const tokens = parseJsonPointer(pointer);
  if (tokens.length === 0) return false;
  let node: unknown = root;
  for (const t of tokens.slice(0, -1)) {
    let next = step(node, t);
    if (next === undefined) {
      if (typeof node !== 'object' || node === null || Array.isArray(node)) return false;
      next = {};
      (node as Record<string, unknown>)[t] = next;
    }
    node = next;
  }
  const last = tokens[tokens.length - 1];
  if (Array.isArray(node)) {
    const i = arrayIndex(last, node.length + 1);
    if (i === undefined) return false;
    node[i] = value;
    return true;
  }
  if (typeof node !== 'object' || node === null) return false;
  (node as Record<string, unknown>)[last] = value;
  return true;
}

function step(node: unknown, token: string): unknown {
  if (Array.isArray(node)) {
    const i = arrayIndex(token, node.length);
    return i === undefined ? undefined : (node[i] as unknown);
  }
  if (typeof node === 'object' && node !== null && Object.hasOwn(node, token)) {
    return (node as Record<string, unknown>)[token];
  }
  return undefined;
}

function arrayIndex(token: string, length: number): number | undefined {
  if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
  const i = Number(token);
  return i < length ? i : undefined;
}
