/**
 * Values the walk compares: what a selector yields for the packet (`Value`), how nft literals
 * (addresses, prefixes, ranges, ports by number or name, protocol names or numbers, flag lists,
 * interface names with a `*` wildcard) compare with it, and the small conversions the statements
 * need (bit operations, reject types, NAT targets).
 */
import type { NftTraceGiven } from './result.js';
import { intervalHas, parseIp, parseIpInterval, type Ip } from './ip.js';
import { parseNumber, type Selector } from './rule.js';

export const PROTO_NUMBER: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmpv6: 58, udplite: 136, dccp: 33, esp: 50, ah: 51, gre: 47 };
export const SERVICES: Record<string, number> = { ssh: 22, http: 80, https: 443, domain: 53, ntp: 123, bootps: 67, bootpc: 68, 'http-alt': 8080, kerberos: 88, ldap: 389, smtp: 25, telnet: 23, ftp: 21 };

/** A selector's value for this packet at this point of the walk. */
export type Value =
  | { readonly kind: 'ip'; readonly ip: Ip }
  | { readonly kind: 'num'; readonly n: number }
  | { readonly kind: 'str'; readonly s: string }
  | { readonly kind: 'flags'; readonly set: readonly string[]; readonly exact?: boolean }
  | { readonly kind: 'absent' }
  | { readonly kind: 'ask'; readonly code: NftTraceGiven['code']; readonly key: string; readonly what: string }
  | { readonly kind: 'unmodelled'; readonly why: string };

export function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

export function applyOps(n: number, ops: Selector['ops']): number {
  let v = n >>> 0;
  for (const o of ops) v = (o.op === 'and' ? v & o.operand : o.op === 'or' ? v | o.operand : v ^ o.operand) >>> 0;
  return v;
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** The iptables reject type (trace-reject.ts's names) that nft's `reject [with …]` sends. */
export function rejectName(w: string | null, family: 4 | 6): string | null {
  if (w === null) return null;
  if (w === 'tcp reset') return 'tcp-reset';
  const [kind, code] = w.split(' ') as [string, string];
  const v4: Record<string, string> = {
    'port-unreachable': 'icmp-port-unreachable',
    'host-unreachable': 'icmp-host-unreachable',
    'net-unreachable': 'icmp-net-unreachable',
    'prot-unreachable': 'icmp-proto-unreachable',
    'net-prohibited': 'icmp-net-prohibited',
    'host-prohibited': 'icmp-host-prohibited',
    'admin-prohibited': 'icmp-admin-prohibited',
  };
  const v6: Record<string, string> = {
    'no-route': 'icmp6-no-route',
    'admin-prohibited': 'icmp6-adm-prohibited',
    'addr-unreachable': 'icmp6-addr-unreachable',
    'port-unreachable': 'icmp6-port-unreachable',
    'policy-fail': 'icmp6-policy-fail',
    'reject-route': 'icmp6-reject-route',
  };
  if (kind === 'icmp') return v4[code] ?? `icmp-${code}`;
  if (kind === 'icmpv6') return v6[code] ?? `icmp6-${code}`;
  // icmpx: the family's code of the same meaning (nf_reject_inet icmpx table).
  const x4: Record<string, string> = { 'port-unreachable': 'icmp-port-unreachable', 'admin-prohibited': 'icmp-admin-prohibited', 'no-route': 'icmp-net-unreachable', 'host-unreachable': 'icmp-host-unreachable' };
  const x6: Record<string, string> = { 'port-unreachable': 'icmp6-port-unreachable', 'admin-prohibited': 'icmp6-adm-prohibited', 'no-route': 'icmp6-no-route', 'host-unreachable': 'icmp6-addr-unreachable' };
  return (family === 4 ? x4 : x6)[code] ?? null;
}

/** `10.0.0.1:80`, `[fd00::1]:80`, `10.0.0.1`: the address and port a dnat/snat writes. */
export function parseNatTarget(to: string): { ip: Ip; port: number | null } | null {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(to);
  if (v6) {
    const ip = parseIp(v6[1]!);
    return ip ? { ip, port: v6[2] === undefined ? null : Number(v6[2]) } : null;
  }
  const m = /^([0-9.]+)(?::(\d+))?$/.exec(to);
  if (m) {
    const ip = parseIp(m[1]!);
    return ip ? { ip, port: m[2] === undefined ? null : Number(m[2]) } : null;
  }
  const ip = parseIp(to);
  return ip ? { ip, port: null } : null;
}

/** Whether `v` equals (or lies in) the literal `part` (an address, prefix, range, number, name). */
export function literalMatches(v: Value, part: string, sel: Selector): boolean | null {
  const p = unquote(part);
  switch (v.kind) {
    case 'ip': {
      const i = parseIpInterval(p);
      return i === null ? null : intervalHas(i, v.ip);
    }
    case 'num': {
      const range = /^(\S+)-(\S+)$/.exec(p);
      const num = (t: string) => parseNumber(t) ?? (sel.key.endsWith('port') ? (SERVICES[t] ?? null) : null);
      if (range) {
        const lo = num(range[1]!);
        const hi = num(range[2]!);
        return lo === null || hi === null ? null : v.n >= lo && v.n <= hi;
      }
      const n = num(p);
      return n === null ? null : v.n === n;
    }
    case 'str': {
      if (sel.key === 'meta l4proto' || sel.key === 'ip protocol' || sel.key === 'ip6 nexthdr' || sel.key === 'ct protocol') {
        const n = parseNumber(p);
        return n !== null ? PROTO_NUMBER[v.s] === n : p === v.s;
      }
      if (p.endsWith('*')) return v.s.startsWith(p.slice(0, -1));
      return p === v.s;
    }
    case 'flags': {
      // `syn / fin,syn,rst,ack` and masked forms compare the whole (masked) value; a bare list means any of them.
      const masked = p.includes('/') || v.exact === true;
      const want = p.split('/')[0]!.split(/[,|]/).filter((f) => f !== '');
      return masked ? want.length === v.set.length && want.every((f) => v.set.includes(f)) : want.some((f) => v.set.includes(f));
    }
    default:
      return null;
  }
}

/** Whether a (concatenated) key's values match an element's parts, part by part. */
export function keyMatches(values: readonly Value[], parts: readonly string[], sels: readonly Selector[]): boolean | null {
  if (parts.length !== values.length) return null;
  for (let i = 0; i < parts.length; i++) {
    const r = literalMatches(values[i]!, parts[i]!, sels[i]!);
    if (r !== true) return r;
  }
  return true;
}
