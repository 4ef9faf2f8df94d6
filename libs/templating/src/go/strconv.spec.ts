import { describe, expect, it } from 'vitest';
import {
  canBackquote,
  formatFloat,
  parseGoFloat,
  parseGoInt,
  quote,
  quoteRune,
  unquote,
} from './strconv.js';

describe('formatFloat (strconv.FormatFloat)', () => {
  it.each([
    [1, 'g', -1, '1'],
    [1e6, 'g', -1, '1e+06'],
    [123456, 'g', -1, '123456'],
    [0.0001, 'g', -1, '0.0001'],
    [0.00001, 'g', -1, '1e-05'],
    [1e21, 'g', -1, '1e+21'],
    [-0, 'g', -1, '-0'],
    [3.14159, 'f', 2, '3.14'],
    [0.5, 'f', 0, '0'],
    [1.5, 'f', 0, '2'],
    [2.5, 'f', 0, '2'],
    [1.005, 'f', 2, '1.00'],
    [0.1, 'f', 20, '0.10000000000000000555'],
    [123456.789, 'e', 6, '1.234568e+05'],
    [0, 'e', -1, '0e+00'],
    [1e-300, 'g', -1, '1e-300'],
    [5e-324, 'g', -1, '5e-324'],
    [1.7976931348623157e308, 'g', -1, '1.7976931348623157e+308'],
    [100, 'g', 3, '100'],
    [1234, 'g', 3, '1.23e+03'],
    [Infinity, 'g', -1, '+Inf'],
    [NaN, 'f', 2, 'NaN'],
    [1.5, 'x', -1, '0x1.8p+00'],
  ] as const)('%s %s %s → %s', (f, fmt, prec, want) => {
    expect(formatFloat(f, fmt, prec)).toBe(want);
  });
});

describe('quoting', () => {
  it('quotes like strconv.Quote', () => {
    expect(quote('a"b\\c\n\t\x01é☺\u{1F600}')).toBe('"a\\"b\\\\c\\n\\t\\x01é☺😀"');
    expect(quote('é\u00a0', true)).toBe('"\\u00e9\\u00a0"');
    expect(quote('\u2028')).toBe('"\\u2028"');
    expect(quoteRune(0x27)).toBe("'\\''");
    expect(quoteRune(0x263a)).toBe("'☺'");
    expect(canBackquote('a b')).toBe(true);
    expect(canBackquote('a`b')).toBe(false);
    expect(canBackquote('a\nb')).toBe(false);
  });

  it('unquotes template literals', () => {
    expect(unquote('"a\\tb\\u00e9\\x41\\101"')).toBe('a\tbéAA');
    expect(unquote('`raw\\n`')).toBe('raw\\n');
    expect(unquote("'x'")).toBe('x');
    expect(() => unquote('"\\q"')).toThrow('invalid syntax');
    expect(() => unquote("'ab'")).toThrow('invalid syntax');
  });
});

describe('number parsing', () => {
  it('parses Go integer literals', () => {
    expect(parseGoInt('0x1F', 0)).toBe(31);
    expect(parseGoInt('0o17', 0)).toBe(15);
    expect(parseGoInt('017', 0)).toBe(15);
    expect(parseGoInt('0b101', 0)).toBe(5);
    expect(parseGoInt('1_000', 0)).toBe(1000);
    expect(parseGoInt('1_000', 10)).toBeUndefined();
    expect(parseGoInt('9223372036854775808', 10)).toBeUndefined();
    expect(parseGoInt('x', 10)).toBeUndefined();
  });

  it('parses Go float literals', () => {
    expect(parseGoFloat('1.5e3')).toBe(1500);
    expect(parseGoFloat('0x1.8p1')).toBe(3);
    expect(parseGoFloat('.5')).toBe(0.5);
    expect(parseGoFloat('inf')).toBe(Infinity);
    expect(parseGoFloat('1e')).toBeUndefined();
  });
});
