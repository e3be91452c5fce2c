import type { AppendCommand, Plan, Ruleset, TableName } from '@svcrules/iptables';
import { chainsOf, ruleText } from '@svcrules/iptables';
import type { HookRule } from './hooks.js';
import { hookLine } from './hooks.js';
import type { HostView } from './host-view.js';

/** What an apply would change in one chain, as iptables-save lines. */
export interface ChainDiff {
  readonly table: TableName;
  readonly chain: string;
  /** new: created; changed: rules differ; reordered: same rules, other order; deleted: -X; hooks: missing jump rules in a built-in chain. */
  readonly status: 'new' | 'changed' | 'reordered' | 'deleted' | 'hooks';
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** Multiset difference a - b (order kept). */
function minus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

/**
 * Per chain, the rules an apply would add and remove: the plan's changed and deleted chains compared
 * with the host, in save form; missing hook rules come first. Rules are compared as multisets
 * (O(n) even for a 10k-rule KUBE-SERVICES); a pure order change shows as `reordered`.
 */
export function diffChains(host: HostView, desired: Ruleset, p: Plan, missingHooks: readonly HookRule[] = []): ChainDiff[] {
  const out: ChainDiff[] = [];
  const hooksByChain = new Map<string, HookRule[]>();
  for (const h of missingHooks) {
    const key = `${h.table}\0${h.chain}`;
    hooksByChain.set(key, [...(hooksByChain.get(key) ?? []), h]);
  }
  for (const [key, hs] of hooksByChain) {
    const [table, chain] = key.split('\0') as [TableName, string];
    out.push({ table, chain, status: 'hooks', added: hs.map(hookLine), removed: [] });
  }
  const want = chainsOf(desired);
  const live = (t: TableName, c: string) => host.rules(t, c)?.map((r) => ruleText(c, r.args));
  for (const { table, chain } of p.changed) {
    const desiredLines = (want.get(table)?.get(chain) ?? []).map((r: AppendCommand) => ruleText(chain, host.saveForm(r)));
    const liveLines = live(table, chain);
    if (liveLines === undefined) {
      out.push({ table, chain, status: 'new', added: desiredLines, removed: [] });
      continue;
    }
    const added = minus(desiredLines, liveLines);
    const removed = minus(liveLines, desiredLines);
    out.push({ table, chain, status: added.length + removed.length === 0 ? 'reordered' : 'changed', added, removed });
  }
  for (const { table, chain } of p.deleted) out.push({ table, chain, status: 'deleted', added: [], removed: live(table, chain) ?? [] });
  return out;
}

/** Text for people; `color` adds ANSI red/green (only on a TTY). */
export function formatDiff(diffs: readonly ChainDiff[], family: string, color: boolean): string {
  const red = (s: string) => (color ? `\x1b[31m${s}\x1b[0m` : s);
  const green = (s: string) => (color ? `\x1b[32m${s}\x1b[0m` : s);
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  let out = '';
  for (const d of diffs) {
    const what = d.status === 'hooks' ? 'missing jump rules' : d.status;
    out += bold(`${family} ${d.table} ${d.chain} (${what})`) + '\n';
    for (const l of d.removed) out += red(`- ${l}`) + '\n';
    for (const l of d.added) out += green(`+ ${l}`) + '\n';
  }
  return out;
}
