import { formatIPv4, formatIPv6, parseIPv4Octets, parseIPv6Groups, type IPFamily } from './text.js';

/**
 * IP parsing and printing as kube-proxy does it: `ParseIPSloppy` (Go's pre-1.17 net.ParseIP, which
 * reads `172.30.0.041` as 172.30.0.41) and `net.IP.String()` (RFC 5952; IPv4-mapped IPv6 prints as IPv4).
 */
export interface ParsedIP {
  readonly family: IPFamily;
  /** 4 bytes for IPv4 (including IPv4-mapped input), 16 for IPv6. */
  readonly bytes: Uint8Array;
}

export interface ParsedCIDR {
  readonly family: IPFamily;
  /** The network address (host bits cleared). */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

function parseIPv4Bytes(s: string): Uint8Array | null {
  const o = parseIPv4Octets(s, 'go-sloppy');
  return o ? Uint8Array.from(o) : null;
}

function parseIPv6Bytes(s: string): Uint8Array | null {
  const groups = parseIPv6Groups(s, 'go-sloppy');
  if (!groups) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Go's ParseIPSloppy: null when the text is not an IP. */
export function parseIP(text: string): ParsedIP | null {
  if (text.includes(':')) {
    const b = parseIPv6Bytes(text);
    if (!b) return null;
    if (isV4Mapped(b)) return { family: 'IPv4', bytes: b.slice(12) };
    return { family: 'IPv6', bytes: b };
  }
  const b = parseIPv4Bytes(text);
  return b ? { family: 'IPv4', bytes: b } : null;
}

/** Go's net.IP.String(). */
export function formatIP(ip: ParsedIP | Uint8Array): string {
  const b = ip instanceof Uint8Array ? ip : ip.bytes;
  if (b.length === 4) return formatIPv4(b);
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  return formatIPv6(g, 'go');
}

/** Canonical text of an IP, or null when it does not parse. */
export function canonicalIP(text: string): string | null {
  const ip = parseIP(text);
  return ip ? formatIP(ip) : null;
}

export function ipFamilyOf(text: string): IPFamily | null {
  return parseIP(text)?.family ?? null;
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** Go's ParseCIDRSloppy, masked to the network address as `(*net.IPNet).String()` prints it. */
export function parseCIDR(text: string): ParsedCIDR | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIP(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(p)) return null;
  // An IPv4-mapped address with an IPv6 prefix length is IPv6-sized in Go; keep it simple and exact
  // for the forms Kubernetes accepts: the prefix is measured in the family's own width.
  const prefix = Number(p);
  const width = ip.bytes.length * 8;
  if (prefix > width) return null;
  return { family: ip.family, bytes: maskBytes(ip.bytes, prefix), prefix };
}

export function formatCIDR(c: ParsedCIDR): string {
  return `${formatIP(c.bytes)}/${c.prefix}`;
}

export function canonicalCIDR(text: string): string | null {
  const c = parseCIDR(text);
  return c ? formatCIDR(c) : null;
}

export function cidrContains(cidr: ParsedCIDR, ip: ParsedIP): boolean {
  if (cidr.family !== ip.family) return false;
  const masked = maskBytes(ip.bytes, cidr.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== cidr.bytes[i]) return false;
  return true;
}

export function isLoopback(ip: ParsedIP): boolean {
  if (ip.family === 'IPv4') return ip.bytes[0] === 127;
  return ip.bytes.every((b, i) => (i === 15 ? b === 1 : b === 0));
}

export function isUnspecified(ip: ParsedIP): boolean {
  return ip.bytes.every((b) => b === 0);
}

export function isLinkLocal(ip: ParsedIP): boolean {
  if (ip.family === 'IPv4') return ip.bytes[0] === 169 && ip.bytes[1] === 254;
  return ip.bytes[0] === 0xfe && (ip.bytes[1]! & 0xc0) === 0x80;
}

export function isMulticast(ip: ParsedIP): boolean {
  if (ip.family === 'IPv4') return (ip.bytes[0]! & 0xf0) === 0xe0;
  return ip.bytes[0] === 0xff;
}

/** `net.JoinHostPort`: IPv6 in brackets. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
