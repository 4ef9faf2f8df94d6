/** Go time layouts: time.Time.Format and time.ParseInLocation. */
import { GoTime, ianaZoneAt, UTC, type Zone } from './time.js';

export const longDays = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
];
export const longMonths = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

type Tok = { k: 'lit'; s: string } | { k: string; n?: number; sep?: string; src?: string };

/** Tokenise a Go layout (nextStdChunk). */
export function layoutTokens(layout: string): Tok[] {
  const out: Tok[] = [];
  let lit = '';
  const push = (t: Tok): void => {
    if (lit) out.push({ k: 'lit', s: lit });
    lit = '';
    out.push(t);
  };
  const std: [string, string][] = [
    ['January', 'January'],
    ['Jan', 'Jan'],
    ['Monday', 'Monday'],
    ['Mon', 'Mon'],
    ['MST', 'MST'],
    ['2006', '2006'],
    ['Z07:00:00', 'Z070000c'],
    ['Z070000', 'Z070000'],
    ['Z07:00', 'Z0700c'],
    ['Z0700', 'Z0700'],
    ['Z07', 'Z07'],
    ['-07:00:00', 'N070000c'],
    ['-070000', 'N070000'],
    ['-07:00', 'N0700c'],
    ['-0700', 'N0700'],
    ['-07', 'N07'],
    ['002', '002'],
    ['__2', '__2'],
    ['_2', '_2'],
    ['01', '01'],
    ['02', '02'],
    ['03', '03'],
    ['04', '04'],
    ['05', '05'],
    ['06', '06'],
    ['15', '15'],
    ['PM', 'PM'],
    ['pm', 'pm'],
    ['1', '1'],
    ['2', '2'],
    ['3', '3'],
    ['4', '4'],
    ['5', '5'],
  ];
  let i = 0;
  outer: while (i < layout.length) {
    const c = layout[i];
    if ((c === '.' || c === ',') && (layout[i + 1] === '0' || layout[i + 1] === '9')) {
      const d = layout[i + 1];
      let j = i + 1;
      while (j < layout.length && layout[j] === d) j++;
      if (!(j < layout.length && /[0-9]/.test(layout[j]))) {
        push({ k: d === '0' ? 'frac0' : 'frac9', n: j - i - 1, sep: c, src: layout.slice(i, j) });
        i = j;
        continue;
      }
    }
    for (const [pat, k] of std) {
      if (layout.startsWith(pat, i)) {
        if ((pat === 'Jan' || pat === 'Mon') && /[a-z]/.test(layout[i + 3] ?? '')) continue;
        if (pat === '2006' || pat === '002' || pat === '__2' || pat === '_2') {
          // fine
        }
        push({ k, src: pat });
        i += pat.length;
        continue outer;
      }
    }
    lit += c;
    i++;
  }
  if (lit) out.push({ k: 'lit', s: lit });
  return out;
}

const layoutCache = new Map<string, Tok[]>();
function tokens(layout: string): Tok[] {
  let t = layoutCache.get(layout);
  if (!t) {
    t = layoutTokens(layout);
    if (layoutCache.size > 256) layoutCache.clear();
    layoutCache.set(layout, t);
  }
  return t;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

function offsetString(
  off: number,
  colon: boolean,
  seconds: boolean,
  hoursOnly: boolean,
  z: boolean,
): string {
  if (z && off === 0) return 'Z';
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  let s = sign + pad(Math.floor(a / 3600), 2);
  if (hoursOnly) return s;
  s += (colon ? ':' : '') + pad(Math.floor((a % 3600) / 60), 2);
  if (seconds) s += (colon ? ':' : '') + pad(a % 60, 2);
  return s;
}

/** time.Time.Format */
// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
export function formatTime(t: GoTime, layout: string): string {
  const f = t.fields();
  const zone = t.zoneAt();
  let out = '';
  for (const tok of tokens(layout)) {
    switch (tok.k) {
      case 'lit':
        out += (tok as { s: string }).s;
        break;
      case 'January':
        out += longMonths[f.month - 1];
        break;
      case 'Jan':
        out += longMonths[f.month - 1].slice(0, 3);
        break;
      case 'Monday':
        out += longDays[f.wday];
        break;
      case 'Mon':
        out += longDays[f.wday].slice(0, 3);
        break;
      case 'MST':
        out += zone.name !== '' ? zone.name : offsetString(zone.offset, false, false, false, false);
        break;
      case '2006':
        out += pad(f.year, 4);
        break;
      case '06':
        out += pad(f.year % 100, 2);
        break;
      case '01':
        out += pad(f.month, 2);
        break;
      case '1':
        out += f.month;
        break;
      case '02':
        out += pad(f.day, 2);
        break;
      case '_2':
        out += String(f.day).padStart(2, ' ');
        break;
      case '2':
        out += f.day;
        break;
      case '002':
        out += pad(f.yday, 3);
        break;
      case '__2':
        out += String(f.yday).padStart(3, ' ');
        break;
      case '15':
        out += pad(f.hour, 2);
        break;
      case '03':
        out += pad(f.hour % 12 === 0 ? 12 : f.hour % 12, 2);
        break;
      case '3':
        out += f.hour % 12 === 0 ? 12 : f.hour % 12;
        break;
      case '04':
        out += pad(f.min, 2);
        break;
      case '4':
        out += f.min;
        break;
      case '05':
        out += pad(f.sec, 2);
        break;
      case '5':
        out += f.sec;
        break;
      case 'PM':
        out += f.hour >= 12 ? 'PM' : 'AM';
        break;
      case 'pm':
        out += f.hour >= 12 ? 'pm' : 'am';
        break;
      case 'frac0':
      case 'frac9': {
        const n = (tok as { n: number }).n;
        const digits = pad(t.nanosecond(), 9).slice(0, n);
        if (tok.k === 'frac0') out += (tok as { sep: string }).sep + digits;
        else {
          const trimmed = digits.replace(/0+$/, '');
          if (trimmed) out += (tok as { sep: string }).sep + trimmed;
        }
        break;
      }
      default: {
        const k = tok.k;
        const z = k[0] === 'Z';
        const colon = k.endsWith('c');
        const seconds = k.includes('0000') && k.length >= 7 && k.slice(1).startsWith('070000');
        const hoursOnly = k === 'Z07' || k === 'N07';
        out += offsetString(zone.offset, colon, seconds, hoursOnly, z);
      }
    }
  }
  return out;
}

class ParseErr extends Error {}

/** time.ParseInLocation (subset sufficient for templates). */
// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
export function parseTime(layout: string, value: string, loc: Zone): GoTime {
  let year = 1;
  let month = 1;
  let day = 1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let ns = 0;
  let pmSet = false;
  let pm = false;
  let offset: number | undefined;
  let zoneName: string | undefined;
  let v = value;
  let elem = '';
  const bad = (): never => {
    throw new ParseErr(
      `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(v)} as ${JSON.stringify(elem)}`,
    );
  };
  const num = (min: number, max: number): number => {
    const m = new RegExp(`^\\d{${min},${max}}`).exec(v);
    if (!m) bad();
    v = v.slice(m![0].length);
    return Number(m![0]);
  };
  const word = (list: string[], len?: number): number => {
    for (let i = 0; i < list.length; i++) {
      const w = len ? list[i].slice(0, len) : list[i];
      if (v.toLowerCase().startsWith(w.toLowerCase())) {
        v = v.slice(w.length);
        return i;
      }
    }
    return bad();
  };
  for (const tok of tokens(layout)) {
    elem = tok.k === 'lit' ? (tok as { s: string }).s : ((tok as { src?: string }).src ?? '');
    switch (tok.k) {
      case 'lit': {
        const s = (tok as { s: string }).s;
        if (!v.startsWith(s)) bad();
        v = v.slice(s.length);
        break;
      }
      case 'January':
        month = word(longMonths) + 1;
        break;
      case 'Jan':
        month = word(longMonths, 3) + 1;
        break;
      case 'Monday':
        word(longDays);
        break;
      case 'Mon':
        word(longDays, 3);
        break;
      case '2006':
        year = num(4, 4);
        break;
      case '06': {
        const y = num(2, 2);
        year = y >= 69 ? 1900 + y : 2000 + y;
        break;
      }
      case '01':
        month = num(2, 2);
        break;
      case '1':
        month = num(1, 2);
        break;
      case '02':
        day = num(2, 2);
        break;
      case '_2':
        if (v[0] === ' ') v = v.slice(1);
        day = num(1, 2);
        break;
      case '2':
        day = num(1, 2);
        break;
      case '15':
        hour = num(2, 2);
        break;
      case '03':
        hour = num(2, 2);
        break;
      case '3':
        hour = num(1, 2);
        break;
      case '04':
        min = num(2, 2);
        break;
      case '4':
        min = num(1, 2);
        break;
      case '05':
      case '5':
        sec = num(tok.k === '05' ? 2 : 1, 2);
        if (/^[.,]\d/.test(v) && !tokens(layout).some((t) => t.k === 'frac0' || t.k === 'frac9')) {
          const m = /^[.,](\d+)/.exec(v)!;
          ns = Number(m[1].slice(0, 9).padEnd(9, '0'));
          v = v.slice(m[0].length);
        }
        break;
      case 'PM':
      case 'pm': {
        const s = v.slice(0, 2).toUpperCase();
        if (s !== 'AM' && s !== 'PM') bad();
        pmSet = true;
        pm = s === 'PM';
        v = v.slice(2);
        break;
      }
      case 'MST': {
        const m = /^[A-Z]{3,5}/.exec(v) ?? bad();
        zoneName = m[0];
        v = v.slice(m[0].length);
        if (zoneName === 'UTC' || zoneName === 'GMT') offset = 0;
        break;
      }
      case 'frac0':
      case 'frac9': {
        const m = /^[.,](\d+)/.exec(v);
        if (!m) {
          if (tok.k === 'frac9') break;
          bad();
        }
        ns = Number(m![1].slice(0, 9).padEnd(9, '0'));
        v = v.slice(m![0].length);
        break;
      }
      case '002':
      case '__2':
        num(1, 3);
        break;
      default: {
        if (tok.k[0] === 'Z' && v[0] === 'Z') {
          v = v.slice(1);
          offset = 0;
          break;
        }
        const m = /^([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?/.exec(v) ?? bad();
        offset =
          (m[1] === '-' ? -1 : 1) *
          (Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0));
        v = v.slice(m[0].length);
      }
    }
  }
  if (v.length > 0)
    throw new ParseErr(`parsing time ${JSON.stringify(value)}: extra text: ${JSON.stringify(v)}`);
  if (pmSet) {
    if (pm && hour < 12) hour += 12;
    else if (!pm && hour === 12) hour = 0;
  }
  if (month < 1 || month > 12)
    throw new ParseErr(`parsing time ${JSON.stringify(value)}: month out of range`);
  if (day < 1 || day > 31)
    throw new ParseErr(`parsing time ${JSON.stringify(value)}: day out of range`);
  const wall = Date.UTC(year, month - 1, day, hour, min, sec);
  const wallFixed = year < 100 ? new Date(wall).setUTCFullYear(year) : wall;
  if (offset !== undefined) {
    const zone: Zone =
      offset === 0 && (zoneName === undefined || zoneName === 'UTC')
        ? UTC
        : { name: zoneName ?? '', offset };
    return new GoTime(wallFixed - offset * 1000 + Math.floor(ns / 1e6), ns % 1e6, zone);
  }
  let off = loc.offset;
  if (loc.iana) off = ianaZoneAt(loc.iana, wallFixed).offset;
  return new GoTime(wallFixed - off * 1000 + Math.floor(ns / 1e6), ns % 1e6, loc);
}

export function isParseError(e: unknown): e is Error {
  return e instanceof ParseErr;
}
