/**
 * How many values `v` holds written out in full (`size`), itself included: every shared part
 * counted each time it appears, as printing, `toJson` or `toYaml` would write it. Infinity past
 * `budget` or on a cycle. Linear in the distinct arrays and maps reachable (shared parts are sized
 * once), so `{{ $l = list $l $l }}` forty times, which holds 2^40 values in 41 arrays, is found at
 * once.
 *
 * Also the work it took (`work`: the parts looked at, each distinct array or map's elements once)
 * and how many of those are `v`'s own (`own`). Every array and map looked into is added to `seen`.
 * Callers charge that work to the step budget: a map grown by `set` in a loop is measured again
 * after every call, which is quadratic in its size.
 */
export function measure(
  v: unknown,
  budget: number,
  seen?: WeakSet<object>,
): { size: number; work: number; own: number } {
  if (typeof v !== 'object' || v === null) return { size: 1, work: 0, own: 0 };
  let work = 0;
  const sized = new Map<object, number>();
  const open = new Set<object>();
  const stack: { o: object; parts: unknown[]; i: number; size: number }[] = [];
  const enter = (o: object) => {
    open.add(o);
    seen?.add(o);
    stack.push({ o, parts: partsOf(o), i: 0, size: 1 });
  };
  enter(v);
  const own = stack[0].parts.length;
  for (;;) {
    const top = stack[stack.length - 1];
    if (top.i < top.parts.length) {
      const p = top.parts[top.i++];
      work++;
      if (typeof p !== 'object' || p === null) top.size += 1;
      else if (sized.has(p)) top.size += sized.get(p)!;
      else if (open.has(p)) return { size: Infinity, work, own };
      else {
        enter(p);
        continue;
      }
      if (top.size > budget) return { size: Infinity, work, own };
      continue;
    }
    stack.pop();
    open.delete(top.o);
    sized.set(top.o, top.size);
    const parent = stack[stack.length - 1];
    if (!parent) return { size: top.size, work, own };
    parent.size += top.size;
    if (parent.size > budget) return { size: Infinity, work, own };
  }
}

function partsOf(o: object): unknown[] {
  if (Array.isArray(o)) return o;
  if (o instanceof Map) return [...o.values()];
  const proto: unknown = Object.getPrototypeOf(o);
  return proto === Object.prototype || proto === null ? Object.values(o) : [];
}
