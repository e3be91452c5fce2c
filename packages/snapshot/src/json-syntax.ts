/**
 * A strict JSON syntax check with positions. The `yaml` parser reads JSON too (and gives every value
 * a position), but as YAML it forgives what JSON forbids (`[1,2,]`, `{"a": }`); kubectl reads a
 * JSON file with a strict JSON decoder, so JSON input is checked here first.
 */
export interface JsonSyntaxError {
  readonly offset: number;
  readonly message: string;
}

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

class Fail extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks a JSON stream (kubectl's JSON decoder reads values one after another) and returns where
 * each top-level value starts and ends, or the first syntax error. A leading byte-order mark is allowed.
 */
export function checkJsonSyntax(text: string): { readonly spans: readonly (readonly [number, number])[] } | { readonly error: JsonSyntaxError } {
  let i = text.startsWith('\uFEFF') ? 1 : 0;
  const n = text.length;
  const what = (at: number): string => {
    if (at >= n) return 'the end of the input';
    const c = text.charCodeAt(at);
    return c >= 0x20 && c < 0x7f ? `'${text[at]}'` : `character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  };
  const ws = () => {
    while (i < n) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else break;
    }
  };
  const string = () => {
    const start = i;
    i++; // opening quote
    for (;;) {
      if (i >= n) throw new Fail(start, 'unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          HEX4.lastIndex = i + 2;
          if (!HEX4.test(text)) throw new Fail(i, 'expected 4 hex digits after \\u in a string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new Fail(i, `invalid escape in a string: a backslash followed by ${what(i + 1)}`);
        continue;
      }
      if (c === 0x0a || c === 0x0d) throw new Fail(start, 'unterminated string (a line break inside a string must be written \\n)');
      if (c < 0x20) throw new Fail(i, `unescaped ${what(i)} in a string`);
      i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) throw new Fail(i, `nesting deeper than ${MAX_DEPTH} levels`);
    ws();
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
        if (text[i] !== '"') throw new Fail(i, `expected a string key, got ${what(i)}`);
        string();
        ws();
        if (text[i] !== ':') throw new Fail(i, `expected ':' after an object key, got ${what(i)}`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new Fail(i, `expected ',' or '}' after an object member, got ${what(i)}`);
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
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new Fail(i, `expected ',' or ']' after an array element, got ${what(i)}`);
      }
    }
    if (c === '"') return string();
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m || m[0] === '-') throw new Fail(i, 'invalid number');
      i += m[0].length;
      return;
    }
    throw new Fail(i, `expected a JSON value, got ${what(i)}`);
  };
  const spans: [number, number][] = [];
  try {
    for (ws(); i < n; ws()) {
      const start = i;
      if (text[i] !== '{' && text[i] !== '[') throw new Fail(i, `expected '{' to start a JSON object, got ${what(i)}`);
      value(0);
      spans.push([start, i]);
    }
    return { spans };
  } catch (e) {
    if (e instanceof Fail) return { error: { offset: e.offset, message: e.message } };
    throw e;
  }
}

/** True when the text is meant as JSON: as kubectl decides, its first non-blank character is `{`. */
export const looksLikeJson = (text: string): boolean => /^\uFEFF?[ \t\r\n]*\{/.test(text);
