import type { HookRule, TableName } from '@svcrules/iptables';
import { hookRuleArgs, ruleText } from '@svcrules/iptables';
import { KUBE_PROXY_HOOK_RULES } from '@svcrules/core';
import { NetfilterCommandError } from './errors.js';
import type { Family, Netfilter } from './netfilter.js';

export type { HookRule };

export interface HookReport {
  /** Chains that `-N` created (they did not exist). */
  readonly createdChains: readonly string[];
  /** Hook rules that were missing and inserted at position 1. */
  readonly inserted: readonly HookRule[];
}

/**
 * kube-proxy's full-sync hook installation (@svcrules/core's KUBE_PROXY_HOOK_RULES), call for call:
 * for each rule, `-N target` (EnsureChain), `-C chain args`, and `-I chain args` when `-C` says it
 * is missing. Existing rules stay where they are.
 */
export async function ensureHooks(nf: Netfilter, family: Family, rules: readonly HookRule[] = KUBE_PROXY_HOOK_RULES): Promise<HookReport> {
  const createdChains: string[] = [];
  const inserted: HookRule[] = [];
  for (const h of rules) {
    if (await ensureChain(nf, family, h.table, h.target)) createdChains.push(`${h.table}/${h.target}`);
    const args = hookRuleArgs(h);
    const check = await nf.run(family, ['-t', h.table, '-C', h.chain, ...args]);
    if (check.code === 0) continue;
    // Exit 1 = no such rule; anything else (2 = bad rule or missing chain) is a real failure.
    if (check.code !== 1) throw new NetfilterCommandError('iptables', ['-t', h.table, '-C', h.chain, ...args], check.code, check.stderr);
    const ins = await nf.run(family, ['-t', h.table, '-I', h.chain, ...args]);
    if (ins.code !== 0) throw new NetfilterCommandError('iptables', ['-t', h.table, '-I', h.chain, ...args], ins.code, ins.stderr);
    inserted.push(h);
  }
  return { createdChains, inserted };
}

/** `iptables -t T -N CHAIN`, tolerating "already exists"; true when it was created. */
export async function ensureChain(nf: Netfilter, family: Family, table: TableName, chain: string): Promise<boolean> {
  const r = await nf.run(family, ['-t', table, '-N', chain]);
  if (r.code === 0) return true;
  if (/exists/i.test(r.stderr)) return false;
  throw new NetfilterCommandError('iptables', ['-t', table, '-N', chain], r.code, r.stderr);
}

/** The hook rules that are not on the host (`-C` only; changes nothing). */
export async function missingHooks(nf: Netfilter, family: Family, rules: readonly HookRule[] = KUBE_PROXY_HOOK_RULES): Promise<HookRule[]> {
  const missing: HookRule[] = [];
  for (const h of rules) {
    const check = await nf.run(family, ['-t', h.table, '-C', h.chain, ...hookRuleArgs(h)]);
    // 1: no such rule; 2: the target chain does not exist yet (so neither does the rule).
    if (check.code !== 0) missing.push(h);
  }
  return missing;
}

/** The hook rule as a rule line (`-A CHAIN ...`). */
export function hookLine(h: HookRule): string {
  return ruleText(h.chain, hookRuleArgs(h));
}
