import * as z from 'zod';
import { formatCIDR, formatIP, isLinkLocal, isLoopback, isMulticast, isUnspecified, parseCIDR, parseIP } from '@svcrules/core';
import type { IPFamily, Protocol } from '@svcrules/core';
import type { DiagnosticCode } from '../codes.js';
import { EXPECT, isDNS1123Label, show } from '../words.js';

/**
 * Leaf validators shared by the per-kind schemas. Each leaf is a zod transform over `unknown` that
 * either yields the canonical value or adds one issue carrying our stable code (in `params.code`)
 * and a message "expected X, got Y". Structure (mappings, lists) uses plain z.object / z.array.
 */

export type Check<T> = { ok: true; value: T } | { ok: false; code: DiagnosticCode; expected: string };

export const ok = <T>(value: T): Check<T> => ({ ok: true, value });
export const fail = (code: DiagnosticCode, expected: string): Check<never> => ({ ok: false, code, expected });

export const message = (expected: string, got: unknown): string =>
  got === undefined ? `required field is missing (expected ${expected})` : `expected ${expected}, got ${show(got)}`;

/** A zod leaf from a check; `undefined` input is a missing required field unless wrapped in `.optional()`. */
export function leaf<T>(check: (v: unknown) => Check<T>, expected: string): z.ZodType<T, unknown> {
  return z.unknown().transform((v, ctx): T => {
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: message(expected, v), params: { code: 'missing-field' }, input: v });
      return z.NEVER;
    }
    const r = check(v);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: message(r.expected, v), params: { code: r.code }, input: v });
    return z.NEVER;
  });
}

/** A string satisfying `pred`. */
export function word(pred: (s: string) => boolean, code: DiagnosticCode, expected: string): z.ZodType<string, unknown> {
  return leaf((v) => (typeof v === 'string' && pred(v) ? ok(v) : fail(code, expected)), expected);
}

/** Any string (fields that never reach the output). */
export const anyString = leaf((v) => (typeof v === 'string' ? ok(v) : fail('invalid-type', 'a string')), 'a string');

export const bool = leaf((v) => (typeof v === 'boolean' ? ok(v) : fail('invalid-type', 'true or false')), 'true or false');

export function int(min: number, max: number, code: DiagnosticCode, note = ''): z.ZodType<number, unknown> {
  const expected = `an integer from ${min} to ${max}${note}`;
  return leaf((v) => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return ok(v);
    // A YAML 1.1 octal (`010`) is kept as text: say why it is not taken as a number.
    if (typeof v === 'string' && /^[-+]?0(?:[0-9]+|o[0-7]+)$/.test(v)) return fail(code, `${expected} written without a leading 0 (YAML 1.1, which kubectl reads, takes 010 for octal 8)`);
    return fail(code, expected);
  }, expected);
}

export function oneOf<const T extends string>(values: readonly T[], code: DiagnosticCode): z.ZodType<T, unknown> {
  const expected = `one of ${values.map((v) => (v === '' ? '""' : v)).join(', ')}`;
  return leaf((v) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? ok(v as T) : fail(code, expected)), expected);
}

export const port = int(1, 65535, 'invalid-port');
/** nodePort / healthCheckNodePort: 0 means none. */
export const optionalPort = int(0, 65535, 'invalid-port', ' (0 for none)');
export const protocol = oneOf<Protocol>(['TCP', 'UDP', 'SCTP'], 'invalid-protocol');
/** A service, slice or Endpoints port name: a DNS-1123 label, or empty for an unnamed port. */
export const portName = word((s) => s === '' || isDNS1123Label(s), 'invalid-port-name', `${EXPECT.dns1123Label} or ""`);

export interface IPOptions {
  /** Refuse loopback, link-local, multicast and unspecified addresses (as API validation does for endpoints and externalIPs). */
  readonly unicast?: boolean;
}

const EXPECT_IP = 'an IP address';
const EXPECT_UNICAST = 'an IP address that is not loopback, link-local, multicast or unspecified';
const EXPECT_UNMAPPED = 'an IPv4 address in dotted form or a true IPv6 address (IPv4-mapped IPv6 addresses are refused: their family is ambiguous)';

/**
 * Go's ParseIPSloppy, printed canonically: `172.30.0.041` is accepted and becomes `172.30.0.41`, as
 * kube-proxy reads it. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) and zones (`fe80::1%eth0`) are refused,
 * as the API server's strict IP validation refuses them.
 */
export function checkIP(v: unknown, opts: IPOptions = {}): Check<{ text: string; family: IPFamily }> {
  if (typeof v !== 'string') return fail('invalid-ip', EXPECT_IP);
  const ip = parseIP(v);
  if (!ip) return fail('invalid-ip', v.includes('%') ? `${EXPECT_IP} without a zone` : EXPECT_IP);
  if (v.includes(':') && ip.family === 'IPv4') return fail('ipv4-mapped-ip', EXPECT_UNMAPPED);
  if (opts.unicast && (isLoopback(ip) || isLinkLocal(ip) || isMulticast(ip) || isUnspecified(ip))) return fail('special-ip', EXPECT_UNICAST);
  return ok({ text: formatIP(ip), family: ip.family });
}

export function ip(opts: IPOptions = {}): z.ZodType<string, unknown> {
  return leaf((v) => {
    const r = checkIP(v, opts);
    return r.ok ? ok(r.value.text) : r;
  }, opts.unicast ? EXPECT_UNICAST : EXPECT_IP);
}

const EXPECT_CIDR = 'a CIDR (address/prefix-length)';

/**
 * Go's ParseCIDRSloppy, printed as `(*net.IPNet).String()` does: masked to the network address
 * (`10.1.2.3/8` -> `10.0.0.0/8`), silently, as kube-proxy does. `trim` first strips surrounding
 * whitespace (kube-proxy's TrimSpace on loadBalancerSourceRanges only).
 */
export function checkCIDR(v: unknown, trim = false): Check<{ text: string; family: IPFamily }> {
  if (typeof v !== 'string') return fail('invalid-cidr', EXPECT_CIDR);
  const s = trim ? v.trim() : v;
  const c = parseCIDR(s);
  if (!c) return fail('invalid-cidr', EXPECT_CIDR);
  if (s.slice(0, s.indexOf('/')).includes(':') && c.family === 'IPv4') return fail('ipv4-mapped-ip', EXPECT_UNMAPPED);
  return ok({ text: formatCIDR(c), family: c.family });
}

export function cidr(trim = false): z.ZodType<string, unknown> {
  return leaf((v) => {
    const r = checkCIDR(v, trim);
    return r.ok ? ok(r.value.text) : r;
  }, EXPECT_CIDR);
}

/**
 * API defaulting of a field whose empty value means unset (pkg/apis/core/v1/defaults.go: `if
 * x == "" { x = default }`, and targetPort's `intstr.FromInt32(0)` / `FromString("")`): those
 * values read as absent, so `.default()` or `.optional()` inside applies.
 */
export const unsetIf = <T extends z.ZodType>(empty: readonly unknown[], schema: T) => z.preprocess((v) => (empty.includes(v) ? undefined : v), schema);
export const emptyIsUnset = <T extends z.ZodType>(schema: T) => unsetIf([''], schema);

/** A list; `null` entries and non-lists are reported by zod as invalid-type. */
export const list = <T extends z.ZodType>(item: T) => z.array(item);
