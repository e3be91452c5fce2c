/**
 * Jump ("hook") rules from the built-in chains into a tool's own chains. A tool like kube-proxy
 * installs them with `iptables -I` outside its restore payload, so restore text has none; given
 * them, the tracer adds them (as a fresh host would have them) to follow a packet from the hooks.
 */
import type { AppendCommand, ChainDecl, Ruleset, Table, TableName } from '../ir.js';

export interface HookRule {
  readonly table: TableName;
  /** The built-in chain the rule is inserted into. */
  readonly chain: string;
  /** The tool's chain it jumps to. */
  readonly target: string;
  readonly comment: string;
  readonly extraArgs: readonly string[];
}

/** A tool's hook rules, in the order it installs them. */
export interface HookRules {
  /** Who installs them, for the trace's assumption ("kube-proxy"). */
  readonly installer: string;
  readonly rules: readonly HookRule[];
}

/** The rule's arguments as kube-proxy builds them: extra args, comment (when not empty), jump. */
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
 * For a ruleset without any of `rules` (restore text), adds each hook rule whose target chain is
 * declared in the ruleset; declares the built-in chain (policy ACCEPT) when missing. Added rules go
 * first in their chain, in the order repeated `iptables -I` leaves them.
 */
export function withHookRules(ruleset: Ruleset, rules: readonly HookRule[]): HookedRuleset {
  const added: HookRule[] = [];
  // A ruleset with any of the hooks is a live node's dump: it has exactly the hooks its installer's
  // version installed (older kube-proxies installed fewer), so none is added.
  const hasAny = ruleset.tables.some((t) => t.commands.some((c) => c.kind === 'append' && rules.some((h) => h.table === t.name && h.chain === c.chain && jumpsTo(c, h.target))));
  if (hasAny) return { ruleset, added };
  const tables: Table[] = ruleset.tables.map((table) => {
    const declared = new Set(table.chains.map((c) => c.name));
    const mine = rules.filter((h) => h.table === table.name && declared.has(h.target));
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
