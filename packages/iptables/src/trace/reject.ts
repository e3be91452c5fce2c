/**
 * What a REJECT (or a failed routing decision) sends back, and what the client's connect()/recv()
 * then reports: the kernel turns the ICMP code into an errno with `icmp_err_convert` /
 * `icmpv6_err_convert` (net/ipv4/icmp.c, net/ipv6/icmp.c). A TCP connection in SYN_SENT aborts on any
 * destination-unreachable (tcp_v4_err); a connected UDP socket reports only the "fatal" codes
 * (udp_err), so a non-fatal one leaves the client waiting (a timeout).
 */
import type { IPFamily } from '@svcrules/netaddr';

export type ClientError = 'ECONNREFUSED' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'EACCES' | 'ENOPROTOOPT' | 'TIMEOUT';

export interface RejectEffect {
  /** The `--reject-with` type (the family's default when the rule names none). */
  readonly with: string;
  /** What a TCP client sees. */
  readonly tcp: ClientError;
  /** What a connected UDP client sees. */
  readonly udp: ClientError;
  /** The errno's message as a client prints it. */
  readonly text: string;
}

const TEXT: Record<ClientError, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  EACCES: 'permission denied',
  ENOPROTOOPT: 'protocol not available',
  TIMEOUT: 'no answer: the client times out',
};

// [errno, fatal] per ICMP code, as icmp_err_convert / icmpv6_err_convert.
const ICMP: Record<string, readonly [ClientError, boolean]> = {
  'icmp-net-unreachable': ['ENETUNREACH', false],
  'icmp-host-unreachable': ['EHOSTUNREACH', false],
  'icmp-proto-unreachable': ['ENOPROTOOPT', true],
  'icmp-port-unreachable': ['ECONNREFUSED', true],
  'icmp-net-prohibited': ['ENETUNREACH', true],
  'icmp-host-prohibited': ['EHOSTUNREACH', true],
  'icmp-admin-prohibited': ['EHOSTUNREACH', true],
  'icmp6-no-route': ['ENETUNREACH', false],
  'icmp6-adm-prohibited': ['EACCES', true],
  'icmp6-addr-unreachable': ['EHOSTUNREACH', false],
  'icmp6-port-unreachable': ['ECONNREFUSED', true],
  'icmp6-policy-fail': ['EACCES', true],
  'icmp6-reject-route': ['EACCES', true],
};

// iptables' abbreviations (libipt_REJECT / libip6t_REJECT).
const ALIAS: Record<string, string> = {
  'net-unreach': 'icmp-net-unreachable',
  'host-unreach': 'icmp-host-unreachable',
  'proto-unreach': 'icmp-proto-unreachable',
  'port-unreach': 'icmp-port-unreachable',
  'net-prohib': 'icmp-net-prohibited',
  'host-prohib': 'icmp-host-prohibited',
  'admin-prohib': 'icmp-admin-prohibited',
  'no-route': 'icmp6-no-route',
  'adm-prohibited': 'icmp6-adm-prohibited',
  'addr-unreach': 'icmp6-addr-unreachable',
  'port-unreach6': 'icmp6-port-unreachable',
  'tcp-rst': 'tcp-reset',
};

/** The effect of `REJECT [--reject-with TYPE]` on a `family` packet. */
export function rejectEffect(rejectWith: string | null, family: IPFamily): RejectEffect {
  let w = rejectWith ?? (family === 'IPv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable');
  w = ALIAS[w] ?? w;
  if (family === 'IPv6' && w === 'icmp-port-unreachable') w = 'icmp6-port-unreachable';
  if (w === 'tcp-reset') {
    // A RST answers TCP only; for other protocols the rule sends the family's port-unreachable.
    const udp = rejectEffect(null, family).udp;
    return { with: w, tcp: 'ECONNREFUSED', udp, text: TEXT.ECONNREFUSED };
  }
  const e = ICMP[w] ?? (['ECONNREFUSED', true] as const);
  return { with: w, tcp: e[0], udp: e[1] ? e[0] : 'TIMEOUT', text: TEXT[e[0]] };
}

export function clientErrorText(e: ClientError): string {
  return TEXT[e];
}
