/**
 * The rulesets indexed for the walk: chains by name with their rules read once (rule.ts), sets and
 * maps with their elements, and the base chains of each hook in the order the kernel runs them.
 */
import type { Chain, Element, NftMap, NftRuleset, NftSet, Rule } from '../ir.js';
import type { NftBaseChainUse, NftHook, NftRuleRef } from './result.js';
import { parseStatements, type Stmt } from './rule.js';

export interface ReadRule {
  readonly ref: NftRuleRef;
  readonly stmts: readonly Stmt[];
}

export interface IndexedTable {
  readonly rs: NftRuleset;
  readonly label: string;
  readonly chains: ReadonlyMap<string, { readonly chain: Chain; readonly rules: readonly ReadRule[] }>;
  readonly sets: ReadonlyMap<string, NftSet | NftMap>;
  readonly elements: ReadonlyMap<string, readonly Element[]>;
}

export interface BaseEntry extends NftBaseChainUse {
  readonly at: IndexedTable;
}

const cache = new WeakMap<NftRuleset, IndexedTable>();

export function ruleText(r: Rule): string {
  return r.words.join(' ');
}

export function indexTable(rs: NftRuleset): IndexedTable {
  const hit = cache.get(rs);
  if (hit) return hit;
  const label = `${rs.table.family} ${rs.table.name}`;
  const byChain = new Map<string, Rule[]>();
  for (const r of rs.rules) {
    const list = byChain.get(r.chain) ?? [];
    list.push(r);
    byChain.set(r.chain, list);
  }
  const chains = new Map<string, { chain: Chain; rules: ReadRule[] }>();
  for (const chain of rs.chains) {
    const rules = (byChain.get(chain.name) ?? []).map((r, i) => ({
      ref: { table: label, chain: chain.name, index: i + 1, handle: r.handle ?? null, text: ruleText(r), comment: r.comment ?? null },
      stmts: parseStatements(r.words),
    }));
    chains.set(chain.name, { chain, rules });
  }
  const sets = new Map<string, NftSet | NftMap>();
  for (const s of [...rs.sets, ...rs.maps]) sets.set(s.name, s);
  const elements = new Map<string, Element[]>();
  for (const e of rs.elements) {
    const list = elements.get(e.container) ?? [];
    list.push(e);
    elements.set(e.container, list);
  }
  const t = { rs, label, chains, sets, elements };
  cache.set(rs, t);
  return t;
}

/** Base chains of `hook` that see packets of `family`, by priority; equal priorities keep table then chain order. */
export function baseChainsOf(tables: readonly IndexedTable[], family: 4 | 6, hook: NftHook): BaseEntry[] {
  const out: BaseEntry[] = [];
  for (const t of tables) {
    const f = t.rs.table.family;
    if (!(f === 'inet' || (f === 'ip' && family === 4) || (f === 'ip6' && family === 6))) continue;
    for (const c of t.rs.chains) {
      if (c.base?.hook !== hook) continue;
      out.push({ at: t, table: t.label, chain: c.name, type: c.base.type, hook, priority: c.base.priority, policy: c.policy ?? 'accept' });
    }
  }
  return out.map((e, i) => [e, i] as const).sort((a, b) => a[0].priority - b[0].priority || a[1] - b[1]).map(([e]) => e);
}
