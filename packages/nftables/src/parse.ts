/**
 * Reads the text render.ts writes (knftables' transaction and `Dump()` lines) back into operations.
 * Strict: single spaces, the property order knftables writes, and every piece checked by the same
 * rules as the renderer, so `parse(render(x))` is `x` and nothing unsafe gets through. Blank lines
 * and `#` lines are skipped, as kube-proxy's test normaliser skips them. Errors name line:col.
 */
import { chainProblem, elementKeyProblem, elementProblem, mapProblem, ruleProblem, setProblem, tableProblem, tableRefProblem } from './check.js';
import type { BaseChainHook, BaseChainType, Chain, Element, Family, NftMap, NftSet, Operation, Rule, Table, TableRef, Transaction } from './ir.js';

export class NftParseError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`${line}:${column}: ${reason}`);
    this.name = 'NftParseError';
  }
}

interface Token {
  readonly text: string;
  /** A `"…"` string (text without the quotes). */
  readonly quoted: boolean;
  /** 1-based column of its first character. */
  readonly col: number;
}

class Cursor {
  i = 0;
  constructor(
    readonly tokens: readonly Token[],
    readonly lineNo: number,
    readonly endCol: number,
  ) {}

  fail(reason: string, at: Token | undefined = this.tokens[this.i]): never {
    throw new NftParseError(this.lineNo, at?.col ?? this.endCol, reason);
  }

  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  atEnd(): boolean {
    return this.i >= this.tokens.length;
  }

  /** The next bare word. */
  word(what: string): string {
    const t = this.tokens[this.i];
    if (t === undefined) this.fail(`expected ${what}, got the end of the line`);
    if (t.quoted) this.fail(`expected ${what}, got a quoted string`);
    this.i++;
    return t.text;
  }

  expect(word: string): void {
    const t = this.tokens[this.i];
    if (t === undefined || t.quoted || t.text !== word) this.fail(`expected ${JSON.stringify(word)}`);
    this.i++;
  }

  accept(word: string): boolean {
    const t = this.tokens[this.i];
    if (t === undefined || t.quoted || t.text !== word) return false;
    this.i++;
    return true;
  }

  quoted(what: string): string {
    const t = this.tokens[this.i];
    if (t === undefined || !t.quoted) this.fail(`expected ${what} in double quotes`);
    this.i++;
    return t.text;
  }

  end(): void {
    if (!this.atEnd()) this.fail('unexpected text at the end of the line');
  }

  check(problem: string | undefined, at: Token | undefined): void {
    if (problem !== undefined) this.fail(problem, at);
  }
}

/** Splits one line on single spaces; `"…"` (without `"` or `\` inside) is one token. */
function tokenize(line: string, lineNo: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') throw new NftParseError(lineNo, i + 1, 'expected exactly one space between words');
    if (line[i] === '"') {
      const close = line.indexOf('"', i + 1);
      if (close < 0) throw new NftParseError(lineNo, i + 1, 'unterminated string');
      const text = line.slice(i + 1, close);
      const bs = text.indexOf('\\');
      if (bs >= 0) throw new NftParseError(lineNo, i + 2 + bs, 'backslash in a string (nft -f has no escapes)');
      tokens.push({ text, quoted: true, col: i + 1 });
      i = close + 1;
    } else {
      let j = i;
      while (j < line.length && line[j] !== ' ' && line[j] !== '"') j++;
      tokens.push({ text: line.slice(i, j), quoted: false, col: i + 1 });
      i = j;
    }
    if (i < line.length) {
      if (line[i] !== ' ') throw new NftParseError(lineNo, i + 1, 'expected a space');
      i++;
      if (i === line.length) throw new NftParseError(lineNo, i, 'trailing space');
    }
  }
  return tokens;
}

const VERBS = new Set(['add', 'flush', 'delete']);

function tableRefAt(c: Cursor): TableRef {
  const at = c.peek();
  const family = c.word('a family (ip, ip6, inet)') as Family;
  const name = c.word('a table name');
  const t = { family, name };
  c.check(tableRefProblem(t), at);
  return t;
}

/** `{ comment "…" ; }` after a table, or nothing. */
function tableBody(c: Cursor, t: TableRef): Table {
  if (c.atEnd()) return t;
  c.expect('{');
  c.expect('comment');
  const comment = c.quoted('the comment');
  c.expect(';');
  c.expect('}');
  return { ...t, comment };
}

function chainBody(c: Cursor, name: string): Chain {
  if (c.atEnd()) return { name };
  c.expect('{');
  let chain: Chain = { name };
  if (c.accept('type')) {
    const type = c.word('a chain type') as BaseChainType;
    c.expect('hook');
    const hook = c.word('a hook') as BaseChainHook;
    c.expect('priority');
    const at = c.peek();
    const text = c.word('a priority');
    if (!/^-?(0|[1-9][0-9]*)$/.test(text)) c.fail('expected the priority as a decimal number', at);
    c.expect(';');
    chain = { name, base: { type, hook, priority: Number(text) } };
  }
  if (c.accept('comment')) {
    chain = { ...chain, comment: c.quoted('the comment') };
    c.expect(';');
  }
  c.expect('}');
  return chain;
}

/**
 * Words up to (not including) one of `stops`, joined by ` . ` separators into parts. `comment`
 * stops only before a string, so a bare word `comment` stays a word.
 */
function parts(c: Cursor, stops: readonly string[], what: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (;;) {
    const t = c.peek();
    if (t === undefined) c.fail(`unterminated ${what}`);
    if (!t.quoted && stops.includes(t.text) && (t.text !== 'comment' || c.peek(1)?.quoted === true)) break;
    if (t.quoted) c.fail(`unexpected string in ${what}`, t);
    c.i++;
    if (t.text === '.') {
      if (current.length === 0) c.fail(`empty part in ${what}`, t);
      out.push(current.join(' '));
      current = [];
    } else {
      current.push(t.text);
    }
  }
  if (current.length === 0) c.fail(`empty part in ${what}`);
  out.push(current.join(' '));
  return out;
}

function setOrMapBody(c: Cursor, name: string, isMap: boolean): NftSet | NftMap {
  c.expect('{');
  c.expect('type');
  const type = parts(c, isMap ? [':'] : [';'], 'the type');
  let valueType: string[] = [];
  if (isMap) {
    c.expect(':');
    valueType = parts(c, [';'], 'the value type');
  }
  c.expect(';');
  let flags: string[] | undefined;
  let timeout: number | undefined;
  let comment: string | undefined;
  if (c.accept('flags')) {
    flags = c.word('the flags').split(',');
    c.expect(';');
  }
  if (c.accept('timeout')) {
    const at = c.peek();
    const m = /^(0|[1-9][0-9]*)s$/.exec(c.word('the timeout'));
    if (m === null) c.fail('expected the timeout as whole seconds, e.g. 10800s', at);
    timeout = Number(m[1]);
    c.expect(';');
  }
  if (c.accept('comment')) {
    comment = c.quoted('the comment');
    c.expect(';');
  }
  c.expect('}');
  const props = {
    name,
    type,
    ...(flags === undefined ? {} : { flags }),
    ...(timeout === undefined ? {} : { timeout }),
    ...(comment === undefined ? {} : { comment }),
  };
  return isMap ? { ...props, valueType } : props;
}

function ruleBody(c: Cursor, chain: string): Rule {
  const words: string[] = [];
  while (!c.atEnd()) {
    const t = c.peek()!;
    if (!t.quoted && t.text === 'comment' && c.peek(1)?.quoted === true && c.i + 2 === c.tokens.length) break;
    words.push(c.word('a rule word'));
  }
  if (c.accept('comment')) return { chain, words, comment: c.quoted('the comment') };
  return { chain, words };
}

function elementBody(c: Cursor, container: string, isAdd: boolean): Element {
  c.expect('{');
  const key = parts(c, isAdd ? ['comment', ':', '}'] : ['}'], 'the element key');
  let comment: string | undefined;
  let value: string[] | undefined;
  if (isAdd && c.peek(1)?.quoted === true && c.accept('comment')) comment = c.quoted('the comment');
  if (isAdd && c.accept(':')) value = parts(c, ['}'], 'the element value');
  c.expect('}');
  return { container, key, ...(comment === undefined ? {} : { comment }), ...(value === undefined ? {} : { value }) };
}

function parseLine(line: string, lineNo: number): Operation {
  const c: Cursor = new Cursor(tokenize(line, lineNo), lineNo, line.length + 1);
  const verbAt = c.peek();
  const verb = c.word('add, flush or delete');
  if (!VERBS.has(verb)) c.fail(`unknown verb ${JSON.stringify(verb)}`, verbAt);
  const kindAt = c.peek();
  const kind = c.word('an object type');
  const table = tableRefAt(c);
  const nameAt = c.peek();
  let op: Operation;
  switch (kind) {
    case 'table':
      if (verb === 'add') {
        const t = tableBody(c, table);
        c.check(tableProblem(t), nameAt);
        op = { verb, kind, table: t };
      } else {
        op = { verb: verb as 'flush' | 'delete', kind, table };
      }
      break;
    case 'chain':
    case 'set':
    case 'map': {
      const name = c.word(`a ${kind} name`);
      if (verb !== 'add') {
        c.check(chainProblem({ name }), nameAt);
        op = { verb: verb as 'flush' | 'delete', kind, table, name };
      } else if (kind === 'chain') {
        const chain = chainBody(c, name);
        c.check(chainProblem(chain), nameAt);
        op = { verb, kind, table, chain };
      } else if (kind === 'set') {
        const set = setOrMapBody(c, name, false) as NftSet;
        c.check(setProblem(set), nameAt);
        op = { verb, kind, table, set };
      } else {
        const map = setOrMapBody(c, name, true) as NftMap;
        c.check(mapProblem(map), nameAt);
        op = { verb, kind, table, map };
      }
      break;
    }
    case 'rule': {
      if (verb !== 'add') c.fail(`${verb} rule is not supported (kube-proxy only adds rules)`, verbAt);
      const rule = ruleBody(c, c.word('a chain name'));
      c.check(ruleProblem(rule), nameAt);
      op = { verb: 'add', kind, table, rule };
      break;
    }
    case 'element': {
      if (verb === 'flush') c.fail('flush element is not an nft command', verbAt);
      const element = elementBody(c, c.word('a set or map name'), verb === 'add');
      if (verb === 'add') {
        c.check(elementProblem(element), nameAt);
        op = { verb: 'add', kind, table, element };
      } else {
        c.check(elementKeyProblem(element.container, element.key), nameAt);
        op = { verb: 'delete', kind, table, container: element.container, key: element.key };
      }
      break;
    }
    default:
      c.fail(`unknown object type ${JSON.stringify(kind)}`, kindAt);
  }
  c.end();
  return op;
}

/** Every operation of `text` (a transaction or a `Dump()`), in order. */
export function parseTransaction(text: string): Transaction {
  const operations: Operation[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    if (line === '' || line[0] === '#') return;
    const bad = /[\x00-\x1f\x7f]/.exec(line);
    if (bad !== null) throw new NftParseError(i + 1, bad.index + 1, `control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
    operations.push(parseLine(line, i + 1));
  });
  return { operations };
}
