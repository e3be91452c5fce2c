import type { Command, Plan, Ruleset, Table } from '@svcrules/iptables';
import { assertRenderable } from '@svcrules/iptables';

/**
 * A full sync that replaces whole tables instead of loading with --noflush.
 *
 * Why: iptables-nft's --noflush restore grows quadratically with the rules it loads (measured: 1k
 * services × 10 endpoints 7.8 s, 2k 35 s, 10k did not finish in 7 min; declaring the chains first does
 * not help), while a restore that replaces the table grows linearly (0.8 s, 1.7 s, 16.7 s). A full sync
 * already read the tables with iptables-save, so it can re-emit them: every chain and rule it does not
 * own verbatim (built-in chains with their policies, counters and rules, the hook rules, other
 * components' chains), its own chains as planned, the chains the plan deletes left out.
 *
 * The cost: a rule another component adds to the same table between the read and the restore is lost.
 * kube-proxy avoids that window with --noflush, so this is opt-in (`fullSyncLoad: 'replace'`).
 *
 * Returns undefined when a host rule cannot be re-rendered safely (a word iptables-save printed with
 * quotes, backslashes or non-ASCII); the caller then loads with --noflush as usual.
 */
export function replacementTables(host: Ruleset, plan: Plan): Ruleset | undefined {
  const tables: Table[] = [];
  for (const payload of plan.payload.tables) {
    const live = host.tables.find((t) => t.name === payload.name);
    const written = new Set(payload.chains.map((c) => c.name));
    const deleted = new Set(plan.deleted.filter((c) => c.table === payload.name).map((c) => c.chain));
    const kept = (chain: string) => !written.has(chain) && !deleted.has(chain);
    const commands: Command[] = [];
    for (const c of live?.commands ?? []) if (c.kind === 'append' && kept(c.chain)) commands.push(c);
    for (const c of payload.commands) if (c.kind === 'append') commands.push(c);
    const table: Table = {
      name: payload.name,
      // The plan declares (flushes) a chain before its -X: here a deleted chain is simply absent.
      chains: [...(live?.chains ?? []).filter((c) => kept(c.name)), ...payload.chains.filter((c) => !deleted.has(c.name))],
      commands,
    };
    try {
      assertRenderable(table);
    } catch {
      return undefined;
    }
    tables.push(table);
  }
  return { tables };
}
