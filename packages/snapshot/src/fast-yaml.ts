/**
 * The loader's fast path for YAML: a reader for the block YAML that `kubectl get -o yaml` (and the
 * `yaml` library's stringify) prints — block mappings and sequences, one scalar per line — without
 * the `yaml` library's document tree and its positions. It reads only what it reads exactly as the
 * diagnostic path does (the `yaml` parser with the core schema, AMBIGUOUS_NUMBER and clean() in
 * documents.ts); anything else in the text — comments, anchors, tags, block or multi-line scalars,
 * escapes, flow collections but `{}` and `[]`, numbers beyond plain integers, tabs, CRs, several
 * documents, a duplicate key — makes it give up, and the text goes the diagnostic path. Equality
 * with that path is property-tested (test/fast-yaml.test.ts).
 */
/** Where a node starts: offset, 1-based line and column. */
export interface YamlPosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

const UNUSUAL_CHARACTER = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;

/** Nesting beyond this gives up (the diagnostic path bounds and reports depth). */
const MAX_DEPTH = 64;

/** Thrown to give up; caught once at the top. */
const GIVE_UP = Symbol('give up');

/** A plain key this reader takes: a letter, then letters, digits and `_./-` (no null/bool words). */
const KEY = /^[A-Za-z][A-Za-z0-9_./-]*$/;
const KEY_WORDS = new Set(['null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE']);
/** The core schema's int and float forms, and what AMBIGUOUS_NUMBER keeps as text. */
const NUMBERISH = /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
/** Integers read here (larger or signed ones give up). */
const SMALL_INT = /^(?:0|[1-9][0-9]{0,14})$/;
/** Characters that may start something other than a plain scalar, or make one unusual. */
const PLAIN_FIRST = new Set(['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', ' ']);
const PLAIN_BAD = /[#{}[\]\t\\]|: | $|:$/;

class Reader {
  private pos = 0;
  private line = 1;
  /** The current line: its start, indentation and end (after skipping blank lines). */
  private start = 0;
  private indent = 0;
  private end = 0;
  readonly items: YamlPosition[] = [];
  root: YamlPosition | undefined;

  constructor(private readonly text: string) {
    this.next(0);
  }

  /** Moves to the first non-blank line at or after `from` (the end of the text: indent -1). */
  private next(from: number): void {
    const t = this.text;
    let p = from;
    for (;;) {
      if (p >= t.length) {
        this.start = this.end = p;
        this.indent = -1;
        return;
      }
      let e = t.indexOf('\n', p);
      if (e < 0) e = t.length;
      let i = p;
      while (t.charCodeAt(i) === 0x20) i++;
      if (i < e) {
        this.start = p;
        this.indent = i - p;
        this.end = e;
        return;
      }
      p = e + 1;
      this.line++;
    }
  }

  private advance(): void {
    this.line++;
    this.next(this.end + 1);
  }

  private at(offset: number): YamlPosition {
    return { offset, line: this.line, column: offset - this.start + 1 };
  }

  /** The document: a block mapping at column 1. */
  document(): Record<string, unknown> {
    if (this.indent !== 0) throw GIVE_UP;
    this.root = this.at(this.start);
    const v = this.mapping(0, this.start, 0, true);
    if (!this.done()) throw GIVE_UP;
    return v;
  }

  /** A block mapping whose keys are at column `indent`; the first key starts at `first` on the current line. */
  private mapping(indent: number, first: number, depth: number, top = false): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw GIVE_UP;
    const out: Record<string, unknown> = {};
    // Keys whose value was null (left out of `out`, as clean() leaves them out), for duplicates.
    let nulls: string[] | undefined;
    let keyStart = first;
    for (;;) {
      const t = this.text;
      const colon = t.indexOf(':', keyStart);
      if (colon < 0 || colon >= this.end) throw GIVE_UP;
      const key = t.slice(keyStart, colon);
      if (!KEY.test(key) || KEY_WORDS.has(key) || Object.hasOwn(out, key) || nulls?.includes(key)) throw GIVE_UP;
      let value: unknown;
      if (colon + 1 === this.end) {
        this.advance();
        if (this.indent > indent) value = this.block(this.indent, depth + 1, top && key === 'items');
        else if (this.indent === indent && this.isItem()) value = this.sequence(indent, depth + 1, top && key === 'items');
        else value = null;
      } else {
        if (t.charCodeAt(colon + 1) !== 0x20) throw GIVE_UP;
        value = this.scalar(colon + 2, this.end);
        this.advance();
      }
      // KEY keeps out `__proto__`, so plain assignment makes an own property.
      if (value !== null) out[key] = value;
      else (nulls ??= []).push(key);
      if (this.indent < indent) return out;
      if (this.indent > indent || this.isItem()) throw GIVE_UP;
      keyStart = this.start + indent;
    }
  }

  private done(): boolean {
    return this.indent === -1;
  }

  private isItem(): boolean {
    const c = this.text.charCodeAt(this.start + this.indent);
    return c === 0x2d && (this.start + this.indent + 1 === this.end || this.text.charCodeAt(this.start + this.indent + 1) === 0x20);
  }

  /** A nested block at column `indent`: a sequence or a mapping. */
  private block(indent: number, depth: number, items: boolean): unknown {
    return this.isItem() ? this.sequence(indent, depth, items) : this.mapping(indent, this.start + indent, depth);
  }

  /** A block sequence whose `- ` are at column `indent`; `items`: record where each element starts. */
  private sequence(indent: number, depth: number, items: boolean): unknown[] {
    if (depth > MAX_DEPTH) throw GIVE_UP;
    const out: unknown[] = [];
    for (;;) {
      const t = this.text;
      const content = this.start + indent + 2;
      // `-` alone (the item on the next lines), `- - x`, or more than one space: give up.
      if (content > this.end || t.charCodeAt(content) === 0x20 || t.charCodeAt(content) === 0x2d) throw GIVE_UP;
      const lineEnd = this.end;
      const colon = t.indexOf(': ', content);
      const mapItem = (colon >= 0 && colon < lineEnd) || t.charCodeAt(lineEnd - 1) === 0x3a;
      if (mapItem) {
        if (items) this.items.push(this.at(content));
        out.push(this.mapping(indent + 2, content, depth + 1));
      } else {
        if (items) throw GIVE_UP;
        out.push(this.scalar(content, lineEnd));
        this.advance();
      }
      if (this.indent < indent || (this.indent === indent && !this.isItem())) return out;
      if (this.indent > indent) throw GIVE_UP;
    }
  }

  /** A scalar filling text[from, to) (the rest of one line). */
  private scalar(from: number, to: number): unknown {
    const t = this.text;
    if (from >= to) throw GIVE_UP; // `key: ` with nothing after the space
    const s = t.slice(from, to);
    const c = s.charCodeAt(0);
    if (c === 0x27) {
      // 'single quoted': '' is a quote; nothing after the closing quote.
      if (s.length < 2 || s.charCodeAt(s.length - 1) !== 0x27) throw GIVE_UP;
      const inner = s.slice(1, -1);
      if (inner.replaceAll("''", '').includes("'")) throw GIVE_UP;
      return inner.replaceAll("''", "'");
    }
    if (c === 0x22) {
      // "double quoted" without escapes.
      if (s.length < 2 || s.charCodeAt(s.length - 1) !== 0x22) throw GIVE_UP;
      const inner = s.slice(1, -1);
      if (inner.includes('"') || inner.includes('\\')) throw GIVE_UP;
      return inner;
    }
    if (s === '{}') return {};
    if (s === '[]') return [];
    if (PLAIN_FIRST.has(s[0]!) || PLAIN_BAD.test(s)) throw GIVE_UP;
    if (s === 'true') return true;
    if (s === 'false') return false;
    if (s === 'null' || s === '~') return null;
    if (KEY_WORDS.has(s)) throw GIVE_UP;
    if (NUMBERISH.test(s)) {
      if (SMALL_INT.test(s)) return Number(s);
      throw GIVE_UP;
    }
    return s;
  }
}

/**
 * The value of a YAML text and where its root and each element of its top-level `items` start,
 * or undefined when the text is not in the subset this reader takes.
 */
export function parseYamlFast(text: string): { value: Record<string, unknown>; root: YamlPosition; items: readonly YamlPosition[] } | undefined {
  // Tabs, CRs, control characters and BOMs: what YAML treats specially or refuses.
  if (UNUSUAL_CHARACTER.test(text)) return undefined;
  const r = new Reader(text);
  try {
    const value = r.document();
    return { value, root: r.root!, items: r.items };
  } catch (e) {
    if (e === GIVE_UP) return undefined;
    throw e;
  }
}
