import type { Ruleset } from '@svcrules/iptables';
import type { CompileContext } from '../context.js';
import type { Diagnostic } from '../diagnostics.js';
import { isServiceChain } from '../kube-proxy/index.js';
import type { CompileOptions } from '../options.js';
import type { ProxyModel } from '../proxy-model.js';
import type { ServicePortPlan } from '../service-plan.js';
import { RenderedPort, assembleRuleset } from './assemble.js';
import { fixedCounts } from './fixed-rules.js';
import { serviceRules } from './service-rules.js';
import type { ServicePortRules } from './service-rules.js';

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

/** Rule and chain counts of a full ruleset: the fixed parts, the ports' rules, and `stale` extra chains. */
export function rulesetCounts(ctx: CompileContext, ports: Iterable<ServicePortRules>, stale = 0): Pick<CompileStats, 'filterRules' | 'natRules' | 'natChains'> {
  const fixed = fixedCounts(ctx);
  let { filterRules, natRules, natChains } = fixed;
  for (const r of ports) {
    filterRules += r.filterRules.length;
    natRules += r.natRules.length;
    natChains += r.natChains.length;
  }
  return { filterRules, natRules, natChains: natChains + stale };
}

/**
 * The iptables rendering of a model: kube-proxy's full-sync ruleset. `existingNatChains`: the
 * host's nat chains; service chains among them the model does not use are declared (which
 * flushes them) and deleted, as proxier.go `syncProxyRules` does with the chains it finds.
 */
export function renderIptables(model: ProxyModel, options: Pick<CompileOptions, 'existingNatChains'> = {}): CompileResult {
  const { context: ctx, plans, largeClusterMode } = model;
  const perService = plans.map((plan) => serviceRules(plan, ctx, largeClusterMode));
  const ports = perService.map((r) => new RenderedPort(r));

  let stale: string[] = [];
  const existing = options.existingNatChains ?? [];
  if (existing.length > 0) {
    const active = new Set<string>();
    for (const r of perService) for (const c of r.natChains) active.add(c);
    stale = [...new Set(existing)].filter((c) => isServiceChain(c) && !active.has(c)).sort(compareBytes);
  }
  return {
    ruleset: assembleRuleset(ctx, ports, stale),
    plans,
    serviceRules: perService,
    context: ctx,
    diagnostics: [...model.diagnostics],
    stats: { servicePorts: plans.length, endpoints: model.endpoints, largeClusterMode, ...rulesetCounts(ctx, perService, stale.length) },
  };
}
