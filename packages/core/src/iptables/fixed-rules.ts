import type { AppendCommand } from '@svcrules/iptables';
import { append } from '@svcrules/iptables';
import type { CompileContext } from '../context.js';

import { CT_STATE_INVALID_DROPPED_PKTS, FORWARDING_CONNTRACK_COMMENT, FORWARDING_RULES_COMMENT, KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES, LOCALNET_BLOCK_COMMENT, nfacctMatch, NODEPORTS_LAST_COMMENT, SNAT_COMMENT } from '../kube-proxy/index.js';
/**
 * The rules kube-proxy writes whatever the Services are (proxier.go `syncProxyRules`: the
 * top-level chains, KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FORWARD, the node-ports jump).
 */

/** The fixed rules of the filter table before (`head`) and after (`tail`) the service rules. */
export function filterPrologue(ctx: CompileContext): { chains: string[]; head: AppendCommand[]; tail: AppendCommand[] } {
  const chains = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL];
  const head: AppendCommand[] = [];
  if (ctx.localhostNodePorts) {
    chains.push(KUBE_FIREWALL);
    head.push(
      append(KUBE_FIREWALL, [
        ...['-m', 'comment', '--comment', LOCALNET_BLOCK_COMMENT],
        ...['-d', '127.0.0.0/8', '!', '-s', '127.0.0.0/8', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP'],
      ]),
    );
  }
  const tail: AppendCommand[] = [];
  if (!ctx.tcpBeLiberal) {
    const nfacct = ctx.nfacct ? nfacctMatch(CT_STATE_INVALID_DROPPED_PKTS) : [];
    tail.push(append(KUBE_FORWARD, ['-m', 'conntrack', '--ctstate', 'INVALID', ...nfacct, '-j', 'DROP']));
  }
  tail.push(
    append(KUBE_FORWARD, ['-m', 'comment', '--comment', FORWARDING_RULES_COMMENT, '-m', 'mark', '--mark', `${ctx.mark}/${ctx.mark}`, '-j', 'ACCEPT']),
    append(KUBE_FORWARD, ['-m', 'comment', '--comment', FORWARDING_CONNTRACK_COMMENT, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']),
  );
  return { chains, head, tail };
}

/** The nat chains every sync declares, in kube-proxy's order; the service chains follow them. */
export const NAT_FIXED_CHAINS = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ];

/** The top-level chains service ports write rules into (the rest of the fixed chains hold fixed rules only). */
export const TOP_LEVEL_FILTER = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL];
export const TOP_LEVEL_NAT = [KUBE_SERVICES, KUBE_NODEPORTS];

/** The rules of KUBE-POSTROUTING and KUBE-MARK-MASQ, written before any service rule. */
export function natPrologue(ctx: CompileContext): AppendCommand[] {
  const m = ctx.mark;
  return [
    append(KUBE_POSTROUTING, ['-m', 'mark', '!', '--mark', `${m}/${m}`, '-j', 'RETURN']),
    append(KUBE_POSTROUTING, ['-j', 'MARK', '--xor-mark', m]),
    append(KUBE_POSTROUTING, [
      ...['-m', 'comment', '--comment', SNAT_COMMENT, '-j', 'MASQUERADE'],
      ...(ctx.randomFully ? ['--random-fully'] : []),
    ]),
    append(KUBE_MARK_MASQ, ['-j', 'MARK', '--or-mark', m]),
  ];
}

/** The KUBE-SERVICES -> KUBE-NODEPORTS rule(s), always last in nat KUBE-SERVICES. */
export function nodePortsTail(ctx: CompileContext): AppendCommand[] {
  const c = ['-m', 'comment', '--comment', NODEPORTS_LAST_COMMENT];
  if (ctx.nodePortIPs === null) {
    const dest = ['-m', 'addrtype', '--dst-type', 'LOCAL'];
    if (ctx.family === 'IPv6') dest.push('!', '-d', '::1/128');
    else if (!ctx.localhostNodePorts) dest.push('!', '-d', '127.0.0.0/8');
    return [append(KUBE_SERVICES, [...c, ...dest, '-j', KUBE_NODEPORTS])];
  }
  const isLoopback = (ip: string) => (ctx.family === 'IPv6' ? ip === '::1' : ip.startsWith('127.'));
  return ctx.nodePortIPs
    .filter((ip) => !(isLoopback(ip) && (ctx.family === 'IPv6' || !ctx.localhostNodePorts)))
    .map((ip) => append(KUBE_SERVICES, [...c, '-d', ip, '-j', KUBE_NODEPORTS]));
}

/** How many rules and chains the fixed parts add to a full ruleset. */
export function fixedCounts(ctx: CompileContext): { filterRules: number; natRules: number; natChains: number } {
  const filter = filterPrologue(ctx);
  return {
    filterRules: filter.head.length + filter.tail.length,
    natRules: natPrologue(ctx).length + nodePortsTail(ctx).length,
    natChains: NAT_FIXED_CHAINS.length,
  };
}
