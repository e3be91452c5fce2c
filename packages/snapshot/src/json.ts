/**
 * A strict JSON parser that records where every value is. The `yaml` parser reads JSON too, but as
 * YAML it forgives what JSON forbids (`[1,2,]`, `{"a": }`), and it is slow on large dumps (about
 * 1 MB/s here); kubectl reads a JSON file with a strict JSON decoder, and so does this (about 30x
 * faster than the yaml path). Values come with a position tree for diagnostics.
 */
import { nestingTooDeep } from './paste.js';

export interface JsonSyntaxError {
  readonly offset: number;
  readonly message: string;
}

/** Where a JSON value starts; for objects and arrays, where their members are. */
export interface JsonPos {
  readonly offset: number;
  /** Object members: key -> [offset of the key, position of the value]. */
  readonly keys?: Map<string, readonly [number, JsonPos]>;
  readonly items?: readonly JsonPos[];
}

export interface JsonDocument {
  readonly value: unknown;
  readonly pos: JsonPos;
}

export const MAX_JSON_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Fail extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses a JSON stream (kubectl's JSON decoder reads objects one after another): each top-level
 * value with its positions, or the first syntax error. A leading byte-order mark is allowed;
 * duplicate keys are an error (as in YAML); members whose value is null are left out of the value.
 */
export function parseJson(text: string): { readonly documents: readonly JsonDocument[] } | { readonly error: JsonSyntaxError } {
  let i = text.startsWith('\uFEFF') ? 1 : 0;
  const n = text.length;
  const what = (at: number): string => {
    if (at >= n) return 'the end of the input';
    const c = text.charCodeAt(at);
    return c >= 0x20 && c < 0x7f ? `'${text[at]}'` : `character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const string = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    let from = i;
    for (;;) {
      if (i >= n) throw new Fail(start, 'unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(from, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        out += text.slice(from, i);
        const e = text[i + 1];
        if (e === 'u') {
          HEX4.lastIndex = i + 2;
          if (!HEX4.test(text)) throw new Fail(i, 'expected 4 hex digits after \\u in a string');
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else if (e !== undefined && ESCAPES[e] !== undefined) {
          out += ESCAPES[e];
          i += 2;
        } else throw new Fail(i, `invalid escape in a string: a backslash followed by ${what(i + 1)}`);
        from = i;
        continue;
      }
      if (c === 0x0a || c === 0x0d) throw new Fail(start, 'unterminated string (a line break inside a string must be written \\n)');
      if (c < 0x20) throw new Fail(i, `unescaped ${what(i)} in a string`);
      i++;
    }
  };
  const value = (depth: number): [unknown, JsonPos] => {
    if (depth > MAX_JSON_DEPTH) throw new Fail(i, nestingTooDeep(MAX_JSON_DEPTH));
    ws();
    const offset = i;
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      const keys = new Map<string, readonly [number, JsonPos]>();
      ws();
      if (text[i] === '}') {
        i++;
        return [obj, { offset, keys }];
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Fail(i, `expected a string key, got ${what(i)}`);
        const keyAt = i;
        const key = string();
        if (keys.has(key)) throw new Fail(keyAt, `duplicate key ${JSON.stringify(key).replace(/[\u007f-\uffff]/g, (u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`)} in an object`);
        ws();
        if (text[i] !== ':') throw new Fail(i, `expected ':' after an object key, got ${what(i)}`);
        i++;
        const [v, p] = value(depth + 1);
        // A null member is an absent one (Go decodes null to the zero value); its position is kept.
        if (v === null) {
          /* not stored */
        } else if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        else obj[key] = v;
        keys.set(key, [keyAt, p]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return [obj, { offset, keys }];
        }
        throw new Fail(i, `expected ',' or '}' after an object member, got ${what(i)}`);
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      const items: JsonPos[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return [arr, { offset, items }];
      }
      for (;;) {
        const [v, p] = value(depth + 1);
        arr.push(v);
        items.push(p);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return [arr, { offset, items }];
        }
        throw new Fail(i, `expected ',' or ']' after an array element, got ${what(i)}`);
      }
    }
    if (c === '"') return [string(), { offset }];
    if (text.startsWith('true', i)) {
      i += 4;
      return [true, { offset }];
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return [false, { offset }];
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return [null, { offset }];
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m || m[0] === '-') throw new Fail(i, 'invalid number');
      i += m[0].length;
      return [Number(m[0]), { offset }];
    }
    throw new Fail(i, `expected a JSON value, got ${what(i)}`);
  };
  const documents: JsonDocument[] = [];
  try {
    for (ws(); i < n; ws()) {
      if (text[i] !== '{' && text[i] !== '[') throw new Fail(i, `expected '{' to start a JSON object, got ${what(i)}`);
      const [v, pos] = value(0);
      documents.push({ value: v, pos });
    }
    return { documents };
  } catch (e) {
    if (e instanceof Fail) return { error: { offset: e.offset, message: e.message } };
    throw e;
  }
}

/** True when the text is meant as JSON: as kubectl decides, its first non-blank character is `{`. */
export const looksLikeJson = (text: string): boolean => /^\uFEFF?[ \t\r\n]*\{/.test(text);
