/**
 * The objects every full sync writes whatever the Services are: kube-proxy's `setupNFTables`
 * (pkg/proxy/nftables/proxier.go): base chains, the chains they jump to, masquerading, the
 * cluster-IP checks, node-port addresses and the verdict maps the services fill.
 */
import type { BaseChainSpec } from '@svcrules/nftables';
import type { CompileContext } from '../context.js';
import { isLoopback, parseIP } from '../ip.js';
import type { TableBuilder } from './builder.js';
import type { FamilyWords } from './family.js';

/** `nftablesBaseChains`, in kube-proxy's order; priorities as knftables prints them. */
const BASE_CHAINS: readonly (readonly [string, BaseChainSpec])[] = [
  ['filter-prerouting-pre-dnat', { type: 'filter', hook: 'prerouting', priority: -110 }],
  ['filter-output-pre-dnat', { type: 'filter', hook: 'output', priority: -110 }],
  ['filter-input', { type: 'filter', hook: 'input', priority: 0 }],
  ['filter-forward', { type: 'filter', hook: 'forward', priority: 0 }],
  ['filter-output', { type: 'filter', hook: 'output', priority: 0 }],
  ['nat-prerouting', { type: 'nat', hook: 'prerouting', priority: -100 }],
  ['nat-output', { type: 'nat', hook: 'output', priority: -100 }],
  ['nat-postrouting', { type: 'nat', hook: 'postrouting', priority: 100 }],
];

/** `nftablesJumpChains`: (destination, source base chain, words before `jump`). */
const JUMP_CHAINS: readonly (readonly [string, string, readonly string[]])[] = [
  ['nodeport-endpoints-check', 'filter-input', ['ct', 'state', 'new']],
  ['service-endpoints-check', 'filter-input', ['ct', 'state', 'new']],
  ['service-endpoints-check', 'filter-forward', ['ct', 'state', 'new']],
  ['service-endpoints-check', 'filter-output', ['ct', 'state', 'new']],
  ['firewall-check', 'filter-prerouting-pre-dnat', ['ct', 'state', 'new']],
  ['firewall-check', 'filter-output-pre-dnat', ['ct', 'state', 'new']],
  ['services', 'nat-output', []],
  ['services', 'nat-prerouting', []],
  ['masquerading', 'nat-postrouting', []],
  ['cluster-ips-check', 'filter-forward', ['ct', 'state', 'new']],
  ['cluster-ips-check', 'filter-output', ['ct', 'state', 'new']],
];

const VMAP_KEY = ['meta', 'l4proto', '.', 'th', 'dport', 'vmap'];

/**
 * The node IPs that take node ports (null: any local address). Loopback addresses are left out:
 * kube-proxy logs "localhost NodePorts are not supported" and skips them.
 */
export function nftNodePortIPs(ctx: CompileContext): { ips: string[] | null; loopback: string[] } {
  if (ctx.nodePortIPs === null) return { ips: null, loopback: [] };
  const loopback = ctx.nodePortIPs.filter((ip) => isLoopback(parseIP(ip)!));
  return { ips: ctx.nodePortIPs.filter((ip) => !loopback.includes(ip)), loopback };
}

export function addFixedObjects(t: TableBuilder, ctx: CompileContext, w: FamilyWords): void {
  for (const [name, base] of BASE_CHAINS) t.chain({ name, base });
  for (const [dst, src, before] of JUMP_CHAINS) {
    t.chain({ name: dst });
    t.rule(src, [...before, 'jump', dst]);
  }
  t.chain({ name: 'mark-for-masquerade' });
  t.rule('mark-for-masquerade', ['mark', 'set', 'mark', 'or', ctx.mark]);
  t.rule('masquerading', ['mark', 'and', ctx.mark, '==', '0', 'return']);
  t.rule('masquerading', ['mark', 'set', 'mark', 'xor', ctx.mark]);
  t.rule('masquerading', ['masquerade', 'fully-random']);

  t.set({ name: 'cluster-ips', type: [w.addrType], comment: 'Active ClusterIPs' });
  t.rule('cluster-ips-check', [w.ip, 'daddr', '@cluster-ips', 'reject'], 'Reject traffic to invalid ports of ClusterIPs');
  if (ctx.serviceCIDRs.length > 0) {
    // OnServiceCIDRsChanged joins the CIDRs with "," and no space: one word.
    t.rule('cluster-ips-check', [w.ip, 'daddr', '{', ctx.serviceCIDRs.join(','), '}', 'drop'], 'Drop traffic to unallocated ClusterIPs');
  }

  const nodePortIPs = nftNodePortIPs(ctx).ips;
  if (nodePortIPs !== null) {
    t.set({ name: 'nodeport-ips', type: [w.addrType], comment: 'IPs that accept NodePort traffic' });
    for (const ip of nodePortIPs) t.element({ container: 'nodeport-ips', key: [ip] });
  }

  t.map({
    name: 'no-endpoint-services',
    type: [w.addrType, 'inet_proto', 'inet_service'],
    valueType: ['verdict'],
    comment: 'vmap to drop or reject packets to services with no endpoints',
  });
  t.map({
    name: 'no-endpoint-nodeports',
    type: ['inet_proto', 'inet_service'],
    valueType: ['verdict'],
    comment: 'vmap to drop or reject packets to service nodeports with no endpoints',
  });
  t.chain({ name: 'reject-chain', comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports' });
  t.rule('reject-chain', ['reject']);
  t.rule('service-endpoints-check', [w.ip, 'daddr', '.', ...VMAP_KEY, '@no-endpoint-services']);
  // Without nodeport-ips the chain is reached from the input hook only, so no `fib daddr type local`.
  const npMatch = nodePortIPs === null ? [w.ip, 'daddr', '!=', w.loopback] : [w.ip, 'daddr', '@nodeport-ips'];
  t.rule('nodeport-endpoints-check', [...npMatch, ...VMAP_KEY, '@no-endpoint-nodeports']);

  t.map({
    name: 'firewall-ips',
    type: [w.addrType, 'inet_proto', 'inet_service'],
    valueType: ['verdict'],
    comment: 'destinations that are subject to LoadBalancerSourceRanges',
  });
  t.rule('firewall-check', [w.ip, 'daddr', '.', ...VMAP_KEY, '@firewall-ips']);
  t.map({
    name: 'service-ips',
    type: [w.addrType, 'inet_proto', 'inet_service'],
    valueType: ['verdict'],
    comment: 'ClusterIP, ExternalIP and LoadBalancer IP traffic',
  });
  t.map({ name: 'service-nodeports', type: ['inet_proto', 'inet_service'], valueType: ['verdict'], comment: 'NodePort traffic' });
  t.rule('services', [w.ip, 'daddr', '.', ...VMAP_KEY, '@service-ips']);
  const npDispatch = nodePortIPs === null ? ['fib', 'daddr', 'type', 'local', ...npMatch] : npMatch;
  t.rule('services', [...npDispatch, ...VMAP_KEY, '@service-nodeports']);
}
