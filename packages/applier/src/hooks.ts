import type { TableName } from '@svcrules/iptables';
import { KUBE_PROXY_HOOK_RULES } from '@svcrules/iptables';
import { NetfilterCommandError } from './errors.js';
import type { Family, Netfilter } from './netfilter.js';

/**
 * One jump ("hook") rule kube-proxy installs outside the restore payload: proxier.go
 * iptablesJumpChains and iptablesKubeletJumpChains (docs/kube-proxy-rules.md 5.2).
 */
export interface HookRule {
  readonly table: TableName;
  /** The chain jumped to (ensured with `-N`). */
  readonly dstChain: string;
  /** The built-in chain holding the jump. */
  readonly srcChain: string;
  /** `''` for none (kubelet's KUBE-FIREWALL jumps). */
  readonly comment: string;
  readonly extraArgs: readonly string[];
}

/**
 * `iptablesJumpChains` then `iptablesKubeletJumpChains`, in kube-proxy's order: the tracer's table
 * (`@svcrules/iptables`), named for how the applier installs them.
 */
export const HOOK_RULES: readonly HookRule[] = KUBE_PROXY_HOOK_RULES.map((h) => ({
  table: h.table,
  dstChain: h.target,
  srcChain: h.chain,
  comment: h.comment,
  extraArgs: h.extraArgs,
}));

/** The rule's arguments: extraArgs, then the comment (if any), then `-j dst` (kube-proxy's order). */
export function hookArgs(h: HookRule): string[] {
  return [...h.extraArgs, ...(h.comment ? ['-m', 'comment', '--comment', h.comment] : []), '-j', h.dstChain];
}

export interface HookReport {
  /** Chains that `-N` created (they did not exist). */
  readonly createdChains: readonly string[];
  /** Hook rules that were missing and inserted at position 1. */
  readonly inserted: readonly HookRule[];
}

/**
 * kube-proxy's full-sync hook installation, call for call: for each rule, `-N dst` (EnsureChain),
 * `-C src args`, and `-I src args` when `-C` says it is missing. Existing rules stay where they are.
 */
export async function ensureHooks(nf: Netfilter, family: Family, rules: readonly HookRule[] = HOOK_RULES): Promise<HookReport> {
  const createdChains: string[] = [];
  const inserted: HookRule[] = [];
  for (const h of rules) {
    if (await ensureChain(nf, family, h.table, h.dstChain)) createdChains.push(`${h.table}/${h.dstChain}`);
    const args = hookArgs(h);
    const check = await nf.run(family, ['-t', h.table, '-C', h.srcChain, ...args]);
    if (check.code === 0) continue;
    // Exit 1 = no such rule; anything else (2 = bad rule or missing chain) is a real failure.
    if (check.code !== 1) throw new NetfilterCommandError('iptables', ['-t', h.table, '-C', h.srcChain, ...args], check.code, check.stderr);
    const ins = await nf.run(family, ['-t', h.table, '-I', h.srcChain, ...args]);
    if (ins.code !== 0) throw new NetfilterCommandError('iptables', ['-t', h.table, '-I', h.srcChain, ...args], ins.code, ins.stderr);
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
export async function missingHooks(nf: Netfilter, family: Family, rules: readonly HookRule[] = HOOK_RULES): Promise<HookRule[]> {
  const missing: HookRule[] = [];
  for (const h of rules) {
    const check = await nf.run(family, ['-t', h.table, '-C', h.srcChain, ...hookArgs(h)]);
    // 1: no such rule; 2: the target chain does not exist yet (so neither does the rule).
    if (check.code !== 0) missing.push(h);
  }
  return missing;
}

/** The hook rule as iptables-save prints it. */
export function hookLine(h: HookRule): string {
  return `-A ${h.srcChain} ${hookArgs(h).map((w) => (/[\s"]/.test(w) || w === '' ? `"${w}"` : w)).join(' ')}`;
}
