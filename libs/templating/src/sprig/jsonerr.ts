/** Go encoding/json syntax error messages for invalid input (scanner.go), used by mustFromJson. */

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const s = JSON.stringify(c);
  return "'" + s.slice(1, -1) + "'";
}

class SyntaxErr extends Error {}

/** Returns Go's error message for invalid JSON text, or undefined when the text is valid. */
export function goJsonSyntaxError(text: string): string | undefined {
  let i = 0;
  const n = text.length;
  const err = (ctx: string): never => {
    if (i >= n) throw new SyntaxErr('unexpected end of JSON input');
    throw new SyntaxErr(`invalid character ${quoteChar(text[i])} ${ctx}`);
  };
  const ws = (): void => {
    while (i < n && ' \t\r\n'.includes(text[i])) i++;
  };
  const literal = (word: string): void => {
    for (let k = 1; k < word.length; k++) {
      i++;
      if (text[i] !== word[k]) err(`in literal ${word} (expecting '${word[k]}')`);
    }
    i++;
  };
  const digits = (): number => {
    const s = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') i++;
    return i - s;
  };
  const number = (): void => {
    if (text[i] === '-') {
      i++;
      if (!(text[i] >= '0' && text[i] <= '9')) err('in numeric literal');
    }
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      if (digits() === 0) err('after decimal point in numeric literal');
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (digits() === 0) err('in exponent of numeric literal');
    }
  };
  const string = (): void => {
    i++;
    for (;;) {
      if (i >= n) err('');
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        i++;
        if (i >= n) err('');
        if ('"\\/bfnrt'.includes(text[i])) i++;
        else if (text[i] === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++)
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) err('in \\u hexadecimal character escape');
        } else err('in string escape code');
        continue;
      }
      if (c < ' ') err('in string literal');
      i++;
    }
  };
  const value = (): void => {
    ws();
    if (i >= n) err('');
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') err('looking for beginning of object key string');
        string();
        ws();
        if (text[i] !== ':') err('after object key');
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        err('after object key:value pair');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        err('after array element');
      }
    }
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    err('looking for beginning of value');
  };
  try {
    value();
    ws();
    if (i < n) err('after top-level value');
    return undefined;
  } catch (e) {
    if (e instanceof SyntaxErr) return e.message;
    throw e;
  }
}
