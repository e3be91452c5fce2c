/**
 * kube-proxy's jump ("hook") rules from the built-in chains into its own chains (proxier.go
 * iptablesJumpChains and iptablesKubeletJumpChains; docs/kube-proxy-rules.md 5.2). They
 * are installed with `iptables -I` outside the restore payload, so compiled restore text has none;
 * the tracer adds them (as a fresh host would have them) to follow a packet from the hooks.
 */
import type { AppendCommand, ChainDecl, Ruleset, Table, TableName } from './ir.js';

export interface HookRule {
  readonly table: TableName;
  /** The built-in chain the rule is inserted into. */
  readonly chain: string;
  /** kube-proxy's chain it jumps to. */
  readonly target: string;
  readonly comment: string;
  readonly extraArgs: readonly string[];
}

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'] as const;

/** In kube-proxy's install order (iptablesJumpChains then iptablesKubeletJumpChains). */
export const KUBE_PROXY_HOOK_RULES: readonly HookRule[] = [
  { table: 'filter', chain: 'INPUT', target: 'KUBE-EXTERNAL-SERVICES', comment: 'kubernetes externally-visible service portals', extraArgs: NEW },
  { table: 'filter', chain: 'FORWARD', target: 'KUBE-EXTERNAL-SERVICES', comment: 'kubernetes externally-visible service portals', extraArgs: NEW },
  { table: 'filter', chain: 'INPUT', target: 'KUBE-NODEPORTS', comment: 'kubernetes health check service ports', extraArgs: [] },
  { table: 'filter', chain: 'FORWARD', target: 'KUBE-SERVICES', comment: 'kubernetes service portals', extraArgs: NEW },
  { table: 'filter', chain: 'OUTPUT', target: 'KUBE-SERVICES', comment: 'kubernetes service portals', extraArgs: NEW },
  { table: 'filter', chain: 'FORWARD', target: 'KUBE-FORWARD', comment: 'kubernetes forwarding rules', extraArgs: [] },
  { table: 'filter', chain: 'INPUT', target: 'KUBE-PROXY-FIREWALL', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'filter', chain: 'OUTPUT', target: 'KUBE-PROXY-FIREWALL', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'filter', chain: 'FORWARD', target: 'KUBE-PROXY-FIREWALL', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'nat', chain: 'OUTPUT', target: 'KUBE-SERVICES', comment: 'kubernetes service portals', extraArgs: [] },
  { table: 'nat', chain: 'PREROUTING', target: 'KUBE-SERVICES', comment: 'kubernetes service portals', extraArgs: [] },
  { table: 'nat', chain: 'POSTROUTING', target: 'KUBE-POSTROUTING', comment: 'kubernetes postrouting rules', extraArgs: [] },
  { table: 'filter', chain: 'INPUT', target: 'KUBE-FIREWALL', comment: '', extraArgs: [] },
  { table: 'filter', chain: 'OUTPUT', target: 'KUBE-FIREWALL', comment: '', extraArgs: [] },
];

/** The rule's arguments as kube-proxy builds them: extra args, comment, jump. */
export function hookRuleArgs(h: HookRule): string[] {
  return [...h.extraArgs, ...(h.comment === '' ? [] : ['-m', 'comment', '--comment', h.comment]), '-j', h.target];
}

function jumpsTo(cmd: AppendCommand, target: string): boolean {
  for (let i = 0; i + 1 < cmd.args.length; i++) {
    const w = cmd.args[i];
    if ((w === '-j' || w === '-g' || w === '--jump' || w === '--goto') && cmd.args[i + 1] === target) return true;
  }
  return false;
}

export interface HookedRuleset {
  readonly ruleset: Ruleset;
  /** The hook rules that were missing and were added (empty when the ruleset already had them). */
  readonly added: readonly HookRule[];
}

/**
 * For a ruleset without any hook (compiled restore text), adds each hook rule whose kube-proxy
 * chain is declared in the ruleset; declares the built-in chain (policy ACCEPT) when missing. Added
 * rules go first in their chain, in the order repeated `iptables -I` leaves them.
 */
export function withKubeProxyHooks(ruleset: Ruleset): HookedRuleset {
  const added: HookRule[] = [];
  // A ruleset with any of the hooks is a live node's dump: it has exactly the hooks its kube-proxy
  // version installed (older ones installed fewer), so none is added.
  const hasAny = ruleset.tables.some((t) => t.commands.some((c) => c.kind === 'append' && KUBE_PROXY_HOOK_RULES.some((h) => h.table === t.name && h.chain === c.chain && jumpsTo(c, h.target))));
  if (hasAny) return { ruleset, added };
  const tables: Table[] = ruleset.tables.map((table) => {
    const declared = new Set(table.chains.map((c) => c.name));
    const mine = KUBE_PROXY_HOOK_RULES.filter((h) => h.table === table.name && declared.has(h.target));
    if (mine.length === 0) return table;
    // One pass over the table: which hook (built-in chain -> kube chain) jumps exist already.
    const present = new Set<string>();
    for (const c of table.commands) {
      if (c.kind !== 'append' || !mine.some((h) => h.chain === c.chain)) continue;
      for (const h of mine) if (h.chain === c.chain && jumpsTo(c, h.target)) present.add(`${h.chain} ${h.target}`);
    }
    const wanted = mine.filter((h) => !present.has(`${h.chain} ${h.target}`));
    if (wanted.length === 0) return table;
    added.push(...wanted);
    const chains: ChainDecl[] = [...table.chains];
    for (const h of wanted) {
      if (!chains.some((c) => c.name === h.chain)) chains.unshift({ name: h.chain, policy: 'ACCEPT', counters: '0:0' });
    }
    // Each -I puts its rule first, so the last installed ends up on top.
    const inserted: AppendCommand[] = [...wanted].reverse().map((h) => ({ kind: 'append', chain: h.chain, args: hookRuleArgs(h) }));
    return { ...table, chains, commands: [...inserted, ...table.commands] };
  });
  return { ruleset: { tables }, added };
}
