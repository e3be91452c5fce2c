/**
 * Addresses as the tracer compares them: an IP is a bigint (32 or 128 bits) with its family, a
 * network is an address and a mask. Parsing accepts what iptables-restore accepts and iptables-save
 * prints (`10.0.0.0/8`, `10.180.0.1`, `10.180.0.1/32`, `10.0.0.0/255.0.0.0`, IPv6 in both forms);
 * the text itself is read and printed by @svcrules/netaddr.
 */

import { formatIPv4, formatIPv6, parseIPv4Octets, parseIPv6Groups, type IPFamily } from '@svcrules/netaddr';

export interface Address {
  readonly family: IPFamily;
  readonly value: bigint;
}

export interface Network {
  readonly family: IPFamily;
  /** The network address (host bits cleared). */
  readonly value: bigint;
  readonly mask: bigint;
}

const WIDTH: Record<IPFamily, bigint> = { IPv4: 32n, IPv6: 128n };

function allOnes(family: IPFamily): bigint {
  return (1n << WIDTH[family]) - 1n;
}

function parseV4(text: string): bigint | null {
  const o = parseIPv4Octets(text, 'iptables');
  return o === null ? null : BigInt(((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0);
}

function parseV6(text: string): bigint | null {
  const groups = parseIPv6Groups(text, 'iptables');
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
  if (a.family === 'IPv4') return formatIPv4([24n, 16n, 8n, 0n].map((sh) => Number((a.value >> sh) & 0xffn)));
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((a.value >> BigInt(16 * i)) & 0xffffn));
  return formatIPv6(g, 'go');
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
