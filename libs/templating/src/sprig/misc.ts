/** Sprig defaults, reflection, encoding, hashes, paths, URLs, regexes, semver, dates and crypto. */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import { sprintf } from '../go/fmt.js';
import { def, fail, type FuncContext, type FuncMap } from '../go/funcs.js';
import { quote } from '../go/strconv.js';
import {
  GoNum,
  deepEqual,
  goKindOf,
  mapGet,
  newMap,
  typedSlice,
  type GoMap,
  isGoInt,
} from '../go/values.js';
import { empty } from './collections.js';
import { marshalOrEmpty, parseJSON, toJSON } from './encoding.js';
import {
  compileRegexp,
  findAll,
  matches,
  mustCompile,
  quoteMeta,
  replaceAll,
  split,
  type GoRegexp,
} from './regex.js';
import { parseVersion, semverCompare } from './semver.js';
import {
  GoTime,
  durationString,
  formatTime,
  isParseError,
  loadLocation,
  parseDuration,
  parseTime,
  timeNow,
  UTC,
  zeroTime,
} from './time.js';

// ---- paths (package path) ----
export function pathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p[0] === '/';
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
    } else parts.push(seg);
  }
  const out = (rooted ? '/' : '') + parts.join('/');
  return out === '' ? '.' : out;
}
export function pathBase(p: string): string {
  if (p === '') return '.';
  p = p.replace(/\/+$/, '');
  if (p === '') return '/';
  return p.slice(p.lastIndexOf('/') + 1);
}
function pathDir(p: string): string {
  return pathClean(p.slice(0, p.lastIndexOf('/') + 1));
}
function pathExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}

// ---- base64 / base32 ----
function b64decode(s: string): string {
  const bad = /[^A-Za-z0-9+/=]/.exec(s);
  if (bad) return `illegal base64 data at input byte ${bad.index}`;
  if (s.length % 4 !== 0) return `illegal base64 data at input byte ${s.length - (s.length % 4)}`;
  const pad = s.indexOf('=');
  if (pad >= 0 && pad < s.length - 2) return `illegal base64 data at input byte ${pad}`;
  return Buffer.from(s, 'base64').toString('utf8');
}
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function b32encode(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}
function b32decode(s: string): string {
  const clean = s.replace(/=+$/, '');
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (let i = 0; i < clean.length; i++) {
    const idx = B32.indexOf(clean[i]);
    if (idx < 0) return `illegal base32 data at input byte ${i}`;
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  if (s.length % 8 !== 0) return `illegal base32 data at input byte ${s.length - (s.length % 8)}`;
  return Buffer.from(bytes).toString('utf8');
}

function adler32(s: string): number {
  let a = 1;
  let b = 0;
  for (const byte of Buffer.from(s, 'utf8')) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

// ---- URLs ----
function urlParse(v: string): GoMap {
  const m = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(.*)$/s.exec(v)!;
  let scheme = m[1] ?? '';
  let rest = m[2];
  if (scheme === '' && v.startsWith(':'))
    fail(`unable to parse url: parse ${quote(v)}: missing protocol scheme`);
  scheme = scheme.toLowerCase();
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = decodeURIComponentSafe(rest.slice(hash + 1));
    rest = rest.slice(0, hash);
  }
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let opaque = '';
  let host = '';
  let userinfo = '';
  let path = '';
  if (scheme !== '' && !rest.startsWith('/')) opaque = rest;
  else {
    if (rest.startsWith('//')) {
      const end = rest.indexOf('/', 2);
      let authority = end < 0 ? rest.slice(2) : rest.slice(2, end);
      rest = end < 0 ? '' : rest.slice(end);
      const at = authority.lastIndexOf('@');
      if (at >= 0) {
        userinfo = authority.slice(0, at);
        authority = authority.slice(at + 1);
      }
      host = authority;
    }
    path = decodeURIComponentSafe(rest);
  }
  const hostname = host.startsWith('[')
    ? host.slice(1, host.indexOf(']'))
    : host.replace(/:\d*$/, '');
  const d = newMap();
  Object.assign(d, { scheme, host, hostname, path, query, opaque, fragment, userinfo });
  return d;
}
function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
function dictGetOrEmpty(d: GoMap, key: string): string {
  const v = mapGet(d, key);
  if (v === undefined) return '';
  if (typeof v !== 'string')
    fail(`unable to parse ${key} key, must be of type string, but ${goKindOf(v)} found`);
  return v;
}
function escapePath(p: string): string {
  return encodeURI(p)
    .replace(/[?#]/g, (c) => encodeURIComponent(c))
    .replace(/%5B/g, '[')
    .replace(/%5D/g, ']');
}
function urlJoin(d: GoMap): string {
  const scheme = dictGetOrEmpty(d, 'scheme');
  const host = dictGetOrEmpty(d, 'host');
  const path = dictGetOrEmpty(d, 'path');
  const query = dictGetOrEmpty(d, 'query');
  const opaque = dictGetOrEmpty(d, 'opaque');
  const fragment = dictGetOrEmpty(d, 'fragment');
  const userinfo = dictGetOrEmpty(d, 'userinfo');
  let s = '';
  if (scheme) s += scheme + ':';
  if (opaque) s += opaque;
  else {
    if (scheme || host || userinfo) {
      if (host || path || userinfo) s += '//';
      if (userinfo) s += userinfo + '@';
      s += host;
    }
    if (path && path[0] !== '/' && host) s += '/';
    s += escapePath(path);
  }
  if (query) s += '?' + query;
  if (fragment) s += '#' + encodeURI(fragment);
  return s;
}

// ---- dates ----
function toTime(date: unknown): GoTime {
  if (date instanceof GoTime) return date;
  if (typeof date === 'number' && isGoInt(date)) return new GoTime(date * 1000, 0, UTC);
  if (date instanceof GoNum && (date.t === 'int64' || date.t === 'int32'))
    return new GoTime(date.v * 1000, 0, UTC);
  return timeNow();
}
function dateInZone(fmt: string, date: unknown, zone: string): string {
  const loc = loadLocation(zone) ?? UTC;
  return formatTime(toTime(date).in(loc), fmt);
}
function durationRound(v: unknown): string {
  let d = 0;
  if (typeof v === 'string') {
    try {
      d = parseDuration(v);
    } catch {
      d = 0;
    }
  } else if (v instanceof GoNum && v.t === 'int64') d = v.v;
  else if (v instanceof GoTime) d = (Date.now() - v.ms) * 1e6;
  const u = Math.abs(d);
  const hour = 3600e9;
  const units: [number, string][] = [
    [hour * 24 * 365, 'y'],
    [hour * 24 * 30, 'mo'],
    [hour * 24, 'd'],
    [hour, 'h'],
    [60e9, 'm'],
    [1e9, 's'],
  ];
  for (const [size, name] of units) if (u > size) return Math.floor(u / size) + name;
  return '0s';
}

// ---- regex helpers ----
const mustRe = mustCompile;
function tryRe(expr: string): GoRegexp {
  try {
    return compileRegexp(expr);
  } catch (e) {
    fail((e as Error).message);
  }
}

// ---- crypto ----
function encryptAES(password: string, plaintext: string): string {
  if (plaintext === '') return '';
  const key = Buffer.alloc(32);
  Buffer.from(password, 'utf8').copy(key);
  const content = Buffer.from(plaintext, 'utf8');
  const padding = 16 - (content.length % 16);
  const padded = Buffer.concat([content, Buffer.alloc(padding, padding)]);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([iv, c.update(padded), c.final()]).toString('base64');
}
function decryptAES(password: string, crypt64: string): string {
  if (crypt64 === '') return '';
  const key = Buffer.alloc(32);
  Buffer.from(password, 'utf8').copy(key);
  const crypt = Buffer.from(crypt64, 'base64');
  if (crypt.length < 16) fail('ciphertext too short');
  const d = createDecipheriv('aes-256-cbc', key, crypt.subarray(0, 16));
  d.setAutoPadding(false);
  const dec = Buffer.concat([d.update(crypt.subarray(16)), d.final()]);
  const pad = dec[dec.length - 1] ?? 0;
  return dec.subarray(0, dec.length - pad).toString('utf8');
}
/**
 * Steps a key costs (see FuncContext.charge): a 4096-bit RSA key takes about a second of CPU
 * (at most 4 within the default million steps of one template), the others well under a
 * millisecond.
 */
const RSA_KEY_STEPS = 250_000;
const EC_KEY_STEPS = 1_000;

function genPrivateKey(this: FuncContext, typ: string): string {
  this.charge(typ === '' || typ === 'rsa' ? RSA_KEY_STEPS : EC_KEY_STEPS);
  switch (typ) {
    case '':
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey.export({
        type: 'pkcs1',
        format: 'pem',
      }) as string;
    case 'ecdsa':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'sec1',
        format: 'pem',
      }) as string;
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string;
    default:
      return 'Unknown type ' + typ;
  }
}
const unsupported = (name: string) => (): never =>
  fail(`${name} is not supported by this implementation`);

export function addMiscFuncs(m: FuncMap): void {
  def(m, 'hello', '', () => 'Hello!');
  def(m, 'fail', 'string', (msg: string) => fail(msg));
  // defaults
  def(m, 'default', 'any,...any', (d: unknown, ...given: unknown[]) =>
    given.length === 0 || empty(given[0]) ? d : given[0],
  );
  def(m, 'empty', 'any', empty);
  def(m, 'coalesce', '...any', (...v: unknown[]) => v.find((x) => !empty(x)) ?? null);
  def(m, 'all', '...any', (...v: unknown[]) => v.every((x) => !empty(x)));
  def(m, 'any', '...any', (...v: unknown[]) => v.some((x) => !empty(x)));
  def(m, 'ternary', 'any,any,bool', (vt: unknown, vf: unknown, v: boolean) => (v ? vt : vf));
  def(m, 'fromJson', 'string', (s: string) => {
    try {
      return parseJSON(s);
    } catch {
      return null;
    }
  });
  def(m, 'mustFromJson', 'string', parseJSON);
  def(m, 'toJson', 'any', (v: unknown) => marshalOrEmpty(v, true, null));
  def(m, 'toPrettyJson', 'any', (v: unknown) => marshalOrEmpty(v, true, '  '));
  def(m, 'toRawJson', 'any', (v: unknown) => toJSON(v, false, null));
  def(m, 'mustToJson', 'any', (v: unknown) => toJSON(v, true, null));
  def(m, 'mustToPrettyJson', 'any', (v: unknown) => toJSON(v, true, '  '));
  def(m, 'mustToRawJson', 'any', (v: unknown) => toJSON(v, false, null));
  // reflection
  def(m, 'typeOf', 'any', (v: unknown) => sprintf('%T', [v]));
  def(m, 'typeIs', 'string,any', (t: string, v: unknown) => t === sprintf('%T', [v]));
  def(m, 'typeIsLike', 'string,any', (t: string, v: unknown) => {
    const s = sprintf('%T', [v]);
    return t === s || '*' + t === s;
  });
  def(m, 'kindOf', 'any', (v: unknown) => goKindOf(v));
  def(m, 'kindIs', 'string,any', (t: string, v: unknown) => t === goKindOf(v));
  def(m, 'deepEqual', 'any,any', (a: unknown, b: unknown) => deepEqual(a, b));
  // paths
  for (const [prefix, fns] of [
    ['', true],
    ['os', false],
  ] as const) {
    const n = (s: string): string => (fns ? s : prefix + s[0].toUpperCase() + s.slice(1));
    def(m, n('base'), 'string', pathBase);
    def(m, n('dir'), 'string', pathDir);
    def(m, n('clean'), 'string', pathClean);
    def(m, n('ext'), 'string', pathExt);
    def(m, n('isAbs'), 'string', (p: string) => p.startsWith('/'));
  }
  // encodings & hashes
  def(m, 'b64enc', 'string', (s: string) => Buffer.from(s, 'utf8').toString('base64'));
  def(m, 'b64dec', 'string', b64decode);
  def(m, 'b32enc', 'string', b32encode);
  def(m, 'b32dec', 'string', b32decode);
  for (const alg of ['sha1', 'sha256', 'sha512'] as const) {
    def(m, `${alg}sum`, 'string', (s: string) => createHash(alg).update(s, 'utf8').digest('hex'));
  }
  def(m, 'adler32sum', 'string', (s: string) => String(adler32(s)));
  // urls
  def(m, 'urlParse', 'string', urlParse);
  def(m, 'urlJoin', 'map', (d: GoMap | null) => urlJoin(d ?? newMap()));
  // uuid & random
  def(m, 'uuidv4', '', () => randomUUID());
  def(m, 'randBytes', 'int', function (this: FuncContext, n: number) {
    this.checkSize(n * 2);
    return randomBytes(Math.max(n, 0)).toString('base64');
  });
  // semver
  def(m, 'semver', 'string', parseVersion);
  def(m, 'semverCompare', 'string,string', semverCompare);
  // regex
  def(m, 'regexMatch', 'string,string', (re: string, s: string) => {
    try {
      return matches(compileRegexp(re), s);
    } catch {
      return false;
    }
  });
  def(m, 'mustRegexMatch', 'string,string', (re: string, s: string) => {
    return matches(tryRe(re), s);
  });
  const findAllFn = (get: (e: string) => GoRegexp) => (re: string, s: string, n: number) => {
    const r = get(re);
    const ms = findAll(r, s, n);
    return typedSlice(
      ms.map((x) => s.slice(x[0], x[1])),
      'string',
    );
  };
  def(m, 'regexFindAll', 'string,string,int', findAllFn(mustRe));
  def(m, 'mustRegexFindAll', 'string,string,int', findAllFn(tryRe));
  const findFn = (get: (e: string) => GoRegexp) => (re: string, s: string) => {
    const m0 = findAll(get(re), s, 1)[0];
    return m0 ? s.slice(m0[0], m0[1]) : '';
  };
  def(m, 'regexFind', 'string,string', findFn(mustRe));
  def(m, 'mustRegexFind', 'string,string', findFn(tryRe));
  def(m, 'regexReplaceAll', 'string,string,string', (re: string, s: string, r: string) =>
    replaceAll(mustRe(re), s, r, false),
  );
  def(m, 'mustRegexReplaceAll', 'string,string,string', (re: string, s: string, r: string) =>
    replaceAll(tryRe(re), s, r, false),
  );
  def(m, 'regexReplaceAllLiteral', 'string,string,string', (re: string, s: string, r: string) =>
    replaceAll(mustRe(re), s, r, true),
  );
  def(m, 'mustRegexReplaceAllLiteral', 'string,string,string', (re: string, s: string, r: string) =>
    replaceAll(tryRe(re), s, r, true),
  );
  const splitFn = (get: (e: string) => GoRegexp) => (re: string, s: string, n: number) => {
    const parts = split(get(re), re, s, n);
    return typedSlice(parts ?? [], 'string');
  };
  def(m, 'regexSplit', 'string,string,int', splitFn(mustRe));
  def(m, 'mustRegexSplit', 'string,string,int', splitFn(tryRe));
  def(m, 'regexQuoteMeta', 'string', quoteMeta);
  // dates
  def(m, 'now', '', timeNow);
  def(m, 'date', 'string,any', (fmt: string, d: unknown) => dateInZone(fmt, d, 'Local'));
  def(m, 'dateInZone', 'string,any,string', dateInZone);
  def(m, 'date_in_zone', 'string,any,string', dateInZone);
  def(m, 'htmlDate', 'any', (d: unknown) => dateInZone('2006-01-02', d, 'Local'));
  def(m, 'htmlDateInZone', 'any,string', (d: unknown, z: string) => dateInZone('2006-01-02', d, z));
  const dateModify = (fmt: string, date: GoTime): GoTime => {
    try {
      return date.add(parseDuration(fmt));
    } catch {
      return date;
    }
  };
  def(m, 'dateModify', 'string,time', dateModify);
  def(m, 'date_modify', 'string,time', dateModify);
  const mustDateModify = (fmt: string, date: GoTime): GoTime => date.add(parseDuration(fmt));
  def(m, 'mustDateModify', 'string,time', mustDateModify);
  def(m, 'must_date_modify', 'string,time', mustDateModify);
  def(m, 'ago', 'any', (d: unknown) => {
    const t =
      d instanceof GoTime ||
      (typeof d === 'number' && isGoInt(d)) ||
      (d instanceof GoNum && d.t === 'int64')
        ? toTime(d)
        : timeNow();
    return durationString(Math.round((Date.now() - t.ms) / 1000) * 1e9);
  });
  def(m, 'duration', 'any', (v: unknown) => {
    let n = 0;
    if (typeof v === 'string') n = /^[+-]?\d+$/.test(v) ? Number(v) : 0;
    else if (v instanceof GoNum && v.t === 'int64') n = v.v;
    return durationString(n * 1e9);
  });
  def(m, 'durationRound', 'any', durationRound);
  def(m, 'toDate', 'string,string', (fmt: string, s: string) => {
    try {
      return parseTime(fmt, s, UTC);
    } catch (e) {
      if (isParseError(e)) return zeroTime();
      throw e;
    }
  });
  def(m, 'mustToDate', 'string,string', (fmt: string, s: string) => {
    try {
      return parseTime(fmt, s, UTC);
    } catch (e) {
      fail((e as Error).message);
    }
  });
  def(m, 'unixEpoch', 'time', (t: GoTime) => String(t.unixSeconds()));
  // crypto
  def(m, 'encryptAES', 'string,string', encryptAES);
  def(m, 'decryptAES', 'string,string', decryptAES);
  def(m, 'genPrivateKey', 'string', genPrivateKey);
  for (const name of [
    'bcrypt',
    'htpasswd',
    'derivePassword',
    'buildCustomCert',
    'genCA',
    'genCAWithKey',
  ]) {
    def(m, name, '...any', unsupported(name));
  }
  for (const name of [
    'genSelfSignedCert',
    'genSelfSignedCertWithKey',
    'genSignedCert',
    'genSignedCertWithKey',
  ]) {
    def(m, name, '...any', unsupported(name));
  }
}
