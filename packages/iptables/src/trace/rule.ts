/**
 * One rule's words read the way iptables reads them: general options (-s -d -p -i -o), `-m module`
 * options dispatched to the most recently loaded module that knows them (or to the protocol's
 * implicit module), `!` negating the next option, and the target with its options. The result is
 * plain data the evaluator checks; anything not modelled is kept as an `unsupported` part with its
 * text, so the evaluator can refuse precisely when (and only when) it would matter.
 */
import { parseNetwork, parseAddress, type Network, type Address } from './ip.js';
import { statisticProbability, type Probability } from './probability.js';

export type Match =
  | { readonly kind: 'address'; readonly which: 'src' | 'dst'; readonly negate: boolean; readonly nets: readonly Network[]; readonly text: string }
  | { readonly kind: 'protocol'; readonly negate: boolean; readonly proto: string }
  | { readonly kind: 'interface'; readonly which: 'in' | 'out'; readonly negate: boolean; readonly name: string }
  | { readonly kind: 'port'; readonly which: 'dport' | 'sport' | 'any'; readonly negate: boolean; readonly ranges: readonly (readonly [number, number])[]; readonly text: string }
  | { readonly kind: 'comment'; readonly text: string }
  | { readonly kind: 'addrtype'; readonly which: 'src' | 'dst'; readonly negate: boolean; readonly types: readonly string[] }
  | { readonly kind: 'mark'; readonly negate: boolean; readonly value: number; readonly mask: number }
  | { readonly kind: 'ctstate'; readonly negate: boolean; readonly states: readonly string[]; readonly option: string }
  | { readonly kind: 'statistic'; readonly negate: boolean; readonly probability: Probability; readonly text: string }
  | {
      readonly kind: 'recent';
      readonly name: string;
      readonly op: 'set' | 'rcheck' | 'update' | 'remove';
      readonly seconds: number | null;
      readonly negate: boolean;
      /** Which address the list remembers (--rsource, the default, or --rdest). */
      readonly key: 'source' | 'destination';
      /** A --mask narrower than the whole address (entries then cover a network), else null. */
      readonly mask: string | null;
    }
  | { readonly kind: 'nfacct'; readonly name: string }
  | { readonly kind: 'syn'; readonly negate: boolean }
  /** `--tcp-flags MASK COMP`: flag names upper-cased, ALL/NONE expanded. */
  | { readonly kind: 'tcpflags'; readonly negate: boolean; readonly mask: readonly string[]; readonly comp: readonly string[] }
  /** `-m limit`, `-m hashlimit`: whether a first packet passes (a fresh bucket is full; --hashlimit-above never does). */
  | { readonly kind: 'limit'; readonly matches: boolean; readonly text: string }
  | { readonly kind: 'owner'; readonly text: string; readonly allInverted: boolean }
  | { readonly kind: 'socket'; readonly text: string }
  | { readonly kind: 'rpfilter'; readonly loose: boolean; readonly invert: boolean; readonly acceptLocal: boolean; readonly text: string }
  | { readonly kind: 'set'; readonly negate: boolean; readonly name: string; readonly dirs: readonly ('src' | 'dst')[]; readonly text: string }
  | {
      readonly kind: 'physdev';
      readonly text: string;
      readonly in?: { readonly name: string; readonly negate: boolean };
      readonly out?: { readonly name: string; readonly negate: boolean };
      readonly isIn?: boolean;
      readonly isOut?: boolean;
      readonly isBridged?: boolean;
    }
  | { readonly kind: 'connmark'; readonly negate: boolean; readonly value: number; readonly mask: number }
  /** `-m policy --pol none|ipsec`: plain packets have no IPsec policy. */
  | { readonly kind: 'policy'; readonly ipsec: boolean; readonly negate: boolean }
  | { readonly kind: 'pkttype'; readonly negate: boolean; readonly type: string }
  | { readonly kind: 'iprange'; readonly which: 'src' | 'dst'; readonly negate: boolean; readonly lo: Address; readonly hi: Address; readonly text: string }
  /** conntrack's tuple options on a new connection: the original tuple is the packet before NAT, the reply source its DNAT destination. */
  | { readonly kind: 'cttuple'; readonly which: 'origsrc' | 'origdst' | 'replsrc'; readonly negate: boolean; readonly nets: readonly Network[]; readonly text: string }
  | { readonly kind: 'ctflag'; readonly negate: boolean; readonly holds: boolean; readonly text: string }
  | { readonly kind: 'unsupported'; readonly text: string; readonly why: string };

export type MarkOp = 'set-xmark' | 'set-mark' | 'or' | 'and' | 'xor';

export type Target =
  | { readonly kind: 'none' }
  | { readonly kind: 'chain'; readonly chain: string; readonly goto: boolean }
  | { readonly kind: 'ACCEPT' | 'DROP' | 'RETURN' }
  | { readonly kind: 'REJECT'; readonly rejectWith: string | null }
  | { readonly kind: 'MARK'; readonly op: MarkOp; readonly value: number; readonly mask: number; readonly text: string }
  | { readonly kind: 'DNAT'; readonly ip: Address | null; readonly port: number | null; readonly text: string }
  | { readonly kind: 'SNAT'; readonly ip: Address; readonly text: string }
  | { readonly kind: 'MASQUERADE'; readonly text: string }
  /** DNAT to the incoming interface's address (127.0.0.1 / ::1 for locally generated packets). */
  | { readonly kind: 'REDIRECT'; readonly port: number | null; readonly text: string }
  /** `CT --notrack` / `NOTRACK`: the packet stays untracked (nat never sees it); other CT options change nothing here. */
  | { readonly kind: 'CT'; readonly notrack: boolean; readonly text: string }
  | {
      readonly kind: 'CONNMARK';
      readonly op: 'set-xmark' | 'set-mark' | 'and' | 'or' | 'xor' | 'save' | 'restore';
      readonly value: number;
      readonly mask: number;
      readonly nfmask: number;
      readonly ctmask: number;
      readonly text: string;
    }
  /** Targets that only observe or rewrite fields the tracer does not follow (LOG, NFLOG, TCPMSS...). */
  | { readonly kind: 'passive'; readonly name: string }
  | { readonly kind: 'unsupported'; readonly text: string; readonly why: string };

export interface ParsedRule {
  readonly matches: readonly Match[];
  readonly target: Target;
}

/** Options each modelled match module takes, with the number of values each option consumes. */
const MODULE_OPTIONS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  tcp: { '--dport': 1, '--destination-port': 1, '--sport': 1, '--source-port': 1, '--syn': 0, '--tcp-flags': 2, '--tcp-option': 1 },
  udp: { '--dport': 1, '--destination-port': 1, '--sport': 1, '--source-port': 1 },
  sctp: { '--dport': 1, '--destination-port': 1, '--sport': 1, '--source-port': 1, '--chunk-types': 2 },
  comment: { '--comment': 1 },
  addrtype: { '--src-type': 1, '--dst-type': 1, '--limit-iface-in': 0, '--limit-iface-out': 0 },
  mark: { '--mark': 1 },
  conntrack: {
    '--ctstate': 1, '--ctproto': 1, '--ctorigsrc': 1, '--ctorigdst': 1, '--ctreplsrc': 1, '--ctrepldst': 1,
    '--ctorigsrcport': 1, '--ctorigdstport': 1, '--ctreplsrcport': 1, '--ctrepldstport': 1, '--ctstatus': 1,
    '--ctexpire': 1, '--ctdir': 1,
  },
  state: { '--state': 1 },
  statistic: { '--mode': 1, '--probability': 1, '--every': 1, '--packet': 1 },
  recent: {
    '--name': 1, '--set': 0, '--rcheck': 0, '--update': 0, '--remove': 0, '--seconds': 1, '--reap': 0,
    '--hitcount': 1, '--rttl': 0, '--rsource': 0, '--rdest': 0, '--mask': 1,
  },
  nfacct: { '--nfacct-name': 1 },
  multiport: { '--dports': 1, '--destination-ports': 1, '--sports': 1, '--source-ports': 1, '--ports': 1 },
  icmp: { '--icmp-type': 1 },
  icmp6: { '--icmpv6-type': 1 },
  limit: { '--limit': 1, '--limit-burst': 1 },
  hashlimit: {
    '--hashlimit': 1, '--hashlimit-upto': 1, '--hashlimit-above': 1, '--hashlimit-burst': 1, '--hashlimit-mode': 1,
    '--hashlimit-srcmask': 1, '--hashlimit-dstmask': 1, '--hashlimit-name': 1, '--hashlimit-htable-size': 1,
    '--hashlimit-htable-max': 1, '--hashlimit-htable-expire': 1, '--hashlimit-htable-gcinterval': 1,
    '--hashlimit-rate-match': 0, '--hashlimit-rate-interval': 1,
  },
  owner: { '--uid-owner': 1, '--gid-owner': 1, '--socket-exists': 0, '--suppl-groups': 0 },
  socket: { '--transparent': 0, '--nowildcard': 0, '--restore-skmark': 0 },
  rpfilter: { '--loose': 0, '--validmark': 0, '--accept-local': 0, '--invert': 0 },
  set: {
    '--match-set': 2, '--set': 2, '--return-nomatch': 0, '--update-counters': 0, '--update-subcounters': 0,
    '--packets-eq': 1, '--packets-lt': 1, '--packets-gt': 1, '--bytes-eq': 1, '--bytes-lt': 1, '--bytes-gt': 1,
  },
  physdev: { '--physdev-in': 1, '--physdev-out': 1, '--physdev-is-in': 0, '--physdev-is-out': 0, '--physdev-is-bridged': 0 },
  connmark: { '--mark': 1 },
  policy: {
    '--dir': 1, '--pol': 1, '--strict': 0, '--reqid': 1, '--spi': 1, '--proto': 1, '--mode': 1, '--tunnel-src': 1,
    '--tunnel-dst': 1, '--next': 0,
  },
  pkttype: { '--pkt-type': 1 },
  iprange: { '--src-range': 1, '--dst-range': 1 },
};

const TARGET_OPTIONS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  MARK: { '--set-xmark': 1, '--set-mark': 1, '--or-mark': 1, '--and-mark': 1, '--xor-mark': 1 },
  DNAT: { '--to-destination': 1, '--random': 0, '--persistent': 0 },
  SNAT: { '--to-source': 1, '--random': 0, '--random-fully': 0, '--persistent': 0 },
  MASQUERADE: { '--to-ports': 1, '--random': 0, '--random-fully': 0 },
  REDIRECT: { '--to-ports': 1, '--random': 0 },
  CT: { '--notrack': 0, '--zone': 1, '--zone-orig': 1, '--zone-reply': 1, '--helper': 1, '--ctevents': 1, '--expevents': 1, '--timeout': 1 },
  NOTRACK: {},
  CONNMARK: {
    '--set-xmark': 1, '--set-mark': 1, '--and-mark': 1, '--or-mark': 1, '--xor-mark': 1, '--save-mark': 0, '--restore-mark': 0,
    '--nfmask': 1, '--ctmask': 1, '--mask': 1,
  },
  REJECT: { '--reject-with': 1 },
  LOG: { '--log-prefix': 1, '--log-level': 1, '--log-tcp-sequence': 0, '--log-tcp-options': 0, '--log-ip-options': 0, '--log-uid': 0, '--log-macdecode': 0 },
  NFLOG: { '--nflog-group': 1, '--nflog-prefix': 1, '--nflog-range': 1, '--nflog-size': 1, '--nflog-threshold': 1 },
  TCPMSS: { '--set-mss': 1, '--clamp-mss-to-pmtu': 0 },
  CHECKSUM: { '--checksum-fill': 0 },
  TRACE: {},
  ACCEPT: {},
  DROP: {},
  RETURN: {},
};

/** Targets that neither decide the verdict nor change an address, port, mark or route. */
const PASSIVE_TARGETS = new Set(['LOG', 'NFLOG', 'ULOG', 'AUDIT', 'TCPMSS', 'CHECKSUM', 'TRACE', 'TOS', 'DSCP', 'TTL', 'HL', 'SECMARK', 'CONNSECMARK', 'CLASSIFY', 'IDLETIMER', 'LED', 'RATEEST']);

/** `-p NAME` loads its protocol's match module implicitly. */
const PROTO_MODULES: Readonly<Record<string, string>> = { tcp: 'tcp', udp: 'udp', sctp: 'sctp', icmp: 'icmp', icmpv6: 'icmp6', 'ipv6-icmp': 'icmp6' };

class RuleSyntaxError extends Error {}

/** Parses `0x4000`, `16384`, `040000` (strtoul base 0) as an unsigned 32-bit value. */
export function parseU32(text: string): number | null {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) n = parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) n = parseInt(text, 8);
  else if (/^[1-9][0-9]*$/.test(text)) n = Number(text);
  else return null;
  return n <= 0xffffffff ? n : null;
}

function parseValueMask(text: string): { value: number; mask: number } | null {
  const [v, m, extra] = text.split('/');
  if (extra !== undefined || v === undefined) return null;
  const value = parseU32(v);
  const mask = m === undefined ? 0xffffffff : parseU32(m);
  return value === null || mask === null ? null : { value, mask };
}

function parsePortRanges(text: string, multi: boolean): [number, number][] | null {
  const items = multi ? text.split(',') : [text];
  const out: [number, number][] = [];
  for (const item of items) {
    const m = /^([0-9]*)(?::([0-9]*))?$/.exec(item);
    if (!m || (m[1] === '' && m[2] === undefined)) return null;
    const lo = m[1] === '' ? 0 : Number(m[1]);
    const hi = m[2] === undefined ? lo : m[2] === '' ? 65535 : Number(m[2]);
    if (lo > 65535 || hi > 65535) return null;
    out.push([Math.min(lo, hi), Math.max(lo, hi)]);
  }
  return out;
}

/**
 * Reads a rule's arguments. `isChain(name)` says whether a `-j`/`-g` name is a chain of the same
 * table (a chain wins over an extension target of the same name, as in iptables).
 */
export function parseRule(args: readonly string[], isChain: (name: string) => boolean): ParsedRule {
  const matches: Match[] = [];
  let target: Target = { kind: 'none' };
  let targetName: string | null = null;
  const targetOpts: [string, string[]][] = [];
  const modules: string[] = [];
  const moduleOpts = new Map<number, [string, string[], boolean][]>(); // module index -> options
  let proto: string | null = null;
  let negate = false;
  let i = 0;

  const value = (opt: string): string => {
    const v = args[i + 1];
    if (v === undefined) throw new RuleSyntaxError(`option ${opt} has no value`);
    i += 1;
    return v;
  };
  // Old syntax `-s ! 1.2.3.4` puts the `!` after the option.
  const valueWithBang = (opt: string): string => {
    let v = value(opt);
    if (v === '!') {
      negate = !negate;
      v = value(opt);
    }
    return v;
  };
  const takeNegate = (): boolean => {
    const n = negate;
    negate = false;
    return n;
  };

  for (; i < args.length; i++) {
    const w = args[i]!;
    if (w === '!') {
      negate = !negate;
      continue;
    }
    switch (w) {
      case '-s':
      case '--source':
      case '--src':
      case '-d':
      case '--destination':
      case '--dst': {
        const v = valueWithBang(w);
        const which = w.startsWith('-s') || w === '--source' || w === '--src' ? 'src' : 'dst';
        const nets = v.split(',').map((x) => parseNetwork(x));
        const n = takeNegate();
        if (nets.some((x) => x === null)) matches.push({ kind: 'unsupported', text: `${n ? '! ' : ''}${w} ${v}`, why: `"${v}" is not an IP address or network` });
        else matches.push({ kind: 'address', which, negate: n, nets: nets as Network[], text: v });
        continue;
      }
      case '-p':
      case '--protocol': {
        const v = valueWithBang(w).toLowerCase();
        proto = v;
        matches.push({ kind: 'protocol', negate: takeNegate(), proto: v });
        continue;
      }
      case '-i':
      case '--in-interface':
      case '-o':
      case '--out-interface': {
        const v = valueWithBang(w);
        matches.push({ kind: 'interface', which: w === '-i' || w === '--in-interface' ? 'in' : 'out', negate: takeNegate(), name: v });
        continue;
      }
      case '-f':
      case '--fragment':
        matches.push({ kind: 'unsupported', text: `${takeNegate() ? '! ' : ''}-f`, why: 'fragment matching is not modelled' });
        continue;
      case '-c':
      case '--set-counters':
        value(w);
        value(w);
        continue;
      case '-m':
      case '--match': {
        if (takeNegate()) throw new RuleSyntaxError('"!" before -m');
        modules.push(value(w));
        continue;
      }
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        if (takeNegate()) throw new RuleSyntaxError(`"!" before ${w}`);
        if (targetName !== null) throw new RuleSyntaxError('more than one target');
        const name = value(w);
        targetName = name;
        if (w === '-g' || w === '--goto') target = { kind: 'chain', chain: name, goto: true };
        else if (isChain(name)) target = { kind: 'chain', chain: name, goto: false };
        continue;
      }
    }
    if (!w.startsWith('-')) throw new RuleSyntaxError(`unexpected word "${w}"`);
    // A target option (the target's own options win after -j).
    const tOpts = targetName !== null && target.kind !== 'chain' && Object.hasOwn(TARGET_OPTIONS, targetName) ? TARGET_OPTIONS[targetName] : undefined;
    if (tOpts && Object.hasOwn(tOpts, w)) {
      const vals: string[] = [];
      for (let k = 0; k < tOpts[w]!; k++) vals.push(value(w));
      if (takeNegate()) throw new RuleSyntaxError(`"!" before target option ${w}`);
      targetOpts.push([w, vals]);
      continue;
    }
    // A match option: the latest loaded module that knows it, else the protocol's implicit module.
    let owner = -1;
    for (let m = modules.length - 1; m >= 0; m--) {
      const opts = Object.hasOwn(MODULE_OPTIONS, modules[m]!) ? MODULE_OPTIONS[modules[m]!] : undefined;
      if (opts && Object.hasOwn(opts, w)) {
        owner = m;
        break;
      }
    }
    const implicit = proto !== null && Object.hasOwn(PROTO_MODULES, proto) ? PROTO_MODULES[proto]! : null;
    if (owner < 0 && implicit !== null && Object.hasOwn(MODULE_OPTIONS[implicit]!, w)) {
      modules.push(implicit);
      owner = modules.length - 1;
    }
    if (owner >= 0) {
      const arity = MODULE_OPTIONS[modules[owner]!]![w]!;
      const vals: string[] = [];
      for (let k = 0; k < arity; k++) vals.push(arity === 1 ? valueWithBang(w) : value(w));
      const list = moduleOpts.get(owner) ?? [];
      list.push([w, vals, takeNegate()]);
      moduleOpts.set(owner, list);
      continue;
    }
    // An option of a module or target the tracer does not model: keep its words for the message.
    const words: string[] = [];
    while (i + 1 < args.length && !args[i + 1]!.startsWith('-') && args[i + 1] !== '!') words.push(args[++i]!);
    if (targetName !== null && target.kind !== 'chain' && !Object.hasOwn(TARGET_OPTIONS, targetName)) {
      targetOpts.push([w, words]);
      continue;
    }
    let unknownModule = -1;
    for (let m = modules.length - 1; m >= 0 && unknownModule < 0; m--) if (!Object.hasOwn(MODULE_OPTIONS, modules[m]!)) unknownModule = m;
    if (unknownModule < 0) throw new RuleSyntaxError(`unknown option ${w}`);
    const list = moduleOpts.get(unknownModule) ?? [];
    list.push([w, words, takeNegate()]);
    moduleOpts.set(unknownModule, list);
  }
  if (negate) throw new RuleSyntaxError('"!" at the end of the rule');

  modules.forEach((mod, idx) => matches.push(...moduleMatches(mod, moduleOpts.get(idx) ?? [])));
  if (targetName !== null && target.kind !== 'chain') target = buildTarget(targetName, targetOpts);
  return { matches, target };
}

function moduleMatches(mod: string, opts: readonly [string, string[], boolean][]): Match[] {
  const text = (o: string, v: string[], n: boolean) => `-m ${mod} ${n ? '! ' : ''}${[o, ...v].join(' ')}`;
  const unsupported = (o: string, v: string[], n: boolean, why: string): Match => ({ kind: 'unsupported', text: text(o, v, n), why });
  const out: Match[] = [];
  if (!Object.hasOwn(MODULE_OPTIONS, mod)) {
    const words = opts.map(([o, v, n]) => `${n ? '! ' : ''}${[o, ...v].join(' ')}`);
    out.push({ kind: 'unsupported', text: ['-m', mod, ...words].join(' '), why: `the match module ${mod} is not modelled` });
    return out;
  }
  switch (mod) {
    case 'tcp':
    case 'udp':
    case 'sctp':
      // The module itself requires the protocol (iptables refuses `-m tcp` without `-p tcp`).
      out.push({ kind: 'protocol', negate: false, proto: mod });
      for (const [o, v, n] of opts) {
        if (o === '--syn') out.push({ kind: 'syn', negate: n });
        else if (o === '--tcp-flags') {
          const mask = tcpFlagList(v[0]!);
          const comp = tcpFlagList(v[1]!);
          if (!mask || !comp) out.push(unsupported(o, v, n, `"${v.join(' ')}" is not a list of TCP flags`));
          else out.push({ kind: 'tcpflags', negate: n, mask, comp });
        } else if (o === '--tcp-option' || o === '--chunk-types') out.push(unsupported(o, v, n, `${o} is not modelled`));
        else {
          const ranges = parsePortRanges(v[0]!, false);
          if (!ranges) out.push(unsupported(o, v, n, `"${v[0]}" is not a port or port range`));
          else out.push({ kind: 'port', which: o === '--dport' || o === '--destination-port' ? 'dport' : 'sport', negate: n, ranges, text: v[0]! });
        }
      }
      return out;
    case 'multiport':
      for (const [o, v, n] of opts) {
        const ranges = parsePortRanges(v[0]!, true);
        const which = o === '--ports' ? 'any' : o.startsWith('--d') ? 'dport' : 'sport';
        if (!ranges) out.push(unsupported(o, v, n, `"${v[0]}" is not a port list`));
        else out.push({ kind: 'port', which, negate: n, ranges, text: v[0]! });
      }
      return out;
    case 'comment':
      for (const [, v] of opts) out.push({ kind: 'comment', text: v[0]! });
      return out;
    case 'addrtype':
      for (const [o, v, n] of opts) {
        if (o === '--limit-iface-in' || o === '--limit-iface-out') out.push(unsupported(o, v, n, `${o} is not modelled`));
        else out.push({ kind: 'addrtype', which: o === '--src-type' ? 'src' : 'dst', negate: n, types: v[0]!.toUpperCase().split(',') });
      }
      return out;
    case 'mark':
      for (const [o, v, n] of opts) {
        const vm = parseValueMask(v[0]!);
        out.push(vm ? { kind: 'mark', negate: n, ...vm } : unsupported(o, v, n, `"${v[0]}" is not a mark value[/mask]`));
      }
      return out;
    case 'conntrack':
    case 'state':
      for (const [o, v, n] of opts) {
        const t = text(o, v, n);
        if (o === '--ctstate' || o === '--state') out.push({ kind: 'ctstate', negate: n, states: v[0]!.toUpperCase().split(','), option: o });
        else if (o === '--ctorigsrc' || o === '--ctorigdst' || o === '--ctreplsrc') {
          const nets = v[0]!.split(',').map((x) => parseNetwork(x));
          if (nets.some((x) => x === null)) out.push(unsupported(o, v, n, `"${v[0]}" is not an address or network`));
          else out.push({ kind: 'cttuple', which: o === '--ctorigsrc' ? 'origsrc' : o === '--ctorigdst' ? 'origdst' : 'replsrc', negate: n, nets: nets as Network[], text: t });
        } else if (o === '--ctdir') out.push({ kind: 'ctflag', negate: n, holds: v[0]!.toUpperCase() === 'ORIGINAL', text: t });
        else if (o === '--ctstatus') {
          // A connection's first packet: not yet confirmed, no reply seen, not assured, not expected.
          const st = v[0]!.toUpperCase().split(',');
          out.push({ kind: 'ctflag', negate: n, holds: st.includes('NONE'), text: t });
        } else out.push(unsupported(o, v, n, `conntrack ${o} is not modelled`));
      }
      return out;
    case 'icmp':
    case 'icmp6':
      // Only the protocol matters: the traced packet is TCP, UDP or SCTP, never ICMP.
      out.push({ kind: 'protocol', negate: false, proto: mod === 'icmp' ? 'icmp' : 'ipv6-icmp' });
      return out;
    case 'limit':
      out.push({ kind: 'limit', matches: !opts.some(([, , n]) => n), text: opts.map(([o, v, n]) => text(o, v, n)).join(' ') });
      return out;
    case 'hashlimit':
      out.push({ kind: 'limit', matches: !opts.some(([o]) => o === '--hashlimit-above'), text: opts.map(([o, v, n]) => text(o, v, n)).join(' ') });
      return out;
    case 'owner':
      out.push({ kind: 'owner', text: `-m owner ${opts.map(([o, v, n]) => `${n ? '! ' : ''}${[o, ...v].join(' ')}`).join(' ')}`, allInverted: opts.every(([o, , n]) => n || o === '--suppl-groups') });
      return out;
    case 'socket':
      out.push({ kind: 'socket', text: ['-m socket', ...opts.map(([o]) => o)].join(' ') });
      return out;
    case 'rpfilter': {
      const has = (o: string) => opts.some(([x]) => x === o);
      if (has('--validmark')) out.push({ kind: 'unsupported', text: '-m rpfilter --validmark', why: '--validmark (routing by mark) is not modelled' });
      else out.push({ kind: 'rpfilter', loose: has('--loose'), invert: has('--invert'), acceptLocal: has('--accept-local'), text: ['-m rpfilter', ...opts.map(([o]) => o)].join(' ') });
      return out;
    }
    case 'set':
      for (const [o, v, n] of opts) {
        if (o === '--match-set' || o === '--set') {
          const dirs = v[1]!.split(',');
          if (dirs.some((d) => d !== 'src' && d !== 'dst')) out.push(unsupported(o, v, n, `"${v[1]}" is not a list of src/dst`));
          else out.push({ kind: 'set', negate: n, name: v[0]!, dirs: dirs as ('src' | 'dst')[], text: text(o, v, n) });
        } else if (o !== '--return-nomatch' && o !== '--update-counters' && o !== '--update-subcounters') out.push(unsupported(o, v, n, `set ${o} (packet counters) is not modelled`));
      }
      return out;
    case 'physdev': {
      const get = (o: string) => opts.find(([x]) => x === o);
      const inp = get('--physdev-in');
      const outp = get('--physdev-out');
      const flag = (o: string) => (get(o) ? !get(o)![2] : undefined);
      const isIn = flag('--physdev-is-in');
      const isOut = flag('--physdev-is-out');
      const isBridged = flag('--physdev-is-bridged');
      out.push({
        kind: 'physdev',
        text: `-m physdev ${opts.map(([o, v, n]) => `${n ? '! ' : ''}${[o, ...v].join(' ')}`).join(' ')}`,
        ...(inp ? { in: { name: inp[1][0]!, negate: inp[2] } } : {}),
        ...(outp ? { out: { name: outp[1][0]!, negate: outp[2] } } : {}),
        ...(isIn !== undefined ? { isIn } : {}),
        ...(isOut !== undefined ? { isOut } : {}),
        ...(isBridged !== undefined ? { isBridged } : {}),
      });
      return out;
    }
    case 'connmark':
      for (const [o, v, n] of opts) {
        const vm = parseValueMask(v[0]!);
        out.push(vm ? { kind: 'connmark', negate: n, ...vm } : unsupported(o, v, n, `"${v[0]}" is not a mark value[/mask]`));
      }
      return out;
    case 'policy': {
      const pol = opts.find(([o]) => o === '--pol');
      if (!pol || (pol[1][0] !== 'none' && pol[1][0] !== 'ipsec')) out.push({ kind: 'unsupported', text: `-m policy ${opts.map(([o, v]) => [o, ...v].join(' ')).join(' ')}`, why: 'only --pol none|ipsec is modelled' });
      else out.push({ kind: 'policy', ipsec: pol[1][0] === 'ipsec', negate: pol[2] });
      return out;
    }
    case 'pkttype':
      for (const [, v, n] of opts) out.push({ kind: 'pkttype', negate: n, type: v[0]!.toLowerCase() });
      return out;
    case 'iprange':
      for (const [o, v, n] of opts) {
        const [a, b] = v[0]!.split('-');
        const lo = a === undefined ? null : parseAddress(a);
        const hi = b === undefined ? lo : parseAddress(b);
        if (!lo || !hi || lo.family !== hi.family) out.push(unsupported(o, v, n, `"${v[0]}" is not an address range`));
        else out.push({ kind: 'iprange', which: o === '--src-range' ? 'src' : 'dst', negate: n, lo, hi, text: text(o, v, n) });
      }
      return out;
    case 'statistic': {
      const get = (o: string) => opts.find(([x]) => x === o);
      const mode = get('--mode');
      const prob = get('--probability');
      if (mode?.[1][0] !== 'random' || !prob || get('--every') || get('--packet')) {
        out.push({ kind: 'unsupported', text: `-m statistic ${opts.map(([o, v, n]) => `${n ? '! ' : ''}${[o, ...v].join(' ')}`).join(' ')}`, why: 'only --mode random --probability is modelled' });
        return out;
      }
      const p = statisticProbability(prob[1][0]!);
      if (!p) out.push(unsupported('--probability', prob[1], prob[2], `"${prob[1][0]}" is not a probability in [0, 1]`));
      else out.push({ kind: 'statistic', negate: prob[2], probability: p, text: prob[1][0]! });
      return out;
    }
    case 'recent': {
      const get = (o: string) => opts.find(([x]) => x === o);
      const ops = (['--set', '--rcheck', '--update', '--remove'] as const).filter((o) => get(o));
      if (ops.length !== 1) {
        out.push({ kind: 'unsupported', text: `-m recent ${opts.map(([o, v]) => [o, ...v].join(' ')).join(' ')}`, why: 'exactly one of --set/--rcheck/--update/--remove is expected' });
        return out;
      }
      const op = ops[0]!.slice(2) as 'set' | 'rcheck' | 'update' | 'remove';
      const seconds = get('--seconds');
      const mask = get('--mask')?.[1][0] ?? null;
      out.push({
        kind: 'recent',
        name: get('--name')?.[1][0] ?? 'DEFAULT',
        op,
        seconds: seconds ? Number(seconds[1][0]) : null,
        negate: get(`--${op}`)![2],
        // --hitcount, --rttl and --reap only refine a lookup that finds nothing on a first packet.
        key: get('--rdest') ? 'destination' : 'source',
        mask: mask === null || isFullMask(mask) ? null : mask,
      });
      return out;
    }
    case 'nfacct':
      for (const [, v] of opts) out.push({ kind: 'nfacct', name: v[0]! });
      return out;
  }
  return out;
}

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

function tcpFlagList(text: string): string[] | null {
  const up = text.toUpperCase();
  if (up === 'ALL') return [...TCP_FLAGS];
  if (up === 'NONE') return [];
  const out = up.split(',');
  return out.every((f) => TCP_FLAGS.includes(f)) ? out : null;
}

/** `255.255.255.255` or the all-ones IPv6 mask: the whole address. */
function isFullMask(text: string): boolean {
  const a = parseAddress(text);
  return a !== null && a.value === (a.family === 'IPv4' ? 0xffffffffn : (1n << 128n) - 1n);
}

function buildTarget(name: string, opts: readonly [string, string[]][]): Target {
  const text = [name, ...opts.flatMap(([o, v]) => [o, ...v])].join(' ');
  const unsupported = (why: string): Target => ({ kind: 'unsupported', text, why });
  const known = Object.hasOwn(TARGET_OPTIONS, name) ? TARGET_OPTIONS[name] : undefined;
  if (known) {
    const stray = opts.find(([o]) => !Object.hasOwn(known, o));
    if (stray) return unsupported(`option ${stray[0]} of ${name} is not modelled`);
  }
  const get = (o: string) => opts.find(([x]) => x === o)?.[1][0];
  switch (name) {
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
      return { kind: name };
    case 'REJECT':
      return { kind: 'REJECT', rejectWith: get('--reject-with') ?? null };
    case 'MARK': {
      if (opts.length !== 1) return unsupported('MARK needs exactly one operation');
      const [o, v] = opts[0]!;
      const vm = parseValueMask(v[0]!);
      if (!vm) return unsupported(`"${v[0]}" is not a mark value[/mask]`);
      const op: MarkOp = o === '--set-xmark' ? 'set-xmark' : o === '--set-mark' ? 'set-mark' : o === '--or-mark' ? 'or' : o === '--and-mark' ? 'and' : 'xor';
      if (op !== 'set-xmark' && op !== 'set-mark' && v[0]!.includes('/')) return unsupported(`${o} takes no mask`);
      return { kind: 'MARK', op, ...vm, text };
    }
    case 'DNAT': {
      const to = get('--to-destination');
      if (to === undefined) return unsupported('DNAT without --to-destination');
      const hp = parseHostPort(to);
      if (!hp) return unsupported(`--to-destination ${to}: only a single address and/or a single port is modelled`);
      return { kind: 'DNAT', ip: hp.ip, port: hp.port, text };
    }
    case 'SNAT': {
      const to = get('--to-source');
      const hp = to === undefined ? null : parseHostPort(to);
      // A port (range) after the address only picks the source port: the address decides what the peer sees.
      const host = to?.replace(/:[0-9]+(-[0-9]+)?$/, '') ?? '';
      const ip = hp?.ip ?? parseAddress(host.replace(/^\[|\]$/g, ''));
      if (!ip) return unsupported(`--to-source ${to ?? ''}: only a single address is modelled`);
      return { kind: 'SNAT', ip, text };
    }
    case 'MASQUERADE':
      // --to-ports only picks the source port range: the address is the outgoing interface's either way.
      return { kind: 'MASQUERADE', text };
    case 'REDIRECT': {
      const ports = get('--to-ports');
      if (ports !== undefined && !/^[0-9]{1,5}$/.test(ports)) return unsupported(`--to-ports ${ports}: only a single port is modelled`);
      return { kind: 'REDIRECT', port: ports === undefined ? null : Number(ports), text };
    }
    case 'NOTRACK':
      return { kind: 'CT', notrack: true, text };
    case 'CT':
      return { kind: 'CT', notrack: opts.some(([o]) => o === '--notrack'), text };
    case 'CONNMARK': {
      const num = (o: string, dflt: number) => {
        const v = get(o);
        return v === undefined ? dflt : parseU32(v);
      };
      const mask = num('--mask', 0xffffffff);
      const nfmask = num('--nfmask', mask ?? 0xffffffff);
      const ctmask = num('--ctmask', mask ?? 0xffffffff);
      if (mask === null || nfmask === null || ctmask === null) return unsupported('a CONNMARK mask is not a number');
      const ops = opts.filter(([o]) => o !== '--mask' && o !== '--nfmask' && o !== '--ctmask');
      if (ops.length !== 1) return unsupported('CONNMARK needs exactly one operation');
      const [o, v] = ops[0]!;
      if (o === '--save-mark' || o === '--restore-mark') return { kind: 'CONNMARK', op: o === '--save-mark' ? 'save' : 'restore', value: 0, mask: 0, nfmask, ctmask, text };
      const vm = parseValueMask(v[0]!);
      if (!vm) return unsupported(`"${v[0]}" is not a mark value[/mask]`);
      const op = o === '--set-xmark' ? 'set-xmark' : o === '--set-mark' ? 'set-mark' : o === '--and-mark' ? 'and' : o === '--or-mark' ? 'or' : 'xor';
      return { kind: 'CONNMARK', op, ...vm, nfmask, ctmask, text };
    }
  }
  if (PASSIVE_TARGETS.has(name)) return { kind: 'passive', name };
  return unsupported(`the target ${name} is not modelled (and it is not a chain of this table)`);
}

/** `1.2.3.4`, `1.2.3.4:80`, `[fd00::1]:80`, `fd00::1`, `:80`. */
function parseHostPort(text: string): { ip: Address | null; port: number | null } | null {
  let host = text;
  let port: string | null = null;
  const br = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(text);
  if (br) {
    host = br[1]!;
    port = br[2] ?? null;
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const c = text.indexOf(':');
    host = text.slice(0, c);
    port = text.slice(c + 1);
  }
  if (port !== null && !/^[0-9]{1,5}$/.test(port)) return null;
  const p = port === null ? null : Number(port);
  if (p !== null && (p < 1 || p > 65535)) return null;
  if (host === '') return p === null ? null : { ip: null, port: p };
  const ip = parseAddress(host);
  return ip ? { ip, port: p } : null;
}

/** Parses a rule, turning a syntax error into an `unsupported` target so the evaluator can report it. */
export function parseRuleSafe(args: readonly string[], isChain: (name: string) => boolean): ParsedRule {
  try {
    return parseRule(args, isChain);
  } catch (e) {
    if (e instanceof RuleSyntaxError) return { matches: [], target: { kind: 'unsupported', text: args.join(' '), why: `the rule cannot be read: ${e.message}` } };
    throw e;
  }
}
