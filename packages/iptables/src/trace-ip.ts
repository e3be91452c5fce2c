/**
 * Addresses as the tracer compares them: an IP is a bigint (32 or 128 bits) with its family, a
 * network is an address and a mask. Parsing accepts what iptables-restore accepts and iptables-save
 * prints (`10.0.0.0/8`, `10.180.0.1`, `10.180.0.1/32`, `10.0.0.0/255.0.0.0`, IPv6 in both forms).
 * `@svcrules/iptables` does not depend on `@svcrules/core`, so this is its own small parser (the IPv6
 * group syntax is shared with core's, in ipv6-text.ts).
 */

import { ipv6Groups } from './ipv6-text.js';

export type Family = 'IPv4' | 'IPv6';

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

export interface Network {
  readonly family: Family;
  /** The network address (host bits cleared). */
  readonly value: bigint;
  readonly mask: bigint;
}

const WIDTH: Record<Family, bigint> = { IPv4: 32n, IPv6: 128n };

function allOnes(family: Family): bigint {
  return (1n << WIDTH[family]) - 1n;
}

function parseV4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(text: string): bigint | null {
  const groups = ipv6Groups(text, (tail) => {
    const v = parseV4(tail);
    return v === null ? null : [Number((v >> 24n) & 255n), Number((v >> 16n) & 255n), Number((v >> 8n) & 255n), Number(v & 255n)];
  });
  if (!groups) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** Parses a literal IP (no mask, no brackets); null when it is not one. */
export function parseAddress(text: string): Address | null {
  if (text.includes(':')) {
    const v = parseV6(text);
    return v === null ? null : { family: 'IPv6', value: v };
  }
  const v = parseV4(text);
  return v === null ? null : { family: 'IPv4', value: v };
}

/** Parses `ip`, `ip/len` or `ip/dotted-mask` as iptables does; null when it is not one. */
export function parseNetwork(text: string): Network | null {
  const slash = text.indexOf('/');
  const ip = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  const ones = allOnes(ip.family);
  let mask = ones;
  if (slash >= 0) {
    const m = text.slice(slash + 1);
    if (/^[0-9]{1,3}$/.test(m)) {
      const len = BigInt(Number(m));
      if (len > WIDTH[ip.family]) return null;
      mask = len === 0n ? 0n : (ones << (WIDTH[ip.family] - len)) & ones;
    } else {
      const dotted = parseAddress(m);
      if (!dotted || dotted.family !== ip.family) return null;
      mask = dotted.value;
    }
  }
  return { family: ip.family, value: ip.value & mask, mask };
}

export function networkContains(net: Network, ip: Address): boolean {
  return net.family === ip.family && (ip.value & net.mask) === net.value;
}

export function formatAddress(a: Address): string {
  if (a.family === 'IPv4') {
    const v = a.value;
    return [24n, 16n, 8n, 0n].map((s) => String(Number((v >> s) & 0xffn))).join('.');
  }
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((a.value >> BigInt(16 * i)) & 0xffffn));
  // RFC 5952: the longest run (>= 2) of zero groups, leftmost on a tie, becomes `::`.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** `ip:port`, IPv6 in brackets (as `--to-destination` and kube-proxy's comments write it). */
export function formatEndpoint(a: Address, port: number): string {
  const ip = formatAddress(a);
  return a.family === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function isLoopback(a: Address): boolean {
  return a.family === 'IPv4' ? a.value >> 24n === 127n : a.value === 1n;
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.family === b.family && a.value === b.value;
}
