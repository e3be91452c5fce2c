import type { AppendCommand, Command, Ruleset } from '@svcrules/iptables';
import { append, chainDecl } from '@svcrules/iptables';
import type { CompileContext } from './context.js';
import type { Diagnostic } from './diagnostics.js';
import type { Snapshot } from './model.js';
import type { CompileOptions } from './options.js';
import { buildModel } from './proxy-model.js';
import type { ProxyModel } from './proxy-model.js';
import { serviceRules } from './rules.js';
import type { ServicePortRules } from './rules.js';
import type { ServicePortPlan } from './service-plan.js';
import { CT_STATE_INVALID_DROPPED_PKTS, FORWARDING_CONNTRACK_COMMENT, FORWARDING_RULES_COMMENT, isServiceChain, KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES, LOCALNET_BLOCK_COMMENT, nfacctMatch, NODEPORTS_LAST_COMMENT, SNAT_COMMENT } from './kube-proxy/index.js';

export interface CompileStats {
  readonly servicePorts: number;
  readonly endpoints: number;
  readonly largeClusterMode: boolean;
  readonly filterRules: number;
  readonly natRules: number;
  readonly natChains: number;
}

export interface CompileResult {
  /** The complete iptables-restore input kube-proxy writes in one full sync (hook rules excluded). */
  readonly ruleset: Ruleset;
  /** The decisions per service port, in output order (for tracers, explainers and incremental use). */
  readonly plans: readonly ServicePortPlan[];
  /** Rules per service port, parallel to `plans`. */
  readonly serviceRules: readonly ServicePortRules[];
  readonly context: CompileContext;
  readonly diagnostics: readonly Diagnostic[];
  readonly stats: CompileStats;
}

const compareBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The fixed rules of the filter table before and after the service rules: proxier.go syncProxyRules'
 * KUBE-FIREWALL block, "Drop the packets in INVALID state" and the KUBE-FORWARD ACCEPTs
 * (kube-proxy-rules 5.4).
 */
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

export const NAT_FIXED_CHAINS = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ];

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

/**
 * The KUBE-SERVICES -> KUBE-NODEPORTS rule(s), always last in nat KUBE-SERVICES: syncProxyRules'
 * "Finally, tail-call to the nodePorts chain" (kube-proxy-rules 6.13).
 */
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

/**
 * Compiles a snapshot into the ruleset kube-proxy's iptables proxier writes in a full sync, for one
 * IP family. Pure and deterministic: the same snapshot gives the same bytes whatever its order.
 */
export function compile(input: Snapshot, options: CompileOptions = {}): CompileResult {
  return renderIptables(buildModel(input, options), options);
}

/** The iptables rendering of a model: kube-proxy's full-sync ruleset. */
export function renderIptables(model: ProxyModel, options: Pick<CompileOptions, 'existingNatChains'> = {}): CompileResult {
  const { context: ctx, plans, largeClusterMode } = model;
  const diagnostics = [...model.diagnostics];
  const perService = plans.map((plan) => serviceRules(plan, ctx, largeClusterMode));

  const filter = filterPrologue(ctx);
  const filterCommands: Command[] = [...filter.head];
  const natChainNames = [...NAT_FIXED_CHAINS];
  const natCommands: Command[] = natPrologue(ctx);
  for (const r of perService) {
    for (const rule of r.filterRules) filterCommands.push(rule);
    for (const c of r.natChains) natChainNames.push(c);
    for (const rule of r.natRules) natCommands.push(rule);
  }
  filterCommands.push(...filter.tail);
  let natRules = natCommands.length;

  // Stale service chains on the host: declared (which flushes them), then deleted, as syncProxyRules'
  // "Delete chains no longer in use" does (kube-proxy-rules 8.2).
  const existing = options.existingNatChains ?? [];
  if (existing.length > 0) {
    const active = new Set(natChainNames);
    const stale = [...new Set(existing)].filter((c) => isServiceChain(c) && !active.has(c)).sort(compareBytes);
    for (const c of stale) {
      natChainNames.push(c);
      natCommands.push({ kind: 'delete', chain: c });
    }
  }
  for (const rule of nodePortsTail(ctx)) {
    natCommands.push(rule);
    natRules++;
  }

  const ruleset: Ruleset = {
    tables: [
      { name: 'filter', chains: filter.chains.map(chainDecl), commands: filterCommands },
      { name: 'nat', chains: natChainNames.map(chainDecl), commands: natCommands },
    ],
  };
  return {
    ruleset,
    plans,
    serviceRules: perService,
    context: ctx,
    diagnostics,
    stats: {
      servicePorts: plans.length,
      endpoints: model.endpoints,
      largeClusterMode,
      filterRules: filterCommands.length,
      natRules,
      natChains: natChainNames.length,
    },
  };
}
