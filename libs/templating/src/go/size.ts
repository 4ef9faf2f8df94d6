/**
 * How many values `v` holds written out in full, itself included: every shared part counted each
 * time it appears, as printing, `toJson` or `toYaml` would write it. Infinity past `budget` or on
 * a cycle. Linear in the distinct arrays and maps reachable (shared parts are sized once), so
 * `{{ $l = list $l $l }}` forty times, which holds 2^40 values in 41 arrays, is found at once.
 */
export function expandedSize(v: unknown, budget: number): number {
  if (typeof v !== 'object' || v === null) return 1;
  const sized = new Map<object, number>();
  const open = new Set<object>();
  const stack: { o: object; parts: unknown[]; i: number; size: number }[] = [];
  const enter = (o: object) => {
    open.add(o);
    stack.push({ o, parts: partsOf(o), i: 0, size: 1 });
  };
  enter(v);
  for (;;) {
    const top = stack[stack.length - 1];
    if (top.i < top.parts.length) {
      const p = top.parts[top.i++];
      if (typeof p !== 'object' || p === null) top.size += 1;
      else if (sized.has(p)) top.size += sized.get(p)!;
      else if (open.has(p)) return Infinity;
      else {
        enter(p);
        continue;
      }
      if (top.size > budget) return Infinity;
      continue;
    }
    stack.pop();
    open.delete(top.o);
    sized.set(top.o, top.size);
    const parent = stack[stack.length - 1];
    if (!parent) return top.size;
    parent.size += top.size;
    if (parent.size > budget) return Infinity;
  }
}

function partsOf(o: object): unknown[] {
  if (Array.isArray(o)) return o;
  if (o instanceof Map) return [...o.values()];
  const proto: unknown = Object.getPrototypeOf(o);
  return proto === Object.prototype || proto === null ? Object.values(o) : [];
}
