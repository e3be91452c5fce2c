/**
 * A rule's words (as `nft list ruleset` or knftables print them) read as nft statements: matches on
 * selectors (`ip daddr`, `meta l4proto . th dport`, `fib saddr type`, `ct state`, `meta mark & 0x4000`),
 * lookups (`@set`, anonymous `{ … }` sets, `vmap`), and the statements kube-proxy and common hosts use.
 * Anything else is read as `unknown` with the words it could not read, so the tracer can stop with a
 * labelled UNKNOWN branch instead of guessing.
 */

/** A selector such as `ip daddr`, `th dport`, `meta mark & 0x4000`, `fib daddr . iif type`, `numgen random mod 2`. */
export interface Selector {
  /** Canonical key: `ip daddr`, `meta l4proto`, `th dport`, `meta mark`, `ct state`, `fib daddr type`, `numgen`, ... */
  readonly key: string;
  /** `& 0x4000` style bit operations applied to the value (`and`/`or`/`xor` with a number). */
  readonly ops: readonly { readonly op: 'and' | 'or' | 'xor'; readonly operand: number }[];
  /** numgen: modulus and offset. */
  readonly mod?: number;
  readonly offset?: number;
  readonly text: string;
}

/** The right-hand side of a match or the data of a vmap. */
export type Rhs =
  | { readonly kind: 'value'; readonly parts: readonly string[] }
  | { readonly kind: 'anon'; readonly items: readonly (readonly string[])[] }
  | { readonly kind: 'named'; readonly name: string };

export interface VmapEntry {
  readonly key: readonly string[];
  readonly verdict: string;
}

export type Stmt =
  | { readonly kind: 'match'; readonly left: readonly Selector[]; readonly op: '==' | '!=' | '<' | '>' | '<=' | '>='; readonly right: Rhs; readonly text: string }
  | { readonly kind: 'vmap'; readonly left: readonly Selector[]; readonly named: string | null; readonly entries: readonly VmapEntry[]; readonly text: string }
  | { readonly kind: 'verdict'; readonly verdict: 'accept' | 'drop' | 'continue' | 'return' }
  | { readonly kind: 'jump' | 'goto'; readonly target: string }
  | { readonly kind: 'reject'; readonly with: string | null }
  | { readonly kind: 'dnat' | 'snat'; readonly to: string; readonly text: string }
  | { readonly kind: 'masquerade'; readonly text: string }
  | { readonly kind: 'mangle'; readonly target: string; readonly value: Selector | number; readonly text: string }
  | { readonly kind: 'set-update'; readonly op: 'add' | 'update' | 'delete'; readonly set: string; readonly key: readonly Selector[]; readonly text: string }
  | { readonly kind: 'ignored'; readonly text: string }
  | { readonly kind: 'limit'; readonly text: string }
  | { readonly kind: 'notrack' }
  | { readonly kind: 'unknown'; readonly text: string; readonly why: string };

/** Splits words into tokens: quoted strings stay whole, a trailing `,` becomes its own token. */
export function lex(words: readonly string[]): string[] {
  const text = words.join(' ');
  const out: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ' || text[i] === '\t') {
      i++;
      continue;
    }
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      out.push(text.slice(i, stop));
      i = stop;
      continue;
    }
    let j = i;
    while (j < text.length && text[j] !== ' ' && text[j] !== '\t') j++;
    let w = text.slice(i, j);
    i = j;
    const trailing: string[] = [];
    while (w.length > 1 && w.endsWith(',')) {
      trailing.unshift(',');
      w = w.slice(0, -1);
    }
    if (w.length > 1 && w.startsWith('{')) {
      out.push('{');
      depth++;
      w = w.slice(1);
    }
    const closes = w.length > 1 && w.endsWith('}');
    if (closes) w = w.slice(0, -1);
    // Inside braces `a,b` is two items: kube-proxy writes its service CIDRs that way
    // (OnServiceCIDRsChanged joins them with "," and no space).
    if (depth > 0 && w.length > 1 && w.includes(',')) out.push(...w.split(',').flatMap((x, k) => (k === 0 ? [x] : [',', x])).filter((x) => x !== ''));
    else out.push(w);
    if (closes || w === '}') depth = Math.max(0, depth - 1);
    if (closes) out.push('}');
    if (w === '{') depth++;
    out.push(...trailing);
  }
  return out;
}

const IP_FIELDS = new Set(['saddr', 'daddr', 'protocol', 'ttl', 'length', 'dscp', 'id', 'version', 'hdrlength', 'frag-off', 'checksum', 'ecn']);
const IP6_FIELDS = new Set(['saddr', 'daddr', 'nexthdr', 'hoplimit', 'length', 'dscp', 'flowlabel', 'version', 'ecn']);
const L4_FIELDS = new Set(['sport', 'dport', 'flags', 'checksum', 'length', 'sequence', 'window', 'vtag', 'type', 'code', 'id']);
const META_KEYS = new Set([
  'l4proto', 'mark', 'iifname', 'oifname', 'iif', 'oif', 'iiftype', 'oiftype', 'nfproto', 'protocol', 'pkttype', 'skuid', 'skgid',
  'cpu', 'cgroup', 'length', 'priority', 'iifgroup', 'oifgroup', 'nftrace', 'rtclassid', 'secmark', 'ibrname', 'obrname', 'random', 'time', 'day', 'hour', 'ipsec', 'sdif', 'sdifname',
]);
const BARE_META = new Set(['mark', 'iifname', 'oifname', 'iif', 'oif', 'iiftype', 'oiftype', 'skuid', 'skgid', 'pkttype', 'nfproto', 'l4proto', 'cpu', 'cgroup', 'iifgroup', 'oifgroup']);
const CT_KEYS = new Set(['state', 'status', 'mark', 'direction', 'zone', 'helper', 'expiration', 'label', 'count', 'id', 'l3proto', 'protocol', 'bytes', 'packets', 'avgpkt', 'event', 'secmark']);
const FIB_FLAGS = new Set(['saddr', 'daddr', 'mark', 'iif', 'oif']);
const FIB_RESULTS = new Set(['type', 'oif', 'oifname']);
const OPS = new Set(['==', '!=', '<', '>', '<=', '>=']);
const BITOPS: Record<string, 'and' | 'or' | 'xor'> = { and: 'and', '&': 'and', or: 'or', '|': 'or', xor: 'xor', '^': 'xor' };
const STOP_WORDS = new Set([
  'accept', 'drop', 'continue', 'return', 'jump', 'goto', 'reject', 'dnat', 'snat', 'masquerade', 'redirect', 'counter', 'log', 'limit',
  'notrack', 'queue', 'vmap', 'map', 'set', 'comment', 'update', 'add', 'delete', 'tproxy', 'quota', 'synproxy', 'fwd', 'dup',
]);

export class RuleCursor {
  i = 0;
  constructor(readonly t: readonly string[]) {}
  peek(k = 0): string | undefined {
    return this.t[this.i + k];
  }
  next(): string | undefined {
    return this.t[this.i++];
  }
  atEnd(): boolean {
    return this.i >= this.t.length;
  }
}

export function parseNumber(text: string): number | null {
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16) >>> 0;
  if (/^\d+$/.test(text)) return Number(text) >>> 0;
  return null;
}

/** One selector (no concatenation); null when the words at the cursor are not one. */
function selector(c: RuleCursor): Selector | null {
  const start = c.i;
  const w = c.peek();
  if (w === undefined) return null;
  let key: string | null = null;
  let mod: number | undefined;
  let offset: number | undefined;
  const w1 = c.peek(1);
  if ((w === 'ip' && w1 && IP_FIELDS.has(w1)) || (w === 'ip6' && w1 && IP6_FIELDS.has(w1))) {
    key = `${w} ${w1}`;
    c.i += 2;
  } else if (['tcp', 'udp', 'sctp', 'th', 'udplite', 'dccp', 'icmp', 'icmpv6'].includes(w) && w1 && L4_FIELDS.has(w1)) {
    key = `${w} ${w1}`;
    c.i += 2;
  } else if (w === 'meta' && w1 && META_KEYS.has(w1)) {
    key = `meta ${w1}`;
    c.i += 2;
  } else if (BARE_META.has(w)) {
    key = `meta ${w}`;
    c.i += 1;
  } else if (w === 'ct' && w1 && CT_KEYS.has(w1)) {
    key = `ct ${w1}`;
    c.i += 2;
  } else if (w === 'ct' && (w1 === 'original' || w1 === 'reply') && c.peek(3) !== undefined) {
    key = `ct ${w1} ${c.peek(2)} ${c.peek(3)}`;
    c.i += 4;
  } else if (w === 'fib') {
    c.i++;
    const flags: string[] = [];
    for (;;) {
      const f = c.peek();
      if (f === undefined || !FIB_FLAGS.has(f)) break;
      flags.push(f);
      c.i++;
      if (c.peek() === '.' && c.peek(1) !== undefined && FIB_FLAGS.has(c.peek(1)!)) c.i++;
      else break;
    }
    const r = c.peek();
    if (flags.length === 0 || r === undefined || !FIB_RESULTS.has(r)) {
      c.i = start;
      return null;
    }
    c.i++;
    key = `fib ${flags.join(' . ')} ${r}`;
  } else if (w === 'numgen' && (w1 === 'random' || w1 === 'inc') && c.peek(2) === 'mod') {
    const m = parseNumber(c.peek(3) ?? '');
    if (m === null || m === 0) return null;
    c.i += 4;
    mod = m;
    offset = 0;
    if (c.peek() === 'offset') {
      const o = parseNumber(c.peek(1) ?? '');
      if (o === null) {
        c.i = start;
        return null;
      }
      offset = o;
      c.i += 2;
    }
    key = `numgen ${w1}`;
  } else if (['ether', 'vlan', 'arp', 'ah', 'esp', 'comp', 'rt', 'socket', 'osf', 'ipsec', 'frag', 'hbh', 'mh', 'dst', 'srh', 'exthdr', 'tunnel', 'dscp'].includes(w) && w1 !== undefined) {
    key = `${w} ${w1}`;
    c.i += 2;
  }
  if (key === null) return null;
  const ops: { op: 'and' | 'or' | 'xor'; operand: number }[] = [];
  for (;;) {
    const b = c.peek();
    const op = b === undefined ? undefined : BITOPS[b];
    if (op !== undefined && c.peek(1) !== undefined && parseNumber(c.peek(1)!) === null && /^[(a-z]/.test(c.peek(1)!)) {
      // `tcp flags & (fin | syn | rst | ack)`: a symbolic mask; the selector becomes one the tracer does not evaluate.
      let k = c.i + 1;
      if (c.t[k]!.startsWith('(')) while (k < c.t.length && !c.t[k]!.endsWith(')')) k++;
      c.i = k + 1;
      key = `${key} masked`;
      continue;
    }
    const n = op === undefined ? null : parseNumber(c.peek(1) ?? '');
    if (op === undefined || n === null) break;
    ops.push({ op, operand: n });
    c.i += 2;
  }
  return { key, ops, ...(mod === undefined ? {} : { mod, offset: offset ?? 0 }), text: c.t.slice(start, c.i).join(' ') };
}

function concatenation(c: RuleCursor): Selector[] | null {
  const first = selector(c);
  if (first === null) return null;
  const out = [first];
  while (c.peek() === '.') {
    const save = c.i;
    c.i++;
    const s = selector(c);
    if (s === null) {
      c.i = save;
      break;
    }
    out.push(s);
  }
  return out;
}

/** `a . b . c` up to one of `stops` (not consumed). */
function valueParts(c: RuleCursor, stops: readonly string[]): string[] | null {
  const parts: string[] = [];
  let cur: string[] = [];
  for (;;) {
    const w = c.peek();
    if (w === undefined || stops.includes(w)) break;
    c.i++;
    if (w === '.') {
      if (cur.length === 0) return null;
      parts.push(cur.join(' '));
      cur = [];
    } else cur.push(w);
  }
  if (cur.length === 0) return null;
  parts.push(cur.join(' '));
  return parts;
}

/** `{ item, item }` or `{ key : verdict, … }` after the `{`; consumes the `}`. */
function braced(c: RuleCursor, withValues: boolean): { key: string[]; value: string | null }[] | null {
  const items: { key: string[]; value: string | null }[] = [];
  if (c.peek() === '}') {
    c.i++;
    return items;
  }
  for (;;) {
    const key = valueParts(c, withValues ? [':', ',', '}'] : [',', '}']);
    if (key === null) return null;
    let value: string | null = null;
    if (withValues) {
      if (c.next() !== ':') return null;
      const v = valueParts(c, [',', '}']);
      if (v === null || v.length !== 1) return null;
      value = v[0]!;
    }
    items.push({ key, value });
    const sep = c.next();
    if (sep === '}') return items;
    if (sep !== ',') return null;
  }
}

/** A single right-hand-side value: one word (no braces), stopping before statements. */
function singleValue(c: RuleCursor, left: readonly Selector[]): string[] | null {
  const w = c.peek();
  // `ct status dnat`: there the statement words are values.
  const anyWord = left.length === 1 && left[0]!.key === 'ct status';
  if (w === undefined || (STOP_WORDS.has(w) && !anyWord) || w === '{' || w === '}') return null;
  c.i++;
  const parts = [w];
  // `syn / fin,syn,rst,ack`: a value under a mask, kept as one part.
  if (c.peek() === '/' && c.peek(1) !== undefined) {
    parts[0] = `${w}/${c.peek(1)!}`;
    c.i += 2;
  }
  // A concatenated literal `1.2.3.4 . tcp . 80` (rare outside sets).
  while (c.peek() === '.' && c.peek(1) !== undefined && !STOP_WORDS.has(c.peek(1)!)) {
    parts.push(c.peek(1)!);
    c.i += 2;
  }
  return parts;
}

function statement(c: RuleCursor): Stmt {
  const start = c.i;
  const w = c.peek()!;
  const rest = () => c.t.slice(start, c.i).join(' ');
  const unknown = (why: string): Stmt => {
    c.i = c.t.length;
    return { kind: 'unknown', text: c.t.slice(start).join(' '), why };
  };
  switch (w) {
    case 'accept':
    case 'drop':
    case 'continue':
    case 'return':
      c.i++;
      return { kind: 'verdict', verdict: w };
    case 'jump':
    case 'goto': {
      c.i++;
      const target = c.next();
      if (target === undefined) return unknown(`${w} without a chain`);
      return { kind: w, target };
    }
    case 'reject': {
      c.i++;
      if (c.peek() !== 'with') return { kind: 'reject', with: null };
      c.i++;
      const kind = c.next();
      if (kind === 'tcp' && c.peek() === 'reset') {
        c.i++;
        return { kind: 'reject', with: 'tcp reset' };
      }
      if (kind === 'icmp' || kind === 'icmpv6' || kind === 'icmpx') {
        if (c.peek() === 'type') c.i++;
        const code = c.next();
        if (code === undefined) return unknown('reject with an ICMP type but no code');
        return { kind: 'reject', with: `${kind} ${code}` };
      }
      return unknown('reject with an unknown type');
    }
    case 'dnat':
    case 'snat': {
      c.i++;
      if (c.peek() === 'ip' || c.peek() === 'ip6') c.i++;
      if (c.next() !== 'to') return unknown(`${w} without "to"`);
      const to = c.next();
      if (to === undefined || to.startsWith('@') || to === '{' || /^(numgen|jhash|symhash|ip|ip6|meta|ct|th|tcp|udp)$/.test(to)) return unknown(`${w} to a computed address`);
      while (c.peek() !== undefined && ['random', 'fully-random', 'persistent', 'netmap', 'prefix'].includes(c.peek()!)) c.i++;
      if (c.peek() === ',') while (c.peek() === ',' && c.peek(1) !== undefined && ['random', 'fully-random', 'persistent'].includes(c.peek(1)!)) c.i += 2;
      return { kind: w, to, text: rest() };
    }
    case 'masquerade': {
      c.i++;
      while (c.peek() !== undefined && ['random', 'fully-random', 'persistent', ','].includes(c.peek()!)) c.i++;
      if (c.peek() === 'to') return unknown('masquerade to a port range');
      return { kind: 'masquerade', text: rest() };
    }
    case 'counter': {
      c.i++;
      if (c.peek() === 'packets') c.i += 4;
      else if (c.peek() === 'name') c.i += 2;
      return { kind: 'ignored', text: rest() };
    }
    case 'log': {
      c.i++;
      while (c.peek() !== undefined && ['prefix', 'level', 'flags', 'group', 'snaplen', 'queue-threshold'].includes(c.peek()!)) c.i += 2;
      return { kind: 'ignored', text: rest() };
    }
    case 'limit': {
      c.i++;
      if (c.peek() !== 'rate') return unknown('limit without rate');
      c.i++;
      if (c.peek() === 'over') return unknown('limit rate over');
      c.i++;
      if (c.peek() === 'burst') c.i += 3;
      return { kind: 'limit', text: rest() };
    }
    case 'notrack':
      c.i++;
      return { kind: 'notrack' };
    case 'add':
    case 'update':
    case 'delete': {
      c.i++;
      const set = c.next();
      if (set === undefined || !set.startsWith('@') || c.next() !== '{') return unknown(`${w} @set without a key`);
      const key = concatenation(c);
      if (key === null) return unknown(`${w} ${set} with a key the tracer does not read`);
      while (c.peek() === 'timeout' || c.peek() === 'expires') c.i += 2;
      if (c.next() !== '}') return unknown(`${w} ${set} with a key the tracer does not read`);
      return { kind: 'set-update', op: w, set: set.slice(1), key, text: rest() };
    }
  }
  const left = concatenation(c);
  if (left === null) return unknown('not a statement or match the tracer reads');
  const next = c.peek();
  if (next === 'set') {
    c.i++;
    const target = left.length === 1 && left[0]!.ops.length === 0 ? left[0]!.key : null;
    if (target === null) return unknown('set on a computed expression');
    if (target === 'meta nftrace') {
      c.i++;
      return { kind: 'ignored', text: rest() };
    }
    const n = parseNumber(c.peek() ?? '');
    if (n !== null) {
      c.i++;
      return { kind: 'mangle', target, value: n, text: rest() };
    }
    const v = selector(c);
    if (v === null) return unknown(`${target} set to a value the tracer does not read`);
    return { kind: 'mangle', target, value: v, text: rest() };
  }
  if (next === 'vmap') {
    c.i++;
    const d = c.next();
    if (d !== undefined && d.startsWith('@')) return { kind: 'vmap', left, named: d.slice(1), entries: [], text: rest() };
    if (d !== '{') return unknown('vmap without a map');
    const items = braced(c, true);
    if (items === null) return unknown('a vmap the tracer does not read');
    return { kind: 'vmap', left, named: null, entries: items.map((x) => ({ key: x.key, verdict: x.value! })), text: rest() };
  }
  if (next === 'map') return unknown('a data map lookup');
  let op: '==' | '!=' | '<' | '>' | '<=' | '>=' = '==';
  if (next !== undefined && OPS.has(next)) {
    op = next as typeof op;
    c.i++;
  } else if (next === 'eq') {
    c.i++;
  } else if (next === 'ne') {
    op = '!=';
    c.i++;
  }
  const v = c.peek();
  if (v === '{') {
    c.i++;
    const items = braced(c, false);
    if (items === null) return unknown('an anonymous set the tracer does not read');
    return { kind: 'match', left, op, right: { kind: 'anon', items: items.map((x) => x.key) }, text: rest() };
  }
  if (v !== undefined && v.startsWith('@')) {
    c.i++;
    return { kind: 'match', left, op, right: { kind: 'named', name: v.slice(1) }, text: rest() };
  }
  const parts = singleValue(c, left);
  if (parts === null) return unknown(`${left.map((s) => s.text).join(' . ')} without a value`);
  return { kind: 'match', left, op, right: { kind: 'value', parts }, text: rest() };
}

/** The statements of one rule, in order; an `unknown` statement swallows the rest of the rule. */
export function parseStatements(words: readonly string[]): Stmt[] {
  const c = new RuleCursor(lex(words));
  const out: Stmt[] = [];
  while (!c.atEnd()) out.push(statement(c));
  return out;
}
