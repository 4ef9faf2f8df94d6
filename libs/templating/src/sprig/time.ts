/** time.Time / time.Duration for templates: Go layouts, zones (via Intl), durations. */
import { GoStruct, int64, type GoMethod } from '../go/values.js';
import { formatTime, longDays, longMonths } from './timefmt.js';

export interface Zone {
  name: string;
  offset: number; // seconds east of UTC
  /** IANA zone for times whose offset depends on the instant; undefined for fixed zones. */
  iana?: string;
}

export const UTC: Zone = { name: 'UTC', offset: 0 };

/** A Go time.Time: an instant (ms since epoch + sub-ms nanoseconds) in a location. */
export class GoTime extends GoStruct {
  constructor(
    readonly ms: number,
    readonly nsExtra: number,
    readonly zone: Zone,
  ) {
    super();
  }
  goType(): string {
    return 'time.Time';
  }
  goKind(): string {
    return 'struct';
  }
  override goString(): string {
    return formatTime(this, '2006-01-02 15:04:05.999999999 -0700 MST');
  }
  methods(): Record<string, GoMethod> {
    return timeMethods;
  }
  /** Offset and abbreviation at this instant. */
  zoneAt(): { name: string; offset: number } {
    if (!this.zone.iana) return this.zone;
    return ianaZoneAt(this.zone.iana, this.ms);
  }
  unixSeconds(): number {
    return Math.floor(this.ms / 1000);
  }
  nanosecond(): number {
    return (((this.ms % 1000) + 1000) % 1000) * 1e6 + this.nsExtra;
  }
  in(zone: Zone): GoTime {
    return new GoTime(this.ms, this.nsExtra, zone);
  }
  add(ns: number): GoTime {
    const total = this.nsExtra + ns;
    const msAdd = Math.floor(total / 1e6);
    return new GoTime(this.ms + msAdd, total - msAdd * 1e6, this.zone);
  }
  /** Wall clock fields in the time's zone. */
  fields(): {
    year: number;
    month: number;
    day: number;
    hour: number;
    min: number;
    sec: number;
    wday: number;
    yday: number;
  } {
    const { offset } = this.zoneAt();
    const d = new Date(this.ms + offset * 1000);
    const year = d.getUTCFullYear();
    const start = Date.UTC(year, 0, 1);
    const yday =
      Math.floor((Date.UTC(year, d.getUTCMonth(), d.getUTCDate()) - start) / 86400000) + 1;
    return {
      year,
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      min: d.getUTCMinutes(),
      sec: d.getUTCSeconds(),
      wday: d.getUTCDay(),
      yday,
    };
  }
}

const zoneCache = new Map<string, Intl.DateTimeFormat>();

export function ianaZoneAt(iana: string, ms: number): { name: string; offset: number } {
  let f = zoneCache.get(iana);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: iana,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      timeZoneName: 'short',
    });
    zoneCache.set(iana, f);
  }
  const parts = f.formatToParts(new Date(ms));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const wall = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  const offset = Math.round((wall - Math.floor(ms / 1000) * 1000) / 1000);
  let name = parts.find((p) => p.type === 'timeZoneName')?.value ?? iana;
  if (/^GMT[+-]/.test(name) || name === 'GMT') {
    name = offset === 0 ? (iana === 'UTC' ? 'UTC' : 'GMT') : formatOffsetName(offset);
  }
  return { name, offset };
}

function formatOffsetName(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  return sign + String(h).padStart(2, '0') + (m ? String(m).padStart(2, '0') : '');
}

/** time.LoadLocation */
export function loadLocation(name: string): Zone | undefined {
  if (name === '' || name === 'UTC') return UTC;
  if (name === 'Local') return { ...UTC, name: 'UTC' };
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    return undefined;
  }
  return { name, offset: 0, iana: name };
}

// ---- durations ----

/** time.Duration.String */
export function durationString(d: number): string {
  if (d === 0) return '0s';
  const neg = d < 0;
  let u = BigInt(Math.abs(Math.trunc(d)));
  let out: string;
  if (u < 1000000000n) {
    // sub-second: ns, µs or ms
    let unit: string;
    let prec: number;
    if (u < 1000n) return (neg ? '-' : '') + u.toString() + 'ns';
    if (u < 1000000n) {
      unit = 'µs';
      prec = 3;
    } else {
      unit = 'ms';
      prec = 6;
    }
    out = fracString(u, prec) + unit;
  } else {
    const secsFrac = fracString(u % 60000000000n, 9);
    u /= 1000000000n;
    out = secsFrac + 's';
    u /= 60n;
    if (u > 0n) {
      out = (u % 60n).toString() + 'm' + out;
      u /= 60n;
      if (u > 0n) out = u.toString() + 'h' + out;
    }
  }
  return (neg ? '-' : '') + out;
}

function fracString(v: bigint, prec: number): string {
  const s = v.toString().padStart(prec + 1, '0');
  const int = s.slice(0, s.length - prec).replace(/^0+(?=\d)/, '');
  const frac = s.slice(s.length - prec).replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
}

const unitNs: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** time.ParseDuration; throws an Error with Go's message on failure. */
export function parseDuration(s: string): number {
  const orig = s;
  const bad = (): never => {
    throw new Error(`time: invalid duration ${JSON.stringify(orig)}`);
  };
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') bad();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    if (m[0] === '' || m[0] === '.') bad();
    s = s.slice(m[0].length);
    const u = /^[^\d.]+/.exec(s);
    if (!u) throw new Error(`time: missing unit in duration ${JSON.stringify(orig)}`);
    const mult = unitNs[u[0]];
    if (mult === undefined)
      throw new Error(
        `time: unknown unit ${JSON.stringify(u[0])} in duration ${JSON.stringify(orig)}`,
      );
    s = s.slice(u[0].length);
    total += Number(m[1] || '0') * mult + (m[2] ? Number('0.' + m[2]) * mult : 0);
  }
  return Math.round(neg ? -total : total);
}

export function timeNow(): GoTime {
  const ms = Date.now();
  return new GoTime(ms, 0, UTC);
}

const timeMethods = {
  Year: { params: '', fn: (t: GoTime) => t.fields().year },
  Month: { params: '', fn: (t: GoTime) => new Month(t.fields().month) },
  Day: { params: '', fn: (t: GoTime) => t.fields().day },
  Hour: { params: '', fn: (t: GoTime) => t.fields().hour },
  Minute: { params: '', fn: (t: GoTime) => t.fields().min },
  Second: { params: '', fn: (t: GoTime) => t.fields().sec },
  Nanosecond: { params: '', fn: (t: GoTime) => t.nanosecond() },
  YearDay: { params: '', fn: (t: GoTime) => t.fields().yday },
  Weekday: { params: '', fn: (t: GoTime) => new Weekday(t.fields().wday) },
  Unix: { params: '', fn: (t: GoTime) => int64(t.unixSeconds()) },
  UnixMilli: { params: '', fn: (t: GoTime) => int64(t.ms) },
  UnixNano: { params: '', fn: (t: GoTime) => int64(t.ms * 1e6 + t.nsExtra) },
  Format: { params: 'string', fn: (t: GoTime, layout: string) => formatTime(t, layout) },
  String: { params: '', fn: (t: GoTime) => t.goString() },
  UTC: { params: '', fn: (t: GoTime) => t.in(UTC) },
  Local: { params: '', fn: (t: GoTime) => t.in(UTC) },
  IsZero: { params: '', fn: (t: GoTime) => t.ms === ZERO_MS && t.nsExtra === 0 },
  Add: { params: 'int64', fn: (t: GoTime, d: number) => t.add(d) },
} as unknown as Record<string, GoMethod>;

export const ZERO_MS = -62135596800000;

/** time.Month – prints as its English name. */
export class Month extends GoStruct {
  constructor(readonly m: number) {
    super();
  }
  goType(): string {
    return 'time.Month';
  }
  goKind(): string {
    return 'int';
  }
  override goString(): string {
    return longMonths[this.m - 1];
  }
  methods(): Record<string, GoMethod> | undefined {
    return undefined;
  }
}

export class Weekday extends GoStruct {
  constructor(readonly d: number) {
    super();
  }
  goType(): string {
    return 'time.Weekday';
  }
  goKind(): string {
    return 'int';
  }
  override goString(): string {
    return longDays[this.d];
  }
  methods(): Record<string, GoMethod> | undefined {
    return undefined;
  }
}

export function zeroTime(): GoTime {
  return new GoTime(ZERO_MS, 0, UTC);
}

export { formatTime, isParseError, parseTime } from './timefmt.js';
