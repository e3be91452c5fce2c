/**
 * The planner: from what is there now and the desired ruleset, the smallest `iptables-restore
 * --noflush` payload that makes the chains the caller owns equal to the desired ones and touches
 * nothing else. Pure and Kubernetes-agnostic: which chains are rewritten every time and which may be
 * deleted is the caller's policy (the applier passes kube-proxy's).
 *
 * Restore semantics it relies on (see restore-semantics.ts): declaring a chain flushes it, even with
 * --noflush; a chain that is not declared keeps its rules; `-X` needs the chain empty and unreferenced,
 * so a stale chain is declared (flushed) first and every chain that referenced it is rewritten or
 * deleted in the same table block.
 */
import type { AppendCommand, ChainDecl, Command, Ruleset, Table, TableName } from './ir.js';
import { TemplateRule } from './ir.js';
import { findJump } from './targets.js';

/** What exists now (the host read back, or a record of what was last applied). */
export interface PlanCurrent {
  /** Tables to look at for stale chains besides the desired ones. */
  tables(): Iterable<TableName>;
  /** Names of the chains that exist in `table` (built-ins may be included; they are never deleted). */
  chains(table: TableName): Iterable<string>;
  /** Whether `chain` exists in `table` holding exactly `rules`, in this order. */
  matches(table: TableName, chain: string, rules: readonly AppendCommand[]): boolean;
  /** Chains whose rules jump (`-j`/`-g`) to `chain`. Absent: references are not known. */
  referencedBy?(table: TableName, chain: string): Iterable<string>;
}

export interface PlanPolicy {
  /** Chains written in every payload that touches their table (kube-proxy's top-level chains). */
  alwaysWrite(table: TableName, chain: string): boolean;
  /** Chains that may be deleted when they exist now and the desired ruleset does not declare them. */
  deletable(table: TableName, chain: string): boolean;
  /**
   * Chains that are not deleted (something else jumps to them) but are emptied when they exist, hold
   * rules, and the desired ruleset does not declare them.
   */
  emptyWhenUndesired?(table: TableName, chain: string): boolean;
}

export interface ChainRef {
  readonly table: TableName;
  readonly chain: string;
}

export interface KeptChain extends ChainRef {
  /** Chains outside the plan that still jump to it: deleting it would fail the whole table. */
  readonly referencedBy: readonly string[];
}

export interface Plan {
  /** The restore payload; no tables when nothing differs (then nothing should be restored at all). */
  readonly payload: Ruleset;
  /** Chains declared and filled by the payload, in payload order. */
  readonly written: readonly ChainRef[];
  /** Of `written`, those whose content differs from now (or that do not exist yet). */
  readonly changed: readonly ChainRef[];
  /** Chains the payload deletes (`-X`). */
  readonly deleted: readonly ChainRef[];
  /** Stale chains left alone because something outside the plan references them. */
  readonly kept: readonly KeptChain[];
}

interface DesiredTable {
  readonly decls: readonly ChainDecl[];
  readonly rules: ReadonlyMap<string, readonly AppendCommand[]>;
}

function desiredTable(t: Table, grouped?: ReadonlyMap<string, readonly AppendCommand[]>): DesiredTable {
  const deleted = new Set<string>();
  for (const c of t.commands) if (c.kind === 'delete') deleted.add(c.chain);
  const decls = t.chains.filter((d) => !deleted.has(d.name));
  const undeclared = (chain: string) =>
    new Error(`plan: the desired ${t.name} table appends to chain ${chain}, which it does not declare (a desired ruleset must be complete)`);
  if (grouped) {
    // Already grouped by the caller (chainsOf of the same ruleset): only check it is complete. It
    // holds every declared chain, so the same count means nothing undeclared was appended to.
    if (grouped.size !== decls.length || decls.some((d) => !grouped.has(d.name))) {
      const declared = new Set(decls.map((d) => d.name));
      for (const chain of grouped.keys()) if (!declared.has(chain)) throw undeclared(chain);
    }
    return { decls, rules: grouped };
  }
  const rules = new Map<string, AppendCommand[]>(decls.map((d) => [d.name, []]));
  for (const c of t.commands) {
    if (c.kind !== 'append') continue;
    const list = rules.get(c.chain);
    if (!list) throw undeclared(c.chain);
    list.push(c);
  }
  return { decls, rules };
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The minimal payload turning `current` into `desired` for the chains `policy` lets it touch.
 * `grouped` is `chainsOf(desired)` when the caller has it already (saves a pass over every rule).
 */
export function plan(current: PlanCurrent, desired: Ruleset, policy: PlanPolicy, grouped?: ReadonlyMap<TableName, ReadonlyMap<string, readonly AppendCommand[]>>): Plan {
  const tables: Table[] = [];
  const written: ChainRef[] = [];
  const changed: ChainRef[] = [];
  const deleted: ChainRef[] = [];
  const kept: KeptChain[] = [];

  const order: TableName[] = desired.tables.map((t) => t.name);
  for (const name of current.tables()) if (!order.includes(name)) order.push(name);

  for (const name of order) {
    const source = desired.tables.find((t) => t.name === name);
    const want: DesiredTable = source ? desiredTable(source, grouped?.get(name) ?? (grouped ? new Map() : undefined)) : { decls: [], rules: new Map() };

    const differs = new Set<string>();
    for (const d of want.decls) if (!current.matches(name, d.name, want.rules.get(d.name)!)) differs.add(d.name);

    const stale: string[] = [];
    const empty: string[] = [];
    for (const chain of current.chains(name)) {
      if (want.rules.has(chain)) continue;
      if (policy.deletable(name, chain)) stale.push(chain);
      else if (policy.emptyWhenUndesired?.(name, chain) && !current.matches(name, chain, [])) empty.push(chain);
    }
    stale.sort(byteOrder);
    empty.sort(byteOrder);
    for (const chain of empty) differs.add(chain);

    if (differs.size === 0 && stale.length === 0) continue;

    const write = [
      ...want.decls.filter((d) => differs.has(d.name) || policy.alwaysWrite(name, d.name)),
      ...empty.map((c) => ({ name: c, policy: '-', counters: '0:0' })),
    ];
    const rewritten = new Set(write.map((d) => d.name));

    // A stale chain still referenced by a chain this payload neither rewrites nor deletes cannot go.
    const staleSet = new Set(stale);
    const drop: string[] = [];
    for (const chain of stale) {
      const refs = current.referencedBy ? [...current.referencedBy(name, chain)].filter((r) => !rewritten.has(r) && !staleSet.has(r)) : [];
      if (refs.length > 0) kept.push({ table: name, chain, referencedBy: refs.sort(byteOrder) });
      else drop.push(chain);
    }
    // Dropping a kept chain's referrers is not needed; but a kept chain's own jumps keep their targets
    // alive, so a stale chain referenced by a kept one is kept too.
    let again = true;
    while (again) {
      again = false;
      for (const chain of [...drop]) {
        const keptRefs = current.referencedBy ? [...current.referencedBy(name, chain)].filter((r) => kept.some((k) => k.table === name && k.chain === r)) : [];
        if (keptRefs.length > 0) {
          drop.splice(drop.indexOf(chain), 1);
          kept.push({ table: name, chain, referencedBy: keptRefs.sort(byteOrder) });
          again = true;
        }
      }
    }

    if (differs.size === 0 && drop.length === 0) continue;

    const chains: ChainDecl[] = [...write, ...drop.map((c) => ({ name: c, policy: '-', counters: '0:0' }))];
    const commands: Command[] = [];
    // Chain by chain (a chain's rules keep their order; the order between chains does not matter).
    for (const d of write) for (const c of want.rules.get(d.name) ?? []) commands.push(c);
    for (const c of drop) commands.push({ kind: 'delete', chain: c });
    tables.push({ name, chains, commands });
    for (const d of write) {
      written.push({ table: name, chain: d.name });
      if (differs.has(d.name)) changed.push({ table: name, chain: d.name });
    }
    for (const c of drop) deleted.push({ table: name, chain: c });
  }
  return { payload: { tables }, written, changed, deleted, kept };
}

/** A PlanCurrent over plain data: table -> chain -> rules (e.g. a record of what was last applied). */
export function currentFromChains(chains: ReadonlyMap<TableName, ReadonlyMap<string, readonly AppendCommand[]>>): PlanCurrent {
  return {
    tables: () => chains.keys(),
    chains: (t) => chains.get(t)?.keys() ?? [],
    matches(t, chain, rules) {
      const have = chains.get(t)?.get(chain);
      return have !== undefined && sameRules(have, rules);
    },
    referencedBy: referenceIndex(chains),
  };
}

/**
 * `referencedBy` over grouped chains: the reverse index (target -> referring chains) is built on the
 * first question, once, so asking about many stale chains stays linear in the rules.
 */
export function referenceIndex(chains: ReadonlyMap<TableName, ReadonlyMap<string, readonly AppendCommand[]>>): (table: TableName, chain: string) => readonly string[] {
  const index = new Map<TableName, Map<string, string[]>>();
  return (table, chain) => {
    let byTarget = index.get(table);
    if (!byTarget) {
      byTarget = new Map();
      for (const [name, rules] of chains.get(table) ?? []) {
        for (const r of rules) {
          const target = jumpTarget(r.args);
          if (target === undefined) continue;
          const refs = byTarget.get(target);
          if (!refs) byTarget.set(target, [name]);
          else if (refs[refs.length - 1] !== name) refs.push(name);
        }
      }
      index.set(table, byTarget);
    }
    return byTarget.get(chain) ?? [];
  };
}

/**
 * Same chain and same words. Fast paths: the same object (an incremental compiler reuses them), and
 * two rules of one template with the same values. Otherwise (an unused value, values joined into one
 * word, another template of the same words) the words decide, one at a time, without building a
 * template rule's word array (its `args` getter would make and keep one per rule compared).
 */
export function sameRule(a: AppendCommand, b: AppendCommand): boolean {
  if (a === b) return true;
  if (a.chain !== b.chain) return false;
  const ta = a instanceof TemplateRule;
  const tb = b instanceof TemplateRule;
  if (ta && tb && a.template === b.template && a.v0 === b.v0 && a.v1 === b.v1 && a.v2 === b.v2 && a.v3 === b.v3) return true;
  if (!ta && !tb && a.args === b.args) return true;
  const n = ta ? a.template.words.length : a.args.length;
  if (n !== (tb ? b.template.words.length : b.args.length)) return false;
  for (let i = 0; i < n; i++) if ((ta ? a.word(i) : a.args[i]) !== (tb ? b.word(i) : b.args[i])) return false;
  return true;
}

/** Whether two rule lists are the same rules in the same order. */
export function sameRules(a: readonly AppendCommand[], b: readonly AppendCommand[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameRule(a[i]!, b[i]!)) return false;
  return true;
}

/** The chain or target after `-j`/`-g` (skipping free-text option values), if any. */
export function jumpTarget(args: readonly string[]): string | undefined {
  return findJump(args)?.target;
}

/** Groups a ruleset's appends by table and chain (declared chains with no rules map to []). */
export function chainsOf(ruleset: Ruleset): Map<TableName, Map<string, AppendCommand[]>> {
  const out = new Map<TableName, Map<string, AppendCommand[]>>();
  for (const t of ruleset.tables) {
    const m = new Map<string, AppendCommand[]>();
    for (const d of t.chains) m.set(d.name, []);
    for (const c of t.commands) {
      if (c.kind === 'delete') m.delete(c.chain);
      else {
        let list = m.get(c.chain);
        if (!list) m.set(c.chain, (list = []));
        list.push(c);
      }
    }
    out.set(t.name, m);
  }
  return out;
}
