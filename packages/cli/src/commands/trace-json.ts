/**
 * `trace --json`: the documented, versioned shape (packages/cli/README-trace.md). Version 2 added the
 * assumptions an outcome depends on (`given`, `scenarios`), UNKNOWN outcomes (`stoppedAt`), what a
 * REJECT sends (`reject`), the interfaces, routing decisions, and the node state used.
 */
import { KUBE_MARK_MASQ, type IPFamily, type TraceExplanation } from '@svcrules/core';
import {
  formatExact,
  formatPercent,
  probabilityValue,
  type Probability,
  type RejectEffect,
  type RuleRef,
  type TraceEvent,
  type TraceFrom,
  type TraceOutcome,
  type TracePacket,
  type TraceResult,
} from '@svcrules/iptables';
import type { NftRuleRef, NftTraceEvent, NftTraceOutcome, NftTracePacket, NftTraceResult } from '@svcrules/nftables';

/** Both tracers' results: the nftables one mirrors the iptables one field for field (nft table names, lower-case hooks). */
export type AnyTraceResult = TraceResult | NftTraceResult;
export type AnyTraceOutcome = TraceOutcome | NftTraceOutcome;
export type AnyTraceEvent = TraceEvent | NftTraceEvent;
export type AnyRuleRef = RuleRef | NftRuleRef;

export interface ProbabilityJson {
  readonly exact: string;
  readonly value: number;
  readonly percent: string;
}

export interface RuleJson {
  readonly table: string;
  readonly chain: string;
  readonly index: number;
  readonly text: string;
  readonly comment: string | null;
}

export interface EventJson {
  readonly hook: string;
  readonly table: string;
  readonly chain: string;
  readonly rule: RuleJson | null;
  readonly effect: string;
  readonly target?: string;
  readonly probability?: ProbabilityJson;
  readonly detail?: string;
}

export interface GivenJson {
  readonly code: string;
  readonly key: string;
  readonly holds: boolean;
  readonly text: string;
  readonly rule: RuleJson;
}

export interface OutcomeJson {
  readonly destination: string;
  readonly verdict: 'ACCEPT' | 'DROP' | 'REJECT' | 'UNKNOWN';
  readonly delivery: 'local' | 'forward' | 'output' | null;
  readonly probability: ProbabilityJson;
  readonly given: readonly GivenJson[];
  readonly dnat: { readonly to: string; readonly rule: RuleJson } | null;
  readonly masquerade: { readonly kind: 'MASQUERADE' | 'SNAT'; readonly to: string | null; readonly rule: RuleJson; readonly markedBy: RuleJson | null } | null;
  readonly decidedBy:
    | { readonly rule: RuleJson }
    | { readonly policy: { readonly table: string; readonly chain: string; readonly policy: string } }
    | { readonly routing: string }
    | null;
  readonly reject: RejectEffect | null;
  readonly stoppedAt: { readonly rule: RuleJson; readonly why: string } | null;
  readonly inInterface: string | null;
  readonly outInterface: string | null;
  readonly mark: string;
  readonly affinity: readonly { readonly name: string; readonly op: string; readonly seconds: number | null; readonly matched: boolean; readonly rule: RuleJson }[];
  readonly path: readonly EventJson[];
  readonly reasons: readonly string[];
}

export interface TraceJson {
  readonly version: 2;
  readonly packet: TracePacket | NftTracePacket;
  readonly from: TraceFrom;
  readonly family: IPFamily;
  readonly localAddresses: readonly string[];
  readonly rules: { readonly from: string; readonly node: string | null; readonly addedHooks: readonly string[] };
  readonly nodeState: { readonly from: string; readonly interfaces: number; readonly routes: number; readonly ipsets: number | null; readonly sysctls: Readonly<Record<string, string>> } | null;
  readonly outcomes: readonly OutcomeJson[];
  /** Each distinct set of assumptions, with the outcomes (indices into `outcomes`) under it; one entry with `given: []` when nothing was assumed. */
  readonly scenarios: readonly { readonly given: readonly string[]; readonly outcomes: readonly number[] }[];
  readonly summary: readonly string[];
  readonly assumptions: readonly { readonly code: string; readonly text: string }[];
}

export interface TraceContext {
  readonly rulesFrom: string;
  readonly node: string | null;
  readonly localAddresses: readonly string[];
  readonly nodeState: TraceJson['nodeState'];
}

function probabilityJson(p: Probability): ProbabilityJson {
  return { exact: formatExact(p), value: probabilityValue(p), percent: formatPercent(p) };
}

function ruleJson(r: AnyRuleRef): RuleJson {
  return { table: r.table, chain: r.chain, index: r.index, text: r.text, comment: r.comment };
}

/** The chain kube-proxy's nftables table jumps to for the masquerade mark (core/src/nftables/fixed.ts). */
const NFT_MARK_MASQ = 'mark-for-masquerade';

/** The jump rules the iptables tracer added (none in nftables mode: base chains hook themselves). */
const hooksOf = (result: AnyTraceResult): TraceResult['addedHooks'] => result.addedHooks;

/** kube-proxy's chain that sets the masquerade mark: KUBE-MARK-MASQ, in nftables mode mark-for-masquerade. */
const isMarkChain = (name: string | undefined) => name === KUBE_MARK_MASQ || name === NFT_MARK_MASQ;

/** The rule that set the masquerade mark: the last mark change before POSTROUTING. */
export function markedBy(o: AnyTraceOutcome): AnyRuleRef | null {
  let by: AnyRuleRef | null = null;
  const events: readonly AnyTraceEvent[] = o.events;
  for (const e of events) {
    if (e.hook === 'POSTROUTING' || e.hook === 'postrouting') break;
    if (e.effect === 'jump' && isMarkChain(e.target) && e.rule) by = e.rule;
    else if (e.effect === 'mark' && e.rule && !isMarkChain(e.chain)) by = e.rule;
  }
  return by;
}

function eventJson(e: AnyTraceEvent): EventJson {
  return {
    hook: e.hook,
    table: e.table,
    chain: e.chain,
    rule: e.rule ? ruleJson(e.rule) : null,
    effect: e.effect,
    ...(e.target !== undefined ? { target: e.target } : {}),
    ...(e.probability ? { probability: probabilityJson(e.probability) } : {}),
    ...(e.detail !== undefined ? { detail: e.detail } : {}),
  };
}

/** Outcomes grouped by the assumptions they depend on, in the order first reached. */
export function scenariosOf(result: AnyTraceResult): { given: string[]; outcomes: number[] }[] {
  const out: { given: string[]; outcomes: number[] }[] = [];
  const byKey = new Map<string, number>();
  const outcomes: readonly AnyTraceOutcome[] = result.outcomes;
  outcomes.forEach((o, i) => {
    const given = o.given.map((g) => g.text);
    const key = given.join('\n');
    let at = byKey.get(key);
    if (at === undefined) {
      at = out.length;
      byKey.set(key, at);
      out.push({ given, outcomes: [] });
    }
    out[at]!.outcomes.push(i);
  });
  return out;
}

export function traceJson(result: AnyTraceResult, explanation: TraceExplanation, ctx: TraceContext): TraceJson {
  return {
    version: 2,
    packet: result.packet,
    from: result.from,
    family: result.family,
    localAddresses: ctx.localAddresses,
    rules: { from: ctx.rulesFrom, node: ctx.node, addedHooks: hooksOf(result).map((h) => `${h.table} ${h.chain} -> ${h.target}`) },
    nodeState: ctx.nodeState,
    outcomes: (result.outcomes as readonly AnyTraceOutcome[]).map((o, i) => ({
      destination: o.destination,
      verdict: o.verdict,
      delivery: o.delivery,
      probability: probabilityJson(o.probability),
      given: o.given.map((g) => ({ code: g.code, key: g.key, holds: g.holds, text: g.text, rule: ruleJson(g.rule) })),
      dnat: o.dnat ? { to: o.dnat.to, rule: ruleJson(o.dnat.rule) } : null,
      masquerade: o.masquerade ? { kind: o.masquerade.kind, to: o.masquerade.to, rule: ruleJson(o.masquerade.rule), markedBy: markedBy(o) ? ruleJson(markedBy(o)!) : null } : null,
      decidedBy: o.decidedBy === null ? null : 'rule' in o.decidedBy ? { rule: ruleJson(o.decidedBy.rule) } : 'policy' in o.decidedBy ? { policy: o.decidedBy.policy } : { routing: o.decidedBy.routing },
      reject: o.reject,
      stoppedAt: o.stoppedAt ? { rule: ruleJson(o.stoppedAt.rule), why: o.stoppedAt.why } : null,
      inInterface: o.inInterface,
      outInterface: o.outInterface,
      mark: `0x${o.mark.toString(16)}`,
      affinity: o.affinity.map((a) => ({ name: a.name, op: a.op, seconds: a.seconds, matched: a.matched, rule: ruleJson(a.rule) })),
      path: (o.events as readonly AnyTraceEvent[]).map(eventJson),
      reasons: explanation.outcomes[i] ?? [],
    })),
    scenarios: scenariosOf(result),
    summary: explanation.summary,
    assumptions: result.assumptions,
  };
}
