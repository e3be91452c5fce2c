/**
 * `trace` in nftables mode: the rules as nft tables (compiled with compileNFTables, or read from
 * `nft list ruleset` text, `nft -j list ruleset` JSON or a knftables Dump), followed by the
 * nftables tracer (@svcrules/nftables tracePacketNft), and a short explanation in Kubernetes terms
 * (the iptables one in core/src/explain.ts reads KUBE-* chains and their comments).
 */
import { compileNFTables, endpointLabel, type Snapshot, type TraceExplanation } from '@svcrules/core';
import { clientErrorText, formatPercent, type NodeState, type TraceFrom } from '@svcrules/iptables';
import { NftTraceRefusal, parseRuleset, tracePacketNft, type NftRuleRef, type NftRuleset, type NftTraceOutcome, type NftTracePacket, type NftTraceResult } from '@svcrules/nftables';
import type { CliIO } from '../io.js';
import { ExitError, UserError } from '../errors.js';
import { compileOptionsFrom, printDiagnostics, type CompileFlags } from '../compile-input.js';

/**
 * iptables-save/iptables-restore text: its first meaningful line opens a table (`*nat`), declares
 * a chain (`:KUBE-SERVICES - [0:0]`), appends a rule or commits. Anything else is nft's.
 */
export function isIptablesText(text: string): boolean {
  const first = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  return first !== undefined && /^(\*[a-z]+$|:\S+ |-[AIN] |COMMIT$)/.test(first);
}

/** nft tables from any of nft's forms; a parse error names the source. */
export function parseNftRules(text: string, source: string): readonly NftRuleset[] {
  let rulesets: readonly NftRuleset[];
  try {
    rulesets = parseRuleset(text).rulesets;
  } catch (err) {
    throw new UserError(`${source}: ${(err as Error).message}`);
  }
  if (rulesets.length === 0) throw new UserError(`${source}: holds no ip or ip6 nft table`);
  return rulesets;
}

/** The `kube-proxy` table of `family`, compiled; errors in the snapshot exit 1 with their diagnostics. */
export function compileNftRules(io: CliIO, snapshot: Snapshot, flags: CompileFlags, family: 'ipv4' | 'ipv6'): { ruleset: NftRuleset; node: string | null } {
  const result = compileNFTables(snapshot, { ...compileOptionsFrom({ ...flags, family }), proxyMode: 'nftables' });
  printDiagnostics(io, result.diagnostics);
  if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
  return { ruleset: result.ruleset, node: result.context.nodeName === '' ? null : result.context.nodeName };
}

/** The one call into the nftables tracer; its refusals are the user's to fix. */
export function followNft(rulesets: readonly NftRuleset[], packet: NftTracePacket, from: TraceFrom, localAddresses: readonly string[], node: NodeState | undefined): NftTraceResult {
  try {
    return tracePacketNft(rulesets, packet, { from, localAddresses, ...(node ? { node } : {}) });
  } catch (err) {
    if (err instanceof NftTraceRefusal) throw new UserError(err.message);
    throw err;
  }
}

const where = (r: NftRuleRef) => `${r.table} ${r.chain} rule ${r.index}`;

function explainOutcome(result: NftTraceResult, o: NftTraceOutcome, snapshot: Snapshot | undefined): string[] {
  const out: string[] = [];
  for (const a of o.affinity) if (a.op === 'lookup' && a.matched) out.push(`ClientIP session affinity: the source is in ${a.name} (${where(a.rule)})`);
  if (o.dnat) out.push(`DNAT to ${endpointLabel(snapshot, o.dnat.to)} (${where(o.dnat.rule)})`);
  const by = o.decidedBy;
  if (o.verdict === 'REJECT' && by && 'rule' in by) out.push(`${where(by.rule)}${by.rule.comment ? ` (${by.rule.comment})` : ''} → REJECT: ${o.reject ? clientErrorText(result.packet.protocol === 'udp' ? o.reject.udp : o.reject.tcp) : 'rejected'}`);
  else if (o.verdict === 'DROP' && by && 'rule' in by) out.push(`${where(by.rule)}${by.rule.comment ? ` (${by.rule.comment})` : ''} → DROP`);
  else if (o.verdict === 'DROP' && by && 'policy' in by) out.push(`no rule accepted it: the ${by.policy.table} ${by.policy.chain} policy is ${by.policy.policy} → DROP`);
  else if (by && 'routing' in by) out.push(by.routing);
  if (o.verdict === 'ACCEPT' && o.masquerade) out.push(`source NAT: ${o.masquerade.rule.chain} masquerades packets carrying kube-proxy's masquerade mark; the source becomes the node's address on the outgoing interface`);
  if (o.stoppedAt) out.push(`${where(o.stoppedAt.rule)}: ${o.stoppedAt.why}`);
  return out;
}

/** Per outcome, why; and the balance when a `numgen random mod N vmap` split the walk. */
export function explainNftTrace(result: NftTraceResult, snapshot: Snapshot | undefined): TraceExplanation {
  const outcomes = result.outcomes.map((o) => explainOutcome(result, o, snapshot));
  const summary: string[] = [];
  const dnats = result.outcomes.filter((o) => o.verdict === 'ACCEPT' && o.dnat && o.given.length === 0);
  if (dnats.length > 1) summary.push(`load-balanced over ${dnats.length} endpoints: ${dnats.map((o) => `${o.dnat!.to} ${formatPercent(o.probability)}`).join(', ')}`);
  return { outcomes, summary };
}
