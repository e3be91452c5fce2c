/**
 * A rule written in restore syntax (as kube-proxy writes it) → the exact form `iptables-save`
 * prints it back, so that live rules can be compared with desired ones. Derived empirically from
 * Debian's iptables 1.8.9 (nft and legacy backends print the same rule text; IPv4 and IPv6) and
 * from the extensions' save functions:
 *
 * - `-s`, `-d`, `-i`, `-o`, `-p` come first in that order (each with its `!`), whatever their
 *   place in the input; addresses get their mask (`/32`, `/128`), are masked, and `/0` vanishes;
 *   IPv6 is printed as glibc's inet_ntop does; `-p 6`/`-p TCP` print `-p tcp`, `-p all` vanishes.
 * - Then the matches in the order they were loaded (`-m tcp` before `-p tcp` stays a match in
 *   place; `-p tcp --dport` without `-m tcp` loads `tcp` where `--dport` appears); each match
 *   prints its own options in its own fixed order, normalised (`--mark 0x00004000/0xffffffff` →
 *   `--mark 0x4000`, states and address types in bit order, `recent` with its defaults).
 * - `--probability p` is stored as u = lround(p · 2^31) and printed `%.11f` of u / 2^31, rounding
 *   exact ties to even (0.3333333333 → 0.33333333349, 1/4096 → 0.00024414062).
 * - Then `-j TARGET` with its options normalised: MARK → `--set-xmark v/m` (`--or-mark v` → v/v,
 *   `--xor-mark v` → v/0x0, `--and-mark v` → 0x0/~v, `--set-mark v[/m]` → v/(m|v)); REJECT always
 *   `--reject-with` (default icmp-port-unreachable / icmp6-port-unreachable); or `-g CHAIN`.
 * - Free-text values (comment, nfacct name) are bare only when made of `[A-Za-z0-9_-]`, else in
 *   double quotes with `"`, `\` and `'` backslash-escaped; nfacct prints two spaces before its name.
 *
 * Anything outside the shapes understood here throws `SaveFormError` rather than guess.
 */
import { formatIPv4 as formatOctets, formatIPv6, parseIPv4Octets, parseIPv6Groups, type IPFamily } from '@svcrules/netaddr';
import { BUILTIN_TARGETS } from './targets.js';

export class SaveFormError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaveFormError';
  }
}

function fail(message: string): never {
  throw new SaveFormError(message);
}

/** One printed element: `word` as a tokenizer reads it back, `text` exactly as printed (with its leading space). */
interface Piece {
  readonly word: string;
  readonly text: string;
}

const plain = (word: string): Piece => ({ word, text: ` ${word}` });

/** `xtables_save_string`: bare if made only of `[A-Za-z0-9_-]`, else quoted with `"`, `\`, `'` escaped. */
export function saveString(value: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(value)) return value;
  return `"${value.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}

const quoted = (word: string, spaces = ' '): Piece => ({ word, text: `${spaces}${saveString(word)}` });

// ---------------------------------------------------------------- numbers

const U32 = 0xffffffff;

/** `strtoul(s, &end, 0)` on a whole string, limited to 32 bits. */
function parseU32(text: string, what: string): number {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) n = parseInt(text.slice(2), 16);
  else if (/^0[0-7]*$/.test(text)) n = parseInt(text, 8);
  else if (/^[1-9][0-9]*$/.test(text)) n = Number(text);
  else fail(`bad ${what} ${JSON.stringify(text)}`);
  if (!(n <= U32)) fail(`${what} ${JSON.stringify(text)} does not fit 32 bits`);
  return n;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function parseDecimal(text: string, what: string, max: number, min = 0): number {
  if (!/^[0-9]+$/.test(text)) fail(`bad ${what} ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) fail(`${what} ${text} out of range ${min}-${max}`);
  return n;
}

function parsePortNumber(text: string): number {
  // iptables refuses "080" (it tries it as a service name).
  if (!/^(0|[1-9][0-9]*)$/.test(text)) fail(`bad port ${JSON.stringify(text)} (only decimal port numbers are supported)`);
  const n = Number(text);
  if (n > 65535) fail(`port ${text} out of range`);
  return n;
}

/** `80`, `80:90`, `80:` (to 65535), `:90` (from 0). */
function parsePortRange(text: string): [number, number] {
  const colon = text.indexOf(':');
  if (colon === -1) {
    const p = parsePortNumber(text);
    return [p, p];
  }
  const lo = colon === 0 ? 0 : parsePortNumber(text.slice(0, colon));
  const hi = colon === text.length - 1 ? 65535 : parsePortNumber(text.slice(colon + 1));
  if (lo > hi) fail(`invalid port range ${JSON.stringify(text)} (min > max)`);
  return [lo, hi];
}

/**
 * The `--probability` iptables-save prints for `text`: the kernel keeps u = lround(p · 2^31)
 * (libxt_statistic) and iptables-save prints u / 2^31 with `%.11f` (glibc: exact value, ties to even).
 */
export function saveProbability(text: string): string {
  if (!/^\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) fail(`bad probability ${JSON.stringify(text)}`);
  const p = Number(text);
  if (!(p >= 0 && p <= 1)) fail(`probability ${text} is not between 0 and 1`);
  const u = BigInt(Math.round(p * 2147483648)); // exact product; Math.round = lround for x ≥ 0
  const num = u * 100000000000n; // 10^11
  const den = 2147483648n;
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  const digits = q.toString().padStart(12, '0');
  return `${digits.slice(0, -11)}.${digits.slice(-11)}`;
}

// ---------------------------------------------------------------- addresses

function parseIPv4(text: string): number | undefined {
  const o = parseIPv4Octets(text, 'inet_pton');
  return o === null ? undefined : ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

const formatIPv4 = (v: number): string => formatOctets([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);

const parseIPv6 = (text: string): number[] | undefined => parseIPv6Groups(text, 'inet_pton') ?? undefined;

interface Net {
  /** Address words: one 32-bit word for IPv4, eight 16-bit words for IPv6. */
  readonly addr: number[];
  readonly mask: number[];
}

function prefixMask(family: IPFamily, len: number): number[] {
  if (family === 'IPv4') return [len === 0 ? 0 : (U32 << (32 - len)) >>> 0];
  return Array.from({ length: 8 }, (_, i) => {
    const bits = Math.max(0, Math.min(16, len - 16 * i));
    return bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
  });
}

function parseAddr(family: IPFamily, text: string): number[] | undefined {
  if (family === 'IPv4') {
    const v = parseIPv4(text);
    return v === undefined ? undefined : [v];
  }
  return parseIPv6(text);
}

function parseNet(family: IPFamily, text: string, what: string): Net {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const addr = parseAddr(family, addrText);
  if (addr === undefined) fail(`bad ${family} address ${JSON.stringify(text)} for ${what}`);
  let mask: number[];
  const bits = family === 'IPv4' ? 32 : 128;
  if (slash === -1) mask = prefixMask(family, bits);
  else {
    const m = text.slice(slash + 1);
    if (/^[0-9]+$/.test(m)) mask = prefixMask(family, parseDecimal(m, 'prefix length', bits));
    else mask = parseAddr(family, m) ?? fail(`bad mask ${JSON.stringify(m)} for ${what}`);
  }
  return { addr: addr.map((w, i) => (w & mask[i]!) >>> 0), mask };
}

function prefixLength(family: IPFamily, mask: readonly number[]): number | undefined {
  const width = family === 'IPv4' ? 32 : 16;
  let len = 0;
  let ended = false;
  for (const w of mask) {
    for (let b = width - 1; b >= 0; b--) {
      const set = ((w >>> b) & 1) === 1;
      if (set && ended) return undefined;
      if (set) len++;
      else ended = true;
    }
  }
  return len;
}

function formatAddr(family: IPFamily, words: readonly number[]): string {
  return family === 'IPv4' ? formatIPv4(words[0]!) : formatIPv6(words, 'inet_ntop');
}

function formatNet(family: IPFamily, net: Net): string {
  const len = prefixLength(family, net.mask);
  return `${formatAddr(family, net.addr)}/${len ?? formatAddr(family, net.mask)}`;
}

// ---------------------------------------------------------------- rule structure

interface Opt {
  readonly name: string;
  readonly neg: boolean;
  readonly value: string | undefined;
}

interface Ext {
  readonly name: string;
  readonly opts: Opt[];
}

interface OptSpec {
  readonly canonical: string;
  readonly takesValue: boolean;
  readonly invertible: boolean;
}

interface ExtSpec {
  readonly options: ReadonlyMap<string, OptSpec>;
  readonly save: (ext: Ext, rule: ParsedRule) => Piece[];
}

interface ParsedRule {
  readonly family: IPFamily;
  proto: string | undefined;
}

function specs(list: readonly (readonly [string[], boolean, boolean])[]): ReadonlyMap<string, OptSpec> {
  const m = new Map<string, OptSpec>();
  for (const [names, takesValue, invertible] of list) for (const n of names) m.set(n, { canonical: names[0]!, takesValue, invertible });
  return m;
}

/** The single occurrence of `name` (iptables refuses most options twice), or undefined. */
function single(ext: Ext, name: string): Opt | undefined {
  const found = ext.opts.filter((o) => o.name === name);
  if (found.length > 1) fail(`${ext.name}: ${name} given twice`);
  return found[0];
}

const neg = (o: Opt | undefined): Piece[] => (o?.neg ? [plain('!')] : []);

function portsSave(ext: Ext, names: readonly string[]): Piece[] {
  const out: Piece[] = [];
  for (const name of names) {
    const o = single(ext, name);
    if (o === undefined) continue;
    const [lo, hi] = parsePortRange(o.value!);
    if (lo === 0 && hi === 65535) {
      if (o.neg) fail(`${ext.name}: ! ${name} 0:65535 prints differently on the nft and legacy backends`);
      continue;
    }
    out.push(...neg(o), plain(name), plain(lo === hi ? `${lo}` : `${lo}:${hi}`));
  }
  return out;
}

const ADDRTYPES = ['UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE', 'UNREACHABLE', 'PROHIBIT', 'THROW', 'NAT', 'XRESOLVE'];
const CTSTATES = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'];

/** A comma list of names, upper-cased, deduplicated and printed in `order`. */
function nameList(ext: Ext, text: string, order: readonly string[]): string {
  const wanted = new Set<string>();
  for (const part of text.split(',')) {
    const n = part.toUpperCase();
    if (!order.includes(n)) fail(`${ext.name}: unknown value ${JSON.stringify(part)}`);
    wanted.add(n);
  }
  return order.filter((n) => wanted.has(n)).join(',');
}

function parseMarkMask(text: string, what: string): [number, number | undefined] {
  const slash = text.indexOf('/');
  if (slash === -1) return [parseU32(text, what), undefined];
  return [parseU32(text.slice(0, slash), what), parseU32(text.slice(slash + 1), `${what} mask`)];
}

const MATCHES: ReadonlyMap<string, ExtSpec> = new Map<string, ExtSpec>([
  [
    'comment',
    {
      options: specs([[['--comment'], true, false]]),
      save(ext) {
        const o = single(ext, '--comment') ?? fail('comment: --comment must be specified');
        if (o.value!.length > 255) fail('comment: longer than 255 characters');
        return [plain('--comment'), quoted(o.value!)];
      },
    },
  ],
  ...(['tcp', 'udp', 'sctp'] as const).map(
    (name): [string, ExtSpec] => [
      name,
      {
        options: specs([
          [['--sport', '--source-port'], true, true],
          [['--dport', '--destination-port'], true, true],
        ]),
        save: (ext) => portsSave(ext, ['--sport', '--dport']),
      },
    ],
  ),
  [
    'addrtype',
    {
      options: specs([
        [['--src-type'], true, true],
        [['--dst-type'], true, true],
        [['--limit-iface-in'], false, false],
        [['--limit-iface-out'], false, false],
      ]),
      save(ext) {
        const out: Piece[] = [];
        for (const name of ['--src-type', '--dst-type']) {
          const o = single(ext, name);
          if (o !== undefined) out.push(...neg(o), plain(name), plain(nameList(ext, o.value!, ADDRTYPES)));
        }
        for (const name of ['--limit-iface-in', '--limit-iface-out']) if (single(ext, name)) out.push(plain(name));
        return out;
      },
    },
  ],
  [
    'conntrack',
    {
      options: specs([[['--ctstate'], true, true]]),
      save(ext) {
        const o = single(ext, '--ctstate');
        return o === undefined ? [] : [...neg(o), plain('--ctstate'), plain(nameList(ext, o.value!, CTSTATES))];
      },
    },
  ],
  [
    'mark',
    {
      options: specs([[['--mark'], true, true]]),
      save(ext) {
        const o = single(ext, '--mark') ?? fail('mark: --mark must be specified');
        const [mark, mask = U32] = parseMarkMask(o.value!, 'mark');
        return [...neg(o), plain('--mark'), plain(mask === U32 ? hex(mark) : `${hex(mark)}/${hex(mask)}`)];
      },
    },
  ],
  [
    'recent',
    {
      options: specs([
        [['--set'], false, true],
        [['--rcheck'], false, true],
        [['--update'], false, true],
        [['--remove'], false, true],
        [['--seconds'], true, false],
        [['--reap'], false, false],
        [['--hitcount'], true, false],
        [['--rttl'], false, false],
        [['--name'], true, false],
        [['--rsource'], false, false],
        [['--rdest'], false, false],
        [['--mask'], true, false],
      ]),
      save(ext, rule) {
        const ops = ext.opts.filter((o) => ['--set', '--rcheck', '--update', '--remove'].includes(o.name));
        if (ops.length !== 1) fail('recent: exactly one of --set, --rcheck, --update, --remove is needed');
        const op = ops[0]!;
        const out: Piece[] = [...neg(op), plain(op.name)];
        const seconds = single(ext, '--seconds');
        if (seconds !== undefined) {
          const s = parseDecimal(seconds.value!, 'recent --seconds', U32, 1);
          out.push(plain('--seconds'), plain(`${s}`));
        }
        if (single(ext, '--reap')) {
          if (seconds === undefined) fail('recent: --reap needs --seconds');
          out.push(plain('--reap'));
        }
        const hit = single(ext, '--hitcount');
        if (hit !== undefined) {
          const h = parseDecimal(hit.value!, 'recent --hitcount', U32);
          if (h !== 0) out.push(plain('--hitcount'), plain(`${h}`));
        }
        if (single(ext, '--rttl')) {
          if (op.name === '--set' || op.name === '--remove') fail('recent: --rttl cannot go with --set or --remove');
          out.push(plain('--rttl'));
        }
        const name = single(ext, '--name')?.value ?? 'DEFAULT';
        if (name.length === 0 || name.length > 199) fail('recent: bad --name');
        out.push(plain('--name'), plain(name));
        const maskText = single(ext, '--mask')?.value;
        const mask = maskText === undefined ? prefixMask(rule.family, rule.family === 'IPv4' ? 32 : 128) : parseAddr(rule.family, maskText);
        if (mask === undefined) fail(`recent: bad --mask ${JSON.stringify(maskText)}`);
        out.push(plain('--mask'), plain(formatAddr(rule.family, mask)));
        const side = ext.opts.filter((o) => o.name === '--rsource' || o.name === '--rdest').pop();
        out.push(plain(side?.name ?? '--rsource'));
        return out;
      },
    },
  ],
  [
    'statistic',
    {
      options: specs([
        [['--mode'], true, false],
        [['--probability'], true, true],
        [['--every'], true, true],
        [['--packet'], true, false],
      ]),
      save(ext) {
        const mode = single(ext, '--mode')?.value ?? fail('statistic: --mode must be specified');
        const prob = single(ext, '--probability');
        const every = single(ext, '--every');
        const packet = single(ext, '--packet');
        if (mode === 'random') {
          if (prob === undefined || every !== undefined || packet !== undefined) fail('statistic: random mode takes --probability only');
          return [plain('--mode'), plain('random'), ...neg(prob), plain('--probability'), plain(saveProbability(prob.value!))];
        }
        if (mode === 'nth') {
          if (prob !== undefined || every === undefined) fail('statistic: nth mode takes --every [--packet]');
          const n = parseDecimal(every.value!, 'statistic --every', U32, 1);
          const p = packet === undefined ? 0 : parseDecimal(packet.value!, 'statistic --packet', n - 1);
          return [plain('--mode'), plain('nth'), ...neg(every), plain('--every'), plain(`${n}`), ...(p === 0 ? [] : [plain('--packet'), plain(`${p}`)])];
        }
        return fail(`statistic: bad mode ${JSON.stringify(mode)}`);
      },
    },
  ],
  [
    'nfacct',
    {
      options: specs([[['--nfacct-name'], true, false]]),
      save(ext) {
        const o = single(ext, '--nfacct-name') ?? fail('nfacct: --nfacct-name must be specified');
        if (o.value!.length > 31) fail('nfacct: name longer than 31 characters');
        // libxt_nfacct prints " --nfacct-name " and xtables_save_string adds its own space.
        return [plain('--nfacct-name'), quoted(o.value!, '  ')];
      },
    },
  ],
]);

const REJECT_V4: Readonly<Record<string, string>> = {
  'icmp-net-unreachable': 'icmp-net-unreachable', 'net-unreach': 'icmp-net-unreachable',
  'icmp-host-unreachable': 'icmp-host-unreachable', 'host-unreach': 'icmp-host-unreachable',
  'icmp-port-unreachable': 'icmp-port-unreachable', 'port-unreach': 'icmp-port-unreachable',
  'icmp-proto-unreachable': 'icmp-proto-unreachable', 'proto-unreach': 'icmp-proto-unreachable',
  'icmp-net-prohibited': 'icmp-net-prohibited', 'net-prohib': 'icmp-net-prohibited',
  'icmp-host-prohibited': 'icmp-host-prohibited', 'host-prohib': 'icmp-host-prohibited',
  'icmp-admin-prohibited': 'icmp-admin-prohibited', 'admin-prohib': 'icmp-admin-prohibited',
  'tcp-reset': 'tcp-reset', 'tcp-rst': 'tcp-reset',
};
const REJECT_V6: Readonly<Record<string, string>> = {
  'icmp6-no-route': 'icmp6-no-route', 'no-route': 'icmp6-no-route',
  'icmp6-adm-prohibited': 'icmp6-adm-prohibited', 'adm-prohibited': 'icmp6-adm-prohibited',
  'icmp6-addr-unreachable': 'icmp6-addr-unreachable', 'addr-unreach': 'icmp6-addr-unreachable',
  'icmp6-port-unreachable': 'icmp6-port-unreachable', 'port-unreach': 'icmp6-port-unreachable',
  'icmp6-policy-fail': 'icmp6-policy-fail', 'policy-fail': 'icmp6-policy-fail',
  'icmp6-reject-route': 'icmp6-reject-route', 'reject-route': 'icmp6-reject-route',
  'tcp-reset': 'tcp-reset',
};

const PORT_PROTOCOLS: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp', 'dccp']);

/** `ip[-ip][:port[-port]]`, IPv6 in brackets when a port follows. */
function natRange(value: string, rule: ParsedRule, target: string): string {
  let addrPart = value;
  let portPart: string | undefined;
  if (rule.family === 'IPv6') {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
    if (m) {
      addrPart = m[1]!;
      portPart = m[2];
    } else if (value.includes('[') || value.includes(']')) fail(`${target}: bad range ${JSON.stringify(value)}`);
  } else {
    const colon = value.indexOf(':');
    if (colon !== -1) {
      addrPart = value.slice(0, colon);
      portPart = value.slice(colon + 1);
    }
  }
  if (addrPart === '') fail(`${target}: a range without an address is not supported`);
  const addrs = addrPart.split('-');
  if (addrs.length > 2) fail(`${target}: bad address range ${JSON.stringify(addrPart)}`);
  const printed = addrs.map((a) => formatAddr(rule.family, parseAddr(rule.family, a) ?? fail(`${target}: bad address ${JSON.stringify(a)}`)));
  let text = printed.length === 2 && printed[0] !== printed[1] ? `${printed[0]}-${printed[1]}` : printed[0]!;
  if (portPart !== undefined) {
    if (rule.proto === undefined || !PORT_PROTOCOLS.has(rule.proto)) fail(`${target}: a port needs -p tcp, udp, sctp or dccp`);
    const ports = portPart.split('-');
    if (ports.length > 2) fail(`${target}: bad port range ${JSON.stringify(portPart)}`);
    const [lo, hi = lo] = ports.map(parsePortNumber) as [number, number?];
    if (hi! < lo) fail(`${target}: bad port range ${JSON.stringify(portPart)}`);
    const portText = lo === hi ? `${lo}` : `${lo}-${hi}`;
    text = rule.family === 'IPv6' ? `[${text}]:${portText}` : `${text}:${portText}`;
  }
  return text;
}

function natTarget(option: string, flags: readonly string[]): ExtSpec {
  return {
    options: specs([[[option], true, false], ...flags.map((f): [string[], boolean, boolean] => [[f], false, false])]),
    save(ext, rule) {
      const to = single(ext, option) ?? fail(`${ext.name}: ${option} must be specified`);
      return [plain(option), plain(natRange(to.value!, rule, ext.name)), ...flags.filter((f) => single(ext, f)).map(plain)];
    },
  };
}

const TARGETS: ReadonlyMap<string, ExtSpec> = new Map<string, ExtSpec>([
  [
    'REJECT',
    {
      options: specs([[['--reject-with'], true, false]]),
      save(ext, rule) {
        const table = rule.family === 'IPv4' ? REJECT_V4 : REJECT_V6;
        const given = single(ext, '--reject-with')?.value;
        const type = given === undefined ? (rule.family === 'IPv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable') : table[given];
        if (type === undefined) fail(`REJECT: unknown reject type ${JSON.stringify(given)}`);
        return [plain('--reject-with'), plain(type)];
      },
    },
  ],
  [
    'MARK',
    {
      options: specs([
        [['--set-xmark'], true, false],
        [['--set-mark'], true, false],
        [['--and-mark'], true, false],
        [['--or-mark'], true, false],
        [['--xor-mark'], true, false],
      ]),
      save(ext) {
        if (ext.opts.length !== 1) fail('MARK: exactly one of --set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark is needed');
        const o = ext.opts[0]!;
        let mark: number;
        let mask: number;
        if (o.name === '--set-xmark' || o.name === '--set-mark') {
          const [v, m = U32] = parseMarkMask(o.value!, 'MARK value');
          mark = v;
          mask = o.name === '--set-mark' ? (m | v) >>> 0 : m;
        } else {
          const v = parseU32(o.value!, 'MARK value');
          if (o.name === '--and-mark') [mark, mask] = [0, ~v >>> 0];
          else if (o.name === '--or-mark') [mark, mask] = [v, v];
          else [mark, mask] = [v, 0];
        }
        return [plain('--set-xmark'), plain(`${hex(mark)}/${hex(mask)}`)];
      },
    },
  ],
  [
    'MASQUERADE',
    {
      options: specs([
        [['--to-ports'], true, false],
        [['--random'], false, false],
        [['--random-fully'], false, false],
      ]),
      save(ext, rule) {
        const out: Piece[] = [];
        const ports = single(ext, '--to-ports');
        if (ports !== undefined) {
          if (rule.proto === undefined || !PORT_PROTOCOLS.has(rule.proto)) fail('MASQUERADE: --to-ports needs -p tcp, udp, sctp or dccp');
          const [lo, hi = lo] = ports.value!.split('-').map(parsePortNumber) as [number, number?];
          out.push(plain('--to-ports'), plain(lo === hi ? `${lo}` : `${lo}-${hi}`));
        }
        for (const f of ['--random', '--random-fully']) if (single(ext, f)) out.push(plain(f));
        return out;
      },
    },
  ],
  ['DNAT', natTarget('--to-destination', ['--random', '--persistent'])],
  ['SNAT', natTarget('--to-source', ['--random', '--random-fully', '--persistent'])],
]);

const PLAIN_TARGETS: ReadonlySet<string> = new Set(['ACCEPT', 'DROP', 'RETURN', 'QUEUE']);

const PROTOCOLS: Readonly<Record<IPFamily, Readonly<Record<string, string>>>> = {
  IPv4: { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', sctp: 'sctp', '132': 'sctp', icmp: 'icmp', '1': 'icmp', all: '', '0': '' },
  IPv6: { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', sctp: 'sctp', '132': 'sctp', icmpv6: 'ipv6-icmp', 'ipv6-icmp': 'ipv6-icmp', '58': 'ipv6-icmp', all: '', '0': '' },
};

interface Global {
  readonly neg: boolean;
  readonly value: string;
}

function parseRule(args: readonly string[], family: IPFamily) {
  const globals = new Map<string, Global>();
  const matches: Ext[] = [];
  let target: { kind: '-j' | '-g'; ext: Ext } | undefined;
  const rule: ParsedRule = { family, proto: undefined };
  let negate = false;
  const value = (i: number): string => args[i + 1] ?? fail(`${args[i]} needs a value`);
  const GLOBAL: Readonly<Record<string, string>> = {
    '-s': '-s', '--source': '-s', '--src': '-s', '-d': '-d', '--destination': '-d', '--dst': '-d',
    '-i': '-i', '--in-interface': '-i', '-o': '-o', '--out-interface': '-o', '-p': '-p', '--protocol': '-p',
  };

  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w === '!') {
      if (negate) fail('double !');
      negate = true;
      continue;
    }
    const g = GLOBAL[w];
    if (g !== undefined) {
      if (globals.has(g)) fail(`${g} given twice`);
      const v = value(i++);
      globals.set(g, { neg: negate, value: v });
      if (g === '-p') {
        const p = PROTOCOLS[family][v.toLowerCase()];
        if (p === undefined) fail(`unsupported protocol ${JSON.stringify(v)}`);
        rule.proto = p === '' ? undefined : p;
      }
      negate = false;
      continue;
    }
    if (w === '-m' || w === '--match') {
      if (negate) fail('! before -m');
      const name = value(i++);
      if (!MATCHES.has(name)) fail(`unsupported match -m ${name}`);
      matches.push({ name, opts: [] });
      continue;
    }
    if (w === '-j' || w === '--jump' || w === '-g' || w === '--goto') {
      if (negate) fail(`! before ${w}`);
      if (target !== undefined) fail('more than one -j/-g');
      const name = value(i++);
      const kind = w === '-g' || w === '--goto' ? '-g' : '-j';
      if (kind === '-j' && BUILTIN_TARGETS.has(name) && !PLAIN_TARGETS.has(name) && !TARGETS.has(name)) {
        fail(`unsupported target -j ${name}`);
      }
      if (kind === '-g' && BUILTIN_TARGETS.has(name)) fail(`-g ${name}: goto needs a chain`);
      target = { kind, ext: { name, opts: [] } };
      continue;
    }
    if (!w.startsWith('--')) fail(`unexpected word ${JSON.stringify(w)}`);
    // The most recently loaded extension that knows the option takes it (getopt's merged table).
    const owners: Ext[] = [...matches];
    if (target?.kind === '-j' && TARGETS.has(target.ext.name)) owners.push(target.ext);
    let owner: Ext | undefined;
    let spec: OptSpec | undefined;
    for (let k = owners.length - 1; k >= 0 && owner === undefined; k--) {
      const o = owners[k]!;
      const s = (MATCHES.get(o.name) ?? (o === target?.ext ? TARGETS.get(o.name) : undefined))?.options.get(w);
      if (s !== undefined) [owner, spec] = [o, s];
    }
    if (owner === undefined && rule.proto !== undefined && MATCHES.has(rule.proto)) {
      const s = MATCHES.get(rule.proto)!.options.get(w);
      if (s !== undefined) {
        owner = { name: rule.proto, opts: [] };
        matches.push(owner);
        spec = s;
      }
    }
    if (owner === undefined || spec === undefined) fail(`unknown option ${w}`);
    if (negate && !spec.invertible) fail(`${w} cannot be negated`);
    owner.opts.push({ name: spec.canonical, neg: negate, value: spec.takesValue ? value(i++) : undefined });
    negate = false;
  }
  if (negate) fail('trailing !');
  return { globals, matches, target, rule };
}

function savePieces(args: readonly string[], family: IPFamily): Piece[] {
  const { globals, matches, target, rule } = parseRule(args, family);
  const out: Piece[] = [];
  for (const g of ['-s', '-d'] as const) {
    const v = globals.get(g);
    if (v === undefined) continue;
    const net = parseNet(family, v.value, g);
    if (prefixLength(family, net.mask) === 0) {
      if (v.neg) fail(`! ${g} with a /0 network is refused by the nft backend`);
      continue;
    }
    out.push(...(v.neg ? [plain('!')] : []), plain(g), plain(formatNet(family, net)));
  }
  for (const g of ['-i', '-o'] as const) {
    const v = globals.get(g);
    if (v === undefined) continue;
    if (v.value.length === 0 || v.value.length > 15 || !/^[\x21-\x7e]+$/.test(v.value)) fail(`bad interface name ${JSON.stringify(v.value)}`);
    out.push(...(v.neg ? [plain('!')] : []), plain(g), plain(v.value));
  }
  const p = globals.get('-p');
  if (p !== undefined && rule.proto !== undefined) out.push(...(p.neg ? [plain('!')] : []), plain('-p'), plain(rule.proto));
  else if (p?.neg) fail('! -p all matches nothing');
  for (const m of matches) {
    if ((m.name === 'tcp' || m.name === 'udp' || m.name === 'sctp') && (rule.proto !== m.name || p?.neg)) {
      fail(`-m ${m.name} needs -p ${m.name}`);
    }
    out.push(plain('-m'), plain(m.name), ...MATCHES.get(m.name)!.save(m, rule));
  }
  if (target !== undefined) {
    out.push(plain(target.kind), plain(target.ext.name));
    const spec = target.kind === '-j' ? TARGETS.get(target.ext.name) : undefined;
    if (spec !== undefined) out.push(...spec.save(target.ext, rule));
  }
  return out;
}

/** The rule's words as iptables-save prints them back (after its `-A CHAIN`). Throws SaveFormError for shapes it does not know. */
export function toSaveForm(args: readonly string[], family: IPFamily): string[] {
  return savePieces(args, family).map((p) => p.word);
}

/** The whole `-A CHAIN ...` line exactly as iptables-save prints it, spacing and quoting included. */
export function toSaveLine(chain: string, args: readonly string[], family: IPFamily): string {
  let line = `-A ${chain}`;
  for (const p of savePieces(args, family)) line += p.text;
  return line;
}
