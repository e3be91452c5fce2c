/**
 * Removing what the iptables applier installed, for a host that switches to nftables mode (kube-proxy's
 * `CleanupLeftovers` in pkg/proxy/iptables/proxier.go does the same for its own rules): the jump
 * ("hook") rules in the built-in chains, then the chains the applier writes, flushed and deleted in one
 * `iptables-restore --noflush` payload (each table commits atomically).
 *
 * Ownership: a chain is ours when the applier can write it (kube-proxy's top-level chains, per-service
 * chains in nat, the canary). Nothing else is touched. An owned chain that a foreign rule still jumps
 * to is kept, with every owned chain it reaches (deleting it would fail the table, and emptying it would
 * change what the foreign rule does). While kubelet's canary says a live kubelet owns KUBE-FIREWALL,
 * that chain and kubelet's jumps to it stay. A live kube-proxy (its canary) is refused unless forced.
 */
import type { ChainRef, HookRule, KeptChain, Table, TableName } from '@svcrules/iptables';
import { chainDecl, chainTarget, hookRuleArgs, render } from '@svcrules/iptables';
import {
  CANARY_TABLES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_CANARY,
  KUBE_PROXY_FIREWALL,
  KUBE_PROXY_HOOK_RULES,
  KUBE_SERVICES,
  SVCRULES_CANARY,
  isServiceChain,
} from '@svcrules/core';
import { NetfilterCommandError } from './errors.js';
import { defaultSaveForm, hostViewFromSave, type HostView, type SaveForm } from './host-view.js';
import type { Family, Netfilter } from './netfilter.js';

/** kubelet's marker chain (pkg/kubelet/kubelet_network_linux.go `KubeletCanaryChain`). */
export const KUBELET_CANARY = 'KUBE-KUBELET-CANARY';

const FILTER_CHAINS = new Set([KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_NODEPORTS, KUBE_FORWARD, KUBE_PROXY_FIREWALL, KUBE_FIREWALL, SVCRULES_CANARY, KUBE_PROXY_CANARY]);
const NAT_CHAINS = new Set([KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ, SVCRULES_CANARY, KUBE_PROXY_CANARY]);

/** Whether the applier (or, when forced, kube-proxy) owns `chain` of `table`. */
export function ownedChain(table: TableName, chain: string): boolean {
  if (table === 'filter') return FILTER_CHAINS.has(chain);
  if (table === 'nat') return NAT_CHAINS.has(chain) || isServiceChain(chain);
  // kube-proxy's canary also lives in mangle; the applier writes nothing there.
  return table === 'mangle' && chain === KUBE_PROXY_CANARY;
}

export interface IptablesCleanupOptions {
  readonly netfilter: Netfilter;
  readonly family: Family;
  /** Remove the chains even though kube-proxy's KUBE-PROXY-CANARY says a live kube-proxy owns them. */
  readonly force?: boolean;
  /** Report what would be removed; change nothing. */
  readonly dryRun?: boolean;
  readonly saveForm?: SaveForm;
}

export interface IptablesCleanupResult {
  readonly family: Family;
  /** Hook rules deleted (dry run: that would be), one entry per occurrence. */
  readonly hooks: readonly HookRule[];
  /** Chains flushed and deleted (dry run: that would be). */
  readonly chains: readonly ChainRef[];
  /** Owned chains left in place because a foreign rule still reaches them. */
  readonly kept: readonly KeptChain[];
  /** The iptables-restore payload; `''` when no chain is deleted. */
  readonly payload: string;
}

/** The chains belong to a live kube-proxy (its canary exists). */
export class KubeProxyOwnsChainsError extends Error {
  constructor(
    readonly family: Family,
    readonly tables: readonly TableName[],
  ) {
    super(
      `refusing to clean up: a live kube-proxy owns the ${family} KUBE-* chains (its ${KUBE_PROXY_CANARY} chain exists in ${tables.join(', ')}); ` +
        'stop kube-proxy first, or pass force to remove them anyway',
    );
    this.name = 'KubeProxyOwnsChainsError';
  }
}

async function readTables(nf: Netfilter, family: Family, tables: readonly TableName[], saveForm: SaveForm): Promise<HostView> {
  let text = '';
  for (const t of tables) text += await nf.save(family, t);
  return hostViewFromSave(text, family, saveForm);
}

/** A host rule's identity for comparing with hook rules: table, chain and its save-form words. */
const ruleKey = (table: TableName, chain: string, args: readonly string[]) => [table, chain, ...args].join('\0');
const hookKey = (host: HostView, h: HookRule) => ruleKey(h.table, h.chain, host.saveForm({ kind: 'append', chain: h.chain, args: hookRuleArgs(h) }));

/** Each hook rule once per occurrence on the host (compared in save form). */
function hookOccurrences(host: HostView, rules: readonly HookRule[]): HookRule[] {
  const found: HookRule[] = [];
  for (const h of rules) {
    const want = hookKey(host, h);
    for (const r of host.rules(h.table, h.chain) ?? []) if (ruleKey(h.table, h.chain, r.args) === want) found.push(h);
  }
  return found;
}

/** Deletes every occurrence of one hook rule (`-C` then `-D`, as iptables matches it, not as we print it). */
async function deleteHook(nf: Netfilter, family: Family, h: HookRule): Promise<number> {
  const args = hookRuleArgs(h);
  let deleted = 0;
  // A rule cannot occur more often than this in practice; the bound only guards against a runner that never says "absent".
  for (let i = 0; i < 64; i++) {
    const check = await nf.run(family, ['-t', h.table, '-C', h.chain, ...args]);
    if (check.code !== 0) return deleted; // 1: absent; 2: its target chain is gone, so is the rule
    const del = await nf.run(family, ['-t', h.table, '-D', h.chain, ...args]);
    if (del.code !== 0) throw new NetfilterCommandError('iptables', ['-t', h.table, '-D', h.chain, ...args], del.code, del.stderr);
    deleted++;
  }
  return deleted;
}

/**
 * The owned chains to delete and those a foreign rule keeps. `hooks`: hook rules still on the host (a
 * dry run), which are about to go and so keep nothing.
 */
function chainsToDelete(host: HostView, tables: readonly TableName[], hooks: readonly HookRule[]): Pick<IptablesCleanupResult, 'chains' | 'kept'> {
  const going = new Set(hooks.map((h) => hookKey(host, h)));
  const chains: ChainRef[] = [];
  const kept: KeptChain[] = [];
  for (const table of tables) {
    const kubelet = host.rules(table, KUBELET_CANARY) !== undefined;
    const owned = (c: string) => ownedChain(table, c) && !(kubelet && c === KUBE_FIREWALL);
    const names = [...host.chains(table)];
    const referencedBy = new Map<string, string[]>();
    for (const from of names) {
      if (owned(from)) continue;
      for (const r of host.rules(table, from) ?? []) {
        const target = chainTarget(r.args);
        if (target === undefined || !owned(target) || going.has(ruleKey(table, from, r.args))) continue;
        referencedBy.set(target, [...(referencedBy.get(target) ?? []), from]);
      }
    }
    // Everything an owned chain kept for a foreign rule reaches stays too.
    const queue = [...referencedBy.keys()];
    while (queue.length > 0) {
      const c = queue.pop()!;
      for (const r of host.rules(table, c) ?? []) {
        const t = chainTarget(r.args);
        if (t === undefined || !owned(t) || referencedBy.has(t)) continue;
        referencedBy.set(t, [c]);
        queue.push(t);
      }
    }
    for (const c of names) {
      if (!owned(c)) continue;
      const by = referencedBy.get(c);
      if (by) kept.push({ table, chain: c, referencedBy: [...new Set(by)] });
      else chains.push({ table, chain: c });
    }
  }
  return { chains, kept };
}

/** Removes the applier's iptables rules from one family of the host (see the file comment). */
export async function cleanupIptables(o: IptablesCleanupOptions): Promise<IptablesCleanupResult> {
  const nf = o.netfilter;
  const family = o.family;
  const saveForm = o.saveForm ?? defaultSaveForm;
  let host = await readTables(nf, family, CANARY_TABLES, saveForm);
  const kubeProxy = CANARY_TABLES.filter((t) => host.rules(t, KUBE_PROXY_CANARY) !== undefined);
  if (kubeProxy.length > 0 && !o.force) throw new KubeProxyOwnsChainsError(family, kubeProxy);
  // When forced, kube-proxy's canary in mangle goes too.
  const tables: TableName[] = kubeProxy.length > 0 ? [...CANARY_TABLES, 'mangle'] : [...CANARY_TABLES];
  if (tables.includes('mangle')) host = await readTables(nf, family, tables, saveForm);
  const kubelet = host.rules('filter', KUBELET_CANARY) !== undefined;
  const ours = KUBE_PROXY_HOOK_RULES.filter((h) => !(kubelet && h.target === KUBE_FIREWALL));
  let hooks: HookRule[];
  if (o.dryRun) hooks = hookOccurrences(host, ours);
  else {
    hooks = [];
    for (const h of ours) for (let n = await deleteHook(nf, family, h); n > 0; n--) hooks.push(h);
    if (hooks.length > 0) host = await readTables(nf, family, tables, saveForm);
  }
  const { chains, kept } = chainsToDelete(host, tables, o.dryRun ? hooks : []);
  const blocks: Table[] = [];
  for (const name of tables) {
    const mine = chains.filter((c) => c.table === name).map((c) => c.chain);
    if (mine.length === 0) continue;
    blocks.push({ name, chains: mine.map(chainDecl), commands: mine.map((chain) => ({ kind: 'delete' as const, chain })) });
  }
  const payload = blocks.length > 0 ? render({ tables: blocks }) : '';
  if (payload && !o.dryRun) await nf.restore(family, payload, { noflush: true, counters: true });
  return { family, hooks, chains, kept, payload };
}
