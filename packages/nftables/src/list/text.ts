/**
 * `nft list ruleset` as nft prints it (nested blocks, `# handle N` with -a, counters, comments,
 * `elements = { … }` over several lines, `typeof`, priority names such as `dstnat - 10`) read into
 * one NftRuleset per table. Tables of the arp, bridge and netdev families hold no IP hooks the tracer
 * walks: they are listed as skipped. Objects the tracer has no use for (flowtables, counters, quotas,
 * ct helpers) are skipped whole. Errors name the line and column.
 */
import { NftParseError } from '../parse.js';
import type { BaseChainHook, BaseChainType, Chain, Element, Family, NftMap, NftRuleset, NftSet, Rule } from '../ir.js';

export interface ListedRuleset {
  readonly rulesets: readonly NftRuleset[];
  /** Tables read but not of an IP family (`family name`). */
  readonly skipped: readonly string[];
}

/** kernel priority of a standard name (nft's `std_prio_table` for the ip/ip6/inet families). */
export const PRIORITY_NAMES: Readonly<Record<string, number>> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };

interface Line {
  readonly no: number;
  readonly tokens: readonly Tok[];
}

interface Tok {
  readonly text: string;
  readonly col: number;
}

/** Splits a line into tokens; a `"…"` string is one token (quotes kept); `# …` outside a string ends the line. */
function tokens(line: string, no: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '#') break;
    if (ch === '"') {
      const end = line.indexOf('"', i + 1);
      if (end < 0) throw new NftParseError(no, i + 1, 'unterminated string');
      out.push({ text: line.slice(i, end + 1), col: i + 1 });
      i = end + 1;
      continue;
    }
    if (ch === '{' || ch === '}' || ch === ';') {
      out.push({ text: ch, col: i + 1 });
      i++;
      continue;
    }
    let j = i;
    while (j < line.length && !' \t\r{};"#'.includes(line[j]!)) j++;
    out.push({ text: line.slice(i, j), col: i + 1 });
    i = j;
  }
  return out;
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** The handle nft -a prints after `# handle N`. */
function handleOf(line: string): number | undefined {
  let inStr = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') inStr = !inStr;
    else if (line[i] === '#' && !inStr) {
      const m = /^#\s*handle\s+(\d+)/.exec(line.slice(i));
      return m ? Number(m[1]) : undefined;
    }
  }
  return undefined;
}

function parsePriority(toks: readonly Tok[], no: number): number {
  const text = toks.map((t) => t.text).join(' ');
  const m = /^(-?\d+|[a-z]+)(?:\s*([+-])\s*(\d+))?$/.exec(text);
  if (!m) throw new NftParseError(no, toks[0]?.col ?? 1, `cannot read the priority ${JSON.stringify(text)}`);
  const base = /^-?\d+$/.test(m[1]!) ? Number(m[1]) : PRIORITY_NAMES[m[1]!];
  if (base === undefined) throw new NftParseError(no, toks[0]!.col, `unknown priority name ${JSON.stringify(m[1])}`);
  return m[2] === undefined ? base : m[2] === '+' ? base + Number(m[3]) : base - Number(m[3]);
}

/** Seconds of an nft duration (`3h`, `10800s`, `1d2h3m4s`, `500ms`). */
export function durationSeconds(text: string): number | null {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text);
  if (!m || text === '') return null;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

/** Typeof expressions as data types, for the IR's `type` (the tracer reads keys, not types). */
const TYPEOF: Record<string, string> = {
  'ip saddr': 'ipv4_addr',
  'ip daddr': 'ipv4_addr',
  'ip6 saddr': 'ipv6_addr',
  'ip6 daddr': 'ipv6_addr',
  'meta l4proto': 'inet_proto',
  'ip protocol': 'inet_proto',
  'th dport': 'inet_service',
  'tcp dport': 'inet_service',
  'udp dport': 'inet_service',
  'meta mark': 'mark',
  iifname: 'ifname',
  oifname: 'ifname',
};

/** Splits element text `a . b comment "c" : v, d . e : w` into elements (a `,` ends one only outside strings). */
function splitElements(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inStr = false;
  for (const ch of text) {
    if (ch === '"') inStr = !inStr;
    if (ch === ',' && !inStr) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out.filter((e) => e !== '');
}

function readElement(container: string, text: string, isMap: boolean, no: number): Element {
  const words = tokens(text, no).map((t) => t.text);
  const key: string[] = [];
  let cur: string[] = [];
  let value: string[] | undefined;
  let comment: string | undefined;
  let i = 0;
  const flush = () => {
    if (cur.length > 0) key.push(cur.join(' '));
    cur = [];
  };
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w === '.') flush();
    else if (w === ':' && isMap) {
      flush();
      value = [];
      const parts: string[] = [];
      let v: string[] = [];
      for (i++; i < words.length; i++) {
        if (words[i] === '.') {
          parts.push(v.join(' '));
          v = [];
        } else v.push(words[i]!);
      }
      parts.push(v.join(' '));
      value = parts;
    } else if (w === 'comment' && words[i + 1]?.startsWith('"')) {
      flush();
      comment = unquote(words[++i]!);
    } else if (w === 'timeout' || w === 'expires') {
      flush();
      i++;
    } else if (w === 'counter') {
      flush();
      if (words[i + 1] === 'packets') i += 4;
    } else cur.push(w);
  }
  flush();
  if (key.length === 0) throw new NftParseError(no, 1, `an element of ${container} without a key`);
  return { container, key, ...(comment === undefined ? {} : { comment }), ...(value === undefined ? {} : { value }) };
}

/** A table while it is read (both forms); `finishTables` turns the builds into rulesets. */
export interface TableBuild {
  family: string;
  name: string;
  comment?: string;
  chains: Chain[];
  sets: NftSet[];
  maps: NftMap[];
  rules: Rule[];
  elements: Element[];
}

const IP_FAMILIES = new Set(['ip', 'ip6', 'inet']);

/** The tables of an IP family as rulesets; the others by `family name` in `skipped`. */
export function finishTables(tables: Iterable<TableBuild>): ListedRuleset {
  const rulesets: NftRuleset[] = [];
  const skipped: string[] = [];
  for (const tb of tables) {
    if (!IP_FAMILIES.has(tb.family)) {
      skipped.push(`${tb.family} ${tb.name}`);
      continue;
    }
    rulesets.push({
      table: { family: tb.family as Family, name: tb.name, ...(tb.comment === undefined ? {} : { comment: tb.comment }) },
      chains: tb.chains,
      sets: tb.sets,
      maps: tb.maps,
      rules: tb.rules,
      elements: tb.elements,
    });
  }
  return { rulesets, skipped };
}

/** Reads the text `nft list ruleset` (or `nft -a list ruleset`, `nft list table …`) prints. */
export function parseListText(text: string): ListedRuleset {
  const raw = text.split('\n');
  const lines: Line[] = raw.map((l, i) => ({ no: i + 1, tokens: tokens(l, i + 1) }));
  const tables: TableBuild[] = [];
  let i = 0;
  const fail = (l: Line, reason: string, col = l.tokens[0]?.col ?? 1): never => {
    throw new NftParseError(l.no, col, reason);
  };
  /** Skips a block whose `{` is on line `at`; returns the line after its `}`. */
  const skipBlock = (at: number): number => {
    let depth = 0;
    for (let k = at; k < lines.length; k++) {
      for (const t of lines[k]!.tokens) {
        if (t.text === '{') depth++;
        else if (t.text === '}') depth--;
      }
      if (depth <= 0) return k + 1;
    }
    return fail(lines[at]!, 'block not closed');
  };

  while (i < lines.length) {
    const l = lines[i]!;
    if (l.tokens.length === 0) {
      i++;
      continue;
    }
    const t = l.tokens.map((x) => x.text);
    if (t[0] !== 'table' || t.length !== 4 || t[3] !== '{') fail(l, 'expected `table FAMILY NAME {`');
    const tb: TableBuild = { family: t[1]!, name: t[2]!, chains: [], sets: [], maps: [], rules: [], elements: [] };
    tables.push(tb);
    i++;
    for (;;) {
      if (i >= lines.length) fail(l, `table ${t[1]} ${t[2]} not closed`);
      const m = lines[i]!;
      const w = m.tokens.map((x) => x.text);
      if (w.length === 0) {
        i++;
        continue;
      }
      if (w[0] === '}') {
        i++;
        break;
      }
      if (w[0] === 'comment' && w.length === 2) {
        tb.comment = unquote(w[1]!);
        i++;
        continue;
      }
      if (w[0] === 'flags' && w.length === 2) {
        i++;
        continue;
      }
      if ((w[0] === 'set' || w[0] === 'map') && w.length === 3 && w[2] === '{') {
        i = readSet(lines, i, tb, w[0] === 'map', w[1]!, fail);
        continue;
      }
      if (w[0] === 'chain' && w.length === 3 && w[2] === '{') {
        i = readChain(lines, raw, i, tb, w[1]!, fail);
        continue;
      }
      if (w[w.length - 1] === '{') {
        // flowtable, counter, quota, ct helper, limit, secmark, synproxy objects
        i = skipBlock(i);
        continue;
      }
      fail(m, `unexpected ${JSON.stringify(w[0])} in table ${tb.family} ${tb.name}`);
    }
  }
  return finishTables(tables);
}

type Fail = (l: Line, reason: string, col?: number) => never;

function readSet(lines: readonly Line[], start: number, tb: TableBuild, isMap: boolean, name: string, fail: Fail): number {
  let type: string[] = [];
  let valueType: string[] = [];
  let flags: string[] | undefined;
  let timeout: number | undefined;
  let comment: string | undefined;
  let i = start + 1;
  for (;;) {
    const l = lines[i];
    if (l === undefined) return fail(lines[start]!, `${isMap ? 'map' : 'set'} ${name} not closed`);
    const w = l.tokens.map((t) => t.text);
    if (w.length === 0) {
      i++;
      continue;
    }
    if (w[0] === '}') break;
    if (w[0] === 'type' || w[0] === 'typeof') {
      const body = w.slice(1).join(' ');
      const [k, v] = body.split(' : ') as [string, string | undefined];
      const conv = (s: string) => s.split(' . ').map((p) => (w[0] === 'typeof' ? (TYPEOF[p] ?? p.replace(/ /g, '_')) : p));
      type = conv(k);
      if (isMap) {
        if (v === undefined) fail(l, `map ${name} without a value type`);
        valueType = conv(v!);
      }
    } else if (w[0] === 'flags') flags = w.slice(1).join('').split(',');
    else if (w[0] === 'timeout') {
      const s = durationSeconds(w[1] ?? '');
      if (s === null) fail(l, `cannot read the timeout ${JSON.stringify(w[1])}`, l.tokens[1]?.col);
      timeout = s!;
    } else if (w[0] === 'comment') comment = unquote(w[1] ?? '');
    else if (w[0] === 'elements' && w[1] === '=' && w[2] === '{') {
      // Collect to the matching `}` (element lists may span lines; element keys hold no braces).
      let text = '';
      let k = i;
      let toks: readonly Tok[] = l.tokens.slice(3);
      for (;;) {
        const close = toks.findIndex((t) => t.text === '}');
        if (close >= 0) {
          text += ` ${toks.slice(0, close).map((t) => t.text).join(' ')}`;
          break;
        }
        text += ` ${toks.map((t) => t.text).join(' ')}`;
        k++;
        if (k >= lines.length) fail(l, `elements of ${name} not closed`);
        toks = lines[k]!.tokens;
      }
      for (const e of splitElements(text)) tb.elements.push(readElement(name, e, isMap, l.no));
      i = k;
    }
    // size, policy, gc-interval, counter, auto-merge: not needed to trace
    i++;
  }
  if (type.length === 0) fail(lines[start]!, `${isMap ? 'map' : 'set'} ${name} without a type`);
  const props = { name, type, ...(flags === undefined ? {} : { flags }), ...(timeout === undefined ? {} : { timeout }), ...(comment === undefined ? {} : { comment }) };
  if (isMap) tb.maps.push({ ...props, valueType });
  else tb.sets.push(props);
  return i + 1;
}

function readChain(lines: readonly Line[], raw: readonly string[], start: number, tb: TableBuild, name: string, fail: Fail): number {
  let base: Chain['base'];
  let policy: 'accept' | 'drop' | undefined;
  let comment: string | undefined;
  const rules: Rule[] = [];
  let i = start + 1;
  for (;;) {
    const l = lines[i];
    if (l === undefined) return fail(lines[start]!, `chain ${name} not closed`);
    const w = l.tokens.map((t) => t.text);
    if (w.length === 0) {
      i++;
      continue;
    }
    if (w[0] === '}') break;
    if (w[0] === 'type' && w[2] === 'hook') {
      // type T hook H [device D] priority P ; [policy X ;]
      const semi = l.tokens.findIndex((t) => t.text === ';');
      const head = semi < 0 ? l.tokens : l.tokens.slice(0, semi);
      const pr = head.findIndex((t) => t.text === 'priority');
      if (pr < 0) fail(l, 'base chain without a priority');
      const type = w[1] as BaseChainType;
      const hook = w[3] as BaseChainHook;
      if (!['filter', 'nat', 'route'].includes(type)) fail(l, `unknown chain type ${type}`, l.tokens[1]!.col);
      if (['prerouting', 'input', 'forward', 'output', 'postrouting'].includes(hook)) {
        base = { type, hook, priority: parsePriority(head.slice(pr + 1), l.no) };
      }
      const pol = l.tokens.findIndex((t) => t.text === 'policy');
      if (pol >= 0) {
        const p = l.tokens[pol + 1]?.text;
        if (p !== 'accept' && p !== 'drop') fail(l, `unknown policy ${JSON.stringify(p)}`, l.tokens[pol + 1]?.col);
        policy = p as 'accept' | 'drop';
      }
    } else if (w[0] === 'comment' && w.length === 2 && w[1]!.startsWith('"')) {
      comment = unquote(w[1]!);
    } else {
      const words = [...w];
      let rc: string | undefined;
      if (words.length >= 2 && words[words.length - 2] === 'comment' && words[words.length - 1]!.startsWith('"')) {
        rc = unquote(words.pop()!);
        words.pop();
      }
      const handle = handleOf(raw[l.no - 1]!);
      rules.push({ chain: name, words, ...(rc === undefined ? {} : { comment: rc }), ...(handle === undefined ? {} : { handle }) });
    }
    i++;
  }
  tb.chains.push({ name, ...(base === undefined ? {} : { base }), ...(comment === undefined ? {} : { comment }), ...(policy === undefined ? {} : { policy }) });
  tb.rules.push(...rules);
  return i + 1;
}
