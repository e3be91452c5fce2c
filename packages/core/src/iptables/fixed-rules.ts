import type { AppendCommand } from '@svcrules/iptables';
import { append } from '@svcrules/iptables';
import type { CompileContext } from '../context.js';

/**
 * The rules kube-proxy writes whatever the Services are (proxier.go `syncProxyRules`: the
 * top-level chains, KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FORWARD, the node-ports jump).
 */

/** The fixed rules of the filter table before (`head`) and after (`tail`) the service rules. */
export function filterPrologue(ctx: CompileContext): { chains: string[]; head: AppendCommand[]; tail: AppendCommand[] } {
  const chains = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL'];
  const head: AppendCommand[] = [];
  if (ctx.localhostNodePorts) {
    chains.push('KUBE-FIREWALL');
    head.push(
      append('KUBE-FIREWALL', [
        ...['-m', 'comment', '--comment', 'block incoming localnet connections'],
        ...['-d', '127.0.0.0/8', '!', '-s', '127.0.0.0/8', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP'],
      ]),
    );
  }
  const tail: AppendCommand[] = [];
  if (!ctx.tcpBeLiberal) {
    const nfacct = ctx.nfacct ? ['-m', 'nfacct', '--nfacct-name', 'ct_state_invalid_dropped_pkts'] : [];
    tail.push(append('KUBE-FORWARD', ['-m', 'conntrack', '--ctstate', 'INVALID', ...nfacct, '-j', 'DROP']));
  }
  tail.push(
    append('KUBE-FORWARD', ['-m', 'comment', '--comment', 'kubernetes forwarding rules', '-m', 'mark', '--mark', `${ctx.mark}/${ctx.mark}`, '-j', 'ACCEPT']),
    append('KUBE-FORWARD', ['-m', 'comment', '--comment', 'kubernetes forwarding conntrack rule', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']),
  );
  return { chains, head, tail };
}

/** The nat chains every sync declares, in kube-proxy's order; the service chains follow them. */
export const NAT_FIXED_CHAINS = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];

/** The top-level chains service ports write rules into (the rest of the fixed chains hold fixed rules only). */
export const TOP_LEVEL_FILTER = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL'];
export const TOP_LEVEL_NAT = ['KUBE-SERVICES', 'KUBE-NODEPORTS'];

/** The rules of KUBE-POSTROUTING and KUBE-MARK-MASQ, written before any service rule. */
export function natPrologue(ctx: CompileContext): AppendCommand[] {
  const m = ctx.mark;
  return [
    append('KUBE-POSTROUTING', ['-m', 'mark', '!', '--mark', `${m}/${m}`, '-j', 'RETURN']),
    append('KUBE-POSTROUTING', ['-j', 'MARK', '--xor-mark', m]),
    append('KUBE-POSTROUTING', [
      ...['-m', 'comment', '--comment', 'kubernetes service traffic requiring SNAT', '-j', 'MASQUERADE'],
      ...(ctx.randomFully ? ['--random-fully'] : []),
    ]),
    append('KUBE-MARK-MASQ', ['-j', 'MARK', '--or-mark', m]),
  ];
}

/** The KUBE-SERVICES -> KUBE-NODEPORTS rule(s), always last in nat KUBE-SERVICES. */
export function nodePortsTail(ctx: CompileContext): AppendCommand[] {
  const c = ['-m', 'comment', '--comment', 'kubernetes service nodeports; NOTE: this must be the last rule in this chain'];
  if (ctx.nodePortIPs === null) {
    const dest = ['-m', 'addrtype', '--dst-type', 'LOCAL'];
    if (ctx.family === 'IPv6') dest.push('!', '-d', '::1/128');
    else if (!ctx.localhostNodePorts) dest.push('!', '-d', '127.0.0.0/8');
    return [append('KUBE-SERVICES', [...c, ...dest, '-j', 'KUBE-NODEPORTS'])];
  }
  const isLoopback = (ip: string) => (ctx.family === 'IPv6' ? ip === '::1' : ip.startsWith('127.'));
  return ctx.nodePortIPs
    .filter((ip) => !(isLoopback(ip) && (ctx.family === 'IPv6' || !ctx.localhostNodePorts)))
    .map((ip) => append('KUBE-SERVICES', [...c, '-d', ip, '-j', 'KUBE-NODEPORTS']));
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
