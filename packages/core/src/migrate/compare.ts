/**
 * `migrate`: compiles a snapshot in both modes, traces every flow of `enumerateFlows` through each
 * (the iptables tracer with kube-proxy's jump rules, the nftables tracer over the `kube-proxy`
 * table) and keeps the flows whose outcome differs, each explained by the rule table of reasons.ts.
 */
import { tracePacket, TraceRefusal, type TracePacket } from '@svcrules/iptables';
import { NftTraceRefusal, tracePacketNft } from '@svcrules/nftables';
import { compile } from '../compile.js';
import type { CompileContext } from '../context.js';
import type { Diagnostic } from '../diagnostics.js';
import { KUBE_PROXY_HOOKS } from '../kube-proxy/hooks.js';
import type { Snapshot } from '../model.js';
import { compileNFTables, type NFTablesCompileOptions } from '../nftables/compile.js';
import { enumerateFlows, type FlowSources, type MigrateFlow } from './flows.js';
import { describeOutcome, iptablesOutcome, nftablesOutcome, sameOutcome, type ModeOutcome } from './outcome.js';
import { explainDifference, type DifferenceReason } from './reasons.js';

export interface MigrateOptions extends NFTablesCompileOptions, FlowSources {}

/** A flow's outcome in one mode, or why it could not be traced. */
export type TracedOutcome = (ModeOutcome & { readonly text: string }) | { readonly error: string };

export interface FlowDifference {
  readonly flow: MigrateFlow;
  readonly iptables: TracedOutcome;
  readonly nftables: TracedOutcome;
  /** The rule of reasons.ts that explains it, or null: unexplained. */
  readonly reason: DifferenceReason | null;
}

export interface MigrateReport {
  readonly family: CompileContext['family'];
  readonly node: string;
  readonly podIP: string;
  readonly nodeIP: string | null;
  readonly externalIP: string;
  readonly nodeAddresses: readonly string[];
  /** Every flow traced, in enumeration order. */
  readonly flows: readonly MigrateFlow[];
  readonly differences: readonly FlowDifference[];
  /** Both compiles' diagnostics, each once. */
  readonly diagnostics: readonly Diagnostic[];
}

function guard(run: () => ModeOutcome): ModeOutcome | { readonly error: string } {
  try {
    return run();
  } catch (err) {
    if (err instanceof TraceRefusal || err instanceof NftTraceRefusal) return { error: err.message };
    throw err;
  }
}

function same(a: ModeOutcome | { readonly error: string }, b: ModeOutcome | { readonly error: string }): boolean {
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error === b.error;
  return sameOutcome(a, b);
}

export function migrate(snapshot: Snapshot, options: MigrateOptions = {}): MigrateReport {
  const { podIP, externalIP, ...compileOptions } = options;
  const ipt = compile(snapshot, { ...compileOptions, proxyMode: 'iptables' });
  const nft = compileNFTables(snapshot, { ...compileOptions, proxyMode: 'nftables' });
  const plan = enumerateFlows(snapshot, ipt.context, ipt.plans, { ...(podIP ? { podIP } : {}), ...(externalIP ? { externalIP } : {}) }, options.interfaceAddresses);
  const local = plan.nodeAddresses;
  const differences: FlowDifference[] = [];
  for (const flow of plan.flows) {
    const packet: TracePacket = { src: flow.src, dst: flow.dst, protocol: flow.protocol, dport: flow.dport };
    const a = guard(() => iptablesOutcome(tracePacket(ipt.ruleset, packet, { from: flow.from, localAddresses: local, hooks: KUBE_PROXY_HOOKS })));
    const b = guard(() => nftablesOutcome(tracePacketNft(nft.ruleset, packet, { from: flow.from, localAddresses: local })));
    if (same(a, b)) continue;
    // Described only here: printing a 2048-endpoint ladder's exact fractions is the slow part.
    const described = (o: typeof a): TracedOutcome => ('error' in o ? o : { ...o, text: describeOutcome(o) });
    differences.push({ flow, iptables: described(a), nftables: described(b), reason: explainDifference({ flow, iptables: a, nftables: b, snapshot, iptablesContext: ipt.context, nftablesContext: nft.context, plans: ipt.plans }) });
  }
  const seen = new Set<string>();
  const diagnostics = [...ipt.diagnostics, ...nft.diagnostics].filter((d) => {
    const key = JSON.stringify(d);
    return !seen.has(key) && (seen.add(key), true);
  });
  return { family: ipt.context.family, node: ipt.context.nodeName, podIP: plan.podIP, nodeIP: plan.nodeIP, externalIP: plan.externalIP, nodeAddresses: local, flows: plan.flows, differences, diagnostics };
}
