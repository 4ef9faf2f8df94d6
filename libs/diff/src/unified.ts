/**
 * Unified diff of two texts by line (`diff -u` format, as `kubectl diff` prints it): hunks with
 * `context` unchanged lines around each change. Lines are matched by a longest common
 * subsequence; inputs too large for that (more than `maxCells` line pairs) come out as one hunk
 * that removes every old line and adds every new one, which is still a correct diff.
 */
export function unifiedDiff(
  oldText: string,
  newText: string,
  opts: { oldName: string; newName: string; context?: number; maxCells?: number },
): string {
  if (oldText === newText) return '';
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const context = opts.context ?? 3;
  const ops = lineOps(a, b, opts.maxCells ?? 4_000_000);
  const out = [`--- ${opts.oldName}`, `+++ ${opts.newName}`];
  // Group the operations into hunks separated by more than 2 × context unchanged lines.
  let i = 0;
  while (i < ops.length) {
    while (i < ops.length && ops[i].op === ' ') i++;
    if (i >= ops.length) break;
    const start = Math.max(0, i - context);
    let end = i;
    for (;;) {
      while (end < ops.length && ops[end].op !== ' ') end++;
      let gap = end;
      while (gap < ops.length && ops[gap].op === ' ') gap++;
      if (gap < ops.length && gap - end <= 2 * context) end = gap;
      else {
        end = Math.min(ops.length, end + context);
        break;
      }
    }
    const hunk = ops.slice(start, end);
    const oldStart = hunk[0].a;
    const newStart = hunk[0].b;
    const oldLen = hunk.filter((o) => o.op !== '+').length;
    const newLen = hunk.filter((o) => o.op !== '-').length;
    out.push(`@@ -${range(oldStart, oldLen)} +${range(newStart, newLen)} @@`);
    for (const o of hunk) out.push(`${o.op}${o.line}`);
    i = end;
  }
  return out.join('\n') + '\n';
}

interface LineOp {
  op: ' ' | '-' | '+';
  line: string;
  /** 1-based line numbers in the old and new text where this op stands. */
  a: number;
  b: number;
}

function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function range(start: number, len: number): string {
  // diff -u: an empty range names the line before it.
  if (len === 0) return `${start - 1},0`;
  return len === 1 ? `${start}` : `${start},${len}`;
}

function lineOps(a: string[], b: string[], maxCells: number): LineOp[] {
  // Common prefix and suffix first: most manifests differ in a few lines.
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (
    suf < a.length - pre &&
    suf < b.length - pre &&
    a[a.length - 1 - suf] === b[b.length - 1 - suf]
  )
    suf++;
  const ma = a.slice(pre, a.length - suf);
  const mb = b.slice(pre, b.length - suf);
  const ops: LineOp[] = [];
  for (let k = 0; k < pre; k++) ops.push({ op: ' ', line: a[k], a: k + 1, b: k + 1 });
  let ia = pre;
  let ib = pre;
  const push = (op: LineOp['op'], line: string) => {
    ops.push({ op, line, a: ia + 1, b: ib + 1 });
    if (op !== '+') ia++;
    if (op !== '-') ib++;
  };
  if ((ma.length + 1) * (mb.length + 1) > maxCells) {
    for (const l of ma) push('-', l);
    for (const l of mb) push('+', l);
  } else {
    // LCS lengths from the end, then walk forward.
    const n = ma.length;
    const m = mb.length;
    const w = m + 1;
    const len = new Uint32Array((n + 1) * w);
    for (let x = n - 1; x >= 0; x--)
      for (let y = m - 1; y >= 0; y--)
        len[x * w + y] =
          ma[x] === mb[y]
            ? len[(x + 1) * w + y + 1] + 1
            : Math.max(len[(x + 1) * w + y], len[x * w + y + 1]);
    let x = 0;
    let y = 0;
    while (x < n || y < m) {
      if (x < n && y < m && ma[x] === mb[y]) {
        push(' ', ma[x]);
        x++;
        y++;
      } else if (x < n && (y >= m || len[(x + 1) * w + y] >= len[x * w + y + 1])) {
        push('-', ma[x]);
        x++;
      } else {
        push('+', mb[y]);
        y++;
      }
    }
  }
  for (let k = a.length - suf; k < a.length; k++) push(' ', a[k]);
  return ops;
}
