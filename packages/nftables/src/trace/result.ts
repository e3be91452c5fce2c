/**
 * What the nftables tracer returns. The shape follows the iptables tracer's TraceResult
 * (@svcrules/iptables trace.ts) field for field, so one printer serves both: outcomes with exact
 * probabilities, verdict, delivery, destination, DNAT, masquerade, the deciding rule, what a reject
 * sends, the assumptions an outcome depends on, and the path as events. Differences: `table` is
 * the nft table (`ip kube-proxy`), a rule carries its nft handle when the ruleset had one, hooks
 * are lower case as nft writes them, and each event names the base chain's priority.
 */
import type { NodeState, Probability, RejectEffect, TraceFrom, TraceProtocol } from '@svcrules/iptables';

export type NftHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked';

export interface NftTracePacket {
  readonly src: string;
  readonly dst: string;
  readonly protocol: TraceProtocol;
  readonly dport: number;
  /** Source port; a rule matching on it forks into both answers when absent. */
  readonly sport?: number;
  /** Arrival interface (pod/external); a rule matching on it forks when absent. */
  readonly inInterface?: string;
  /** Interface the packet leaves by (forwarded or node-originated); a rule matching on it forks when absent. */
  readonly outInterface?: string;
  /** Initial packet mark (default 0). */
  readonly mark?: number;
  /** Conntrack state of the packet (default `new`, the first packet of a connection). */
  readonly ctState?: CtState;
}

export interface NftTraceOptions {
  readonly from: TraceFrom;
  /** Addresses the node owns (`fib … type local`, local delivery). Loopback is always local. */
  readonly localAddresses: readonly string[];
  /** Refuse when the walk splits into more branches than this (default 100000). */
  readonly maxBranches?: number;
  /**
   * The node's addresses and routes (`ip -j address`, `ip -j route show table all`, read by
   * @svcrules/iptables parseIpAddress/parseIpRoute): its addresses are local too, the interface a
   * packet leaves by is the route to its (translated) destination, and one arriving from outside
   * comes in by the route back to its source (the reverse path, as rp_filter sees it).
   */
  readonly node?: NodeState;
}

export interface NftRuleRef {
  /** `family name` of the table, e.g. `ip kube-proxy`. */
  readonly table: string;
  readonly chain: string;
  /** 1-based position in its chain. */
  readonly index: number;
  /** The nft handle when the ruleset was listed with one (`nft -a`, `nft -j`), else null. */
  readonly handle: number | null;
  /** The rule as nft prints it (without its comment). */
  readonly text: string;
  readonly comment: string | null;
}

export type NftTraceEffect =
  | 'not-taken'
  | 'continue'
  | 'jump'
  | 'goto'
  | 'return'
  | 'mark'
  | 'accept'
  | 'drop'
  | 'reject'
  | 'dnat'
  | 'snat'
  | 'masquerade'
  | 'notrack'
  /** `update @set { ip saddr }` and friends: the set learns the key. */
  | 'set-update'
  | 'unknown'
  | 'policy';

export interface NftTraceEvent {
  readonly hook: NftHook;
  readonly table: string;
  readonly chain: string;
  /** The base chain's priority, as a number (`dstnat` is -100). */
  readonly priority: number;
  readonly rule?: NftRuleRef;
  readonly effect: NftTraceEffect;
  readonly target?: string;
  /** For a numgen branch: the probability that branch was taken, given the packet reached the rule. */
  readonly probability?: Probability;
  readonly detail?: string;
}

export type NftVerdict = 'ACCEPT' | 'DROP' | 'REJECT' | 'UNKNOWN';

export interface NftTraceGiven {
  readonly code: 'interface' | 'sport' | 'affinity' | 'dynamic-set' | 'unmodelled';
  /** The question, the same for both answers. */
  readonly key: string;
  readonly holds: boolean;
  readonly text: string;
  readonly rule: NftRuleRef;
}

export interface NftAffinityUse {
  /** The set (kube-proxy: `affinity-…` of the endpoint). */
  readonly name: string;
  readonly op: 'lookup' | 'add' | 'update' | 'delete';
  /** The set's timeout in seconds, when it has one. */
  readonly seconds: number | null;
  readonly key: string;
  /** For a lookup: whether the packet's key was taken to be in the set (an assumption, see `given`). */
  readonly matched: boolean;
  readonly rule: NftRuleRef;
}

export interface NftTraceOutcome {
  readonly probability: Probability;
  readonly verdict: NftVerdict;
  readonly delivery: 'local' | 'forward' | 'output' | null;
  /** The destination `ip:port` the packet ends with (after DNAT). */
  readonly destination: string;
  readonly dnat: { readonly to: string; readonly rule: NftRuleRef } | null;
  readonly masquerade: { readonly kind: 'MASQUERADE' | 'SNAT'; readonly to: string | null; readonly rule: NftRuleRef } | null;
  readonly decidedBy:
    | { readonly rule: NftRuleRef }
    | { readonly policy: { readonly table: string; readonly chain: string; readonly policy: string } }
    | { readonly routing: string }
    | null;
  readonly reject: RejectEffect | null;
  readonly stoppedAt: { readonly rule: NftRuleRef; readonly why: string } | null;
  readonly given: readonly NftTraceGiven[];
  readonly inInterface: string | null;
  readonly outInterface: string | null;
  readonly mark: number;
  readonly affinity: readonly NftAffinityUse[];
  readonly events: readonly NftTraceEvent[];
}

export interface NftTraceAssumption {
  readonly code: 'new-connection' | 'numgen-uniform' | 'affinity-both' | 'limit-fresh' | 'fib-unicast' | 'ct-state' | 'routes';
  readonly text: string;
}

/** A base chain the walk consulted, in the order the kernel runs them. */
export interface NftBaseChainUse {
  readonly table: string;
  readonly chain: string;
  readonly type: string;
  readonly hook: NftHook;
  readonly priority: number;
  readonly policy: 'accept' | 'drop';
}

export interface NftTraceResult {
  readonly packet: NftTracePacket;
  readonly from: TraceFrom;
  readonly family: 'IPv4' | 'IPv6';
  /** Distinct outcomes in the order the walk reached them; probabilities of outcomes with the same `given` sum to 1. */
  readonly outcomes: readonly NftTraceOutcome[];
  /** Every base chain of the packet's family, by hook then priority. */
  readonly baseChains: readonly NftBaseChainUse[];
  /** Always empty: nft base chains hook themselves (kept for the iptables result shape). */
  readonly addedHooks: readonly never[];
  readonly assumptions: readonly NftTraceAssumption[];
}

export class NftTraceRefusal extends Error {
  constructor(readonly reason: string) {
    super(`cannot trace: ${reason}`);
    this.name = 'NftTraceRefusal';
  }
}
