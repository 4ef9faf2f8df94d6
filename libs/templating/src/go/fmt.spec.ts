/** fmt verbs (outputs checked against Go's fmt). */
import { describe, expect, it } from 'vitest';
import { sprint, sprintf, sprintln } from './fmt.js';
import { GoNum, float64, newMap, typedSlice } from './values.js';

describe('sprintf', () => {
  it.each([
    ['%d|%5d|%-5d|%05d|%+d', [42, 42, 42, 42, 42], '42|   42|42   |00042|+42'],
    ['%x|%X|%o|%b|%#x|%#o', [255, 255, 8, 5, 255, 8], 'ff|FF|10|101|0xff|010'],
    ['%c|%q|%U|%#U', [65, 65, 0x263a, 0x263a], "A|'A'|U+263A|U+263A '☺'"],
    [
      '%f|%.2f|%8.3f|%-8.2f|%08.3f',
      [3.14159, 3.14159, 3.14159, 3.14159, -3.14159],
      '3.141590|3.14|   3.142|3.14    |-003.142',
    ],
    ['%e|%E|%g|%G', [123456.789, 0.000123, 1e-7, 1e21], '1.234568e+05|1.230000E-04|1e-07|1E+21'],
    [
      '%s|%q|%x|% X|%10s|%-4s|%.2s',
      ['hi', 'a"b', 'hi', 'hi', 'hi', 'hi', 'héllo'],
      'hi|"a\\"b"|6869|68 69|        hi|hi  |hé',
    ],
    ['%v|%+v|%#v', [newMap(), typedSlice(['a'], 'string'), 'x'], 'map[]|[a]|"x"'],
    ['%t|%v', [true, false], 'true|false'],
    ['%T %T %T %T', [1, 1.5, new GoNum('int64', 1), float64(2)], 'int float64 int64 float64'],
    ['%d', ['x'], '%!d(string=x)'],
    ['%d %d', [1], '1 %!d(MISSING)'],
    ['%d', [1, 'x', null], '1%!(EXTRA string=x, <nil>)'],
    ['%[2]d %[1]d', [1, 2], '2 1'],
    ['%*d|%.*f', [5, 1, 2, 3.14159], '    1|3.14'],
    ['%!', [], '%!!(MISSING)'],
    ['%', [], '%!(NOVERB)'],
    ['%z', [1], '%!z(int=1)'],
    ['100%%', [], '100%'],
  ])('%s', (format, args, want) => {
    expect(sprintf(format, args)).toBe(want);
  });

  it('prints nested values like %v', () => {
    const m = newMap();
    m.b = [1, null, 'x'];
    m.a = { c: 1.5 };
    expect(sprintf('%v', [m])).toBe('map[a:map[c:1.5] b:[1 <nil> x]]');
    expect(sprintf('%d', [[1, 'a']])).toBe('[1 %!d(string=a)]');
  });
});

describe('sprint / sprintln', () => {
  it('adds spaces between operands when neither is a string', () => {
    expect(sprint([1, 2, 'a', 'b', 3, true])).toBe('1 2ab3 true');
    expect(sprint(['a', 1, 'b'])).toBe('a1b');
    expect(sprintln(['a', 1, 'b'])).toBe('a 1 b\n');
    expect(sprint([null, undefined])).toBe('<nil> <nil>');
  });
});
