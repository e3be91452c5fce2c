/**
 * Addresses as nft prints them: an IPv4/IPv6 address, a prefix (`10.0.0.0/8`) or a range
 * (`10.0.0.1-10.0.0.9`), all as closed intervals of bigints so set and map keys compare exactly.
 */

import { formatIPv4, formatIPv6, parseIPv4Octets, parseIPv6Groups } from '@svcrules/netaddr';

export type IpFamily = 4 | 6;

export interface Ip {
  readonly family: IpFamily;
  readonly value: bigint;
}

export interface IpInterval {
  readonly family: IpFamily;
  readonly lo: bigint;
  readonly hi: bigint;
}

/** The address text read by the one codec (@svcrules/netaddr, inet_pton's syntax), as one integer. */
function parseV4(text: string): bigint | null {
  const octets = parseIPv4Octets(text, 'inet_pton');
  return octets === null ? null : octets.reduce((v, o) => (v << 8n) | BigInt(o), 0n);
}

function parseV6(text: string): bigint | null {
  const groups = parseIPv6Groups(text, 'inet_pton');
  return groups === null ? null : groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
}

export function parseIp(text: string): Ip | null {
  const v4 = parseV4(text);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseV6(text);
  return v6 === null ? null : { family: 6, value: v6 };
}

const bits = (f: IpFamily): bigint => (f === 4 ? 32n : 128n);

/** An address, `addr/len` or `lo-hi`; null when `text` is none of these. */
export function parseIpInterval(text: string): IpInterval | null {
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const ip = parseIp(text.slice(0, slash));
    const lenText = text.slice(slash + 1);
    if (!ip || !/^\d{1,3}$/.test(lenText)) return null;
    const len = BigInt(lenText);
    const width = bits(ip.family);
    if (len > width) return null;
    const host = (1n << (width - len)) - 1n;
    return { family: ip.family, lo: ip.value & ~host, hi: (ip.value & ~host) | host };
  }
  const dash = text.indexOf('-');
  if (dash > 0) {
    const lo = parseIp(text.slice(0, dash));
    const hi = parseIp(text.slice(dash + 1));
    if (!lo || !hi || lo.family !== hi.family || lo.value > hi.value) return null;
    return { family: lo.family, lo: lo.value, hi: hi.value };
  }
  const ip = parseIp(text);
  return ip ? { family: ip.family, lo: ip.value, hi: ip.value } : null;
}

export function intervalHas(i: IpInterval, ip: Ip): boolean {
  return i.family === ip.family && ip.value >= i.lo && ip.value <= i.hi;
}

export function sameIp(a: Ip, b: Ip): boolean {
  return a.family === b.family && a.value === b.value;
}

/** As Go and RFC 5952 print it: the longest run of two or more zero groups (leftmost on a tie) as `::`. */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) return formatIPv4([24n, 16n, 8n, 0n].map((sh) => Number((ip.value >> sh) & 255n)));
  const groups: number[] = [];
  for (let sh = 112n; sh >= 0n; sh -= 16n) groups.push(Number((ip.value >> sh) & 0xffffn));
  return formatIPv6(groups, 'go');
}

export function formatEndpoint(ip: Ip, port: number): string {
  return ip.family === 4 ? `${formatIp(ip)}:${port}` : `[${formatIp(ip)}]:${port}`;
}

export function isLoopback(ip: Ip): boolean {
  return ip.family === 4 ? ip.value >> 24n === 127n : ip.value === 1n;
}

export function isMulticast(ip: Ip): boolean {
  return ip.family === 4 ? ip.value >> 28n === 0xen : ip.value >> 120n === 0xffn;
}
