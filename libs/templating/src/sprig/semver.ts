/** Masterminds/semver v3 (the parts sprig exposes: semver, semverCompare, Version methods). */
import { fail } from '../go/funcs.js';
import { GoNum, GoStruct, type GoMethod } from '../go/values.js';

const versionRe =
  /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;

export class Version extends GoStruct {
  constructor(
    readonly major: number,
    readonly minor: number,
    readonly patch: number,
    readonly pre: string,
    readonly metadata: string,
    readonly original: string,
  ) {
    super();
  }
  goType(): string {
    return '*semver.Version';
  }
  goKind(): string {
    return 'ptr';
  }
  override goString(): string {
    let s = `${this.major}.${this.minor}.${this.patch}`;
    if (this.pre) s += '-' + this.pre;
    if (this.metadata) s += '+' + this.metadata;
    return s;
  }
  methods(): Record<string, GoMethod> {
    return versionMethods;
  }
}

const u64 = (n: number): GoNum => new GoNum('uint64', n);
const versionMethods = {
  Major: { params: '', fn: (v: Version) => u64(v.major) },
  Minor: { params: '', fn: (v: Version) => u64(v.minor) },
  Patch: { params: '', fn: (v: Version) => u64(v.patch) },
  Prerelease: { params: '', fn: (v: Version) => v.pre },
  Metadata: { params: '', fn: (v: Version) => v.metadata },
  Original: { params: '', fn: (v: Version) => v.original },
  String: { params: '', fn: (v: Version) => v.goString() },
  IncMajor: { params: '', fn: (v: Version) => new Version(v.major + 1, 0, 0, '', '', '') },
  IncMinor: { params: '', fn: (v: Version) => new Version(v.major, v.minor + 1, 0, '', '', '') },
  IncPatch: {
    params: '',
    fn: (v: Version) =>
      v.pre
        ? new Version(v.major, v.minor, v.patch, '', '', '')
        : new Version(v.major, v.minor, v.patch + 1, '', '', ''),
  },
  Compare: {
    params: 'any',
    fn: (v: Version, o: unknown) => (o instanceof Version ? compare(v, o) : 0),
  },
  LessThan: {
    params: 'any',
    fn: (v: Version, o: unknown) => o instanceof Version && compare(v, o) < 0,
  },
  GreaterThan: {
    params: 'any',
    fn: (v: Version, o: unknown) => o instanceof Version && compare(v, o) > 0,
  },
  Equal: {
    params: 'any',
    fn: (v: Version, o: unknown) => o instanceof Version && compare(v, o) === 0,
  },
} as unknown as Record<string, GoMethod>;

export function parseVersion(s: string): Version {
  const m = versionRe.exec(s);
  if (!m) fail('Invalid Semantic Version');
  const num = (x: string | undefined): number => (x ? Number(x.replace('.', '')) : 0);
  const pre = m[5] ?? '';
  for (const part of pre ? pre.split('.') : []) {
    if (/^\d+$/.test(part) && part.length > 1 && part[0] === '0')
      fail('Version segment starts with 0');
  }
  return new Version(num(m[1]), num(m[2]), num(m[3]), pre, m[8] ?? '', s);
}

function comparePre(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return 1;
  if (b === '') return -1;
  const as = a.split('.');
  const bs = b.split('.');
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const x = as[i];
    const y = bs[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d < 0 ? -1 : 1;
    } else if (xn) return -1;
    else if (yn) return 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function compare(a: Version, b: Version): number {
  for (const k of ['major', 'minor', 'patch'] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return comparePre(a.pre, b.pre);
}

interface Constraint {
  op: string;
  con: Version;
  minorDirty: boolean;
  patchDirty: boolean;
  dirty: boolean;
}

const opRe = /^\s*(=|!=|>=|=>|<=|=<|>|<|~>|~|\^)?\s*(.*)$/;

function parseConstraint(text: string, whole: string): Constraint {
  const m = opRe.exec(text);
  if (!m) fail(`improper constraint: ${whole}`);
  const op = m[1] ?? '';
  const ver = m[2].trim();
  const vm =
    /^v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?((?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)$/.exec(
      ver,
    );
  if (!vm) fail(`improper constraint: ${whole}`);
  const isX = (x: string | undefined): boolean => x === 'x' || x === 'X' || x === '*';
  let minorDirty = false;
  let patchDirty = false;
  let dirty = false;
  let v = ver;
  const minor = vm[2]?.slice(1);
  const patch = vm[3]?.slice(1);
  if (isX(vm[1])) {
    v = `0.0.0${vm[4]}`;
    dirty = true;
  } else if (minor === undefined || isX(minor)) {
    minorDirty = dirty = true;
    v = `${vm[1]}.0.0${vm[4]}`;
  } else if (patch === undefined || isX(patch)) {
    dirty = patchDirty = true;
    v = `${vm[1]}.${minor}.0${vm[4]}`;
  }
  let con: Version;
  try {
    con = parseVersion(v);
  } catch {
    fail('constraint Parser Error');
  }
  return { op, con, minorDirty, patchDirty, dirty };
}

function tilde(c: Constraint, v: Version): boolean {
  if (compare(v, c.con) < 0) return false;
  if (c.con.major === 0 && c.con.minor === 0 && c.con.patch === 0 && !c.minorDirty && !c.patchDirty)
    return true;
  if (v.major !== c.con.major) return false;
  return v.minor === c.con.minor || c.minorDirty;
}

// eslint-disable-next-line complexity -- mirrors Masterminds/semver's constraint functions
function check(c: Constraint, v: Version): boolean {
  const noPre = v.pre !== '' && c.con.pre === '';
  if (c.op === '!=') {
    if (c.dirty) {
      if (noPre) return false;
      if (c.con.major !== v.major) return true;
      if (c.con.minor !== v.minor && !c.minorDirty) return true;
      if (c.minorDirty) return false;
      if (c.con.patch !== v.patch && !c.patchDirty) return true;
      if (c.patchDirty)
        return (v.pre !== '' || c.con.pre !== '') && comparePre(v.pre, c.con.pre) !== 0;
    }
    return compare(v, c.con) !== 0;
  }
  if (noPre) return false;
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde(c, v) : compare(v, c.con) === 0;
    case '>':
      if (!c.dirty) return compare(v, c.con) > 0;
      if (v.major !== c.con.major) return v.major > c.con.major;
      if (c.minorDirty) return false;
      if (c.patchDirty) return v.minor > c.con.minor;
      return compare(v, c.con) > 0;
    case '<':
      return compare(v, c.con) < 0;
    case '>=':
    case '=>':
      return compare(v, c.con) >= 0;
    case '<=':
    case '=<':
      if (!c.dirty) return compare(v, c.con) <= 0;
      if (v.major > c.con.major) return false;
      return !(v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty);
    case '~':
    case '~>':
      return tilde(c, v);
    default: {
      if (compare(v, c.con) < 0) return false;
      if (c.con.major > 0 || c.minorDirty) return v.major === c.con.major;
      if (v.major > 0) return false;
      if (c.con.minor > 0 || c.patchDirty) return v.minor === c.con.minor;
      if (v.minor > 0) return false;
      return c.con.patch === v.patch;
    }
  }
}

const constraintCache = new Map<string, Constraint[][]>();

function parseConstraints(text: string): Constraint[][] {
  let cs = constraintCache.get(text);
  if (cs) return cs;
  cs = text.split('||').map((orPart) => {
    const t = orPart.trim();
    const hy = /^(\S+)\s+-\s+(\S+)$/.exec(t);
    if (hy) return [parseConstraint('>=' + hy[1], text), parseConstraint('<=' + hy[2], text)];
    const tokens = t
      .replace(/(=|!=|>=|=>|<=|=<|>|<|~>|~|\^)\s+/g, '$1')
      .split(/[\s,]+/)
      .filter((x) => x !== '');
    if (tokens.length === 0) fail(`improper constraint: ${text}`);
    return tokens.map((tok) => parseConstraint(tok, text));
  });
  if (constraintCache.size > 500) constraintCache.clear();
  constraintCache.set(text, cs);
  return cs;
}

export function semverCompare(constraint: string, version: string): boolean {
  const cs = parseConstraints(constraint);
  const v = parseVersion(version);
  return cs.some((and) => and.every((c) => check(c, v)));
}
