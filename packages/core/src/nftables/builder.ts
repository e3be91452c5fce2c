import type { Chain, Element, Family, NftMap, NftRuleset, NftSet, Rule } from '@svcrules/nftables';

/**
 * The `kube-proxy` table as one full sync leaves it, collected the way knftables' Fake stores what
 * a transaction adds: a chain, set or map added twice is kept once (`ensureChain`), an element
 * whose key is already present replaces the old one in place only when its value differs
 * (`nftElementStorage.ensureElem` compares values, not comments), rules append to their chain.
 */
/** A chain and its rules: one entry per name, so a rule finds its chain with the lookup that dedupes chains. */
interface ChainEntry {
  readonly chain: Chain;
  readonly rules: Rule[];
}

export class TableBuilder {
  private readonly chains = new Map<string, ChainEntry>();
  private readonly sets = new Map<string, NftSet>();
  private readonly maps = new Map<string, NftMap>();
  /** Rules of chains not (yet) declared, in the order added. */
  private readonly orphanRules: Rule[] = [];
  private readonly elements = new Map<string, Map<string, Element>>();

  constructor(
    readonly family: Family,
    readonly name: string,
  ) {}

  hasChain(name: string): boolean {
    return this.chains.has(name);
  }

  chain(chain: Chain): void {
    if (this.chains.has(chain.name)) return;
    const rules: Rule[] = [];
    // Rules added before their chain (rare: none of the compiler's) move in, keeping their order.
    if (this.orphanRules.length > 0) {
      const rest = this.orphanRules.filter((r) => r.chain !== chain.name || (rules.push(r), false));
      this.orphanRules.splice(0, this.orphanRules.length, ...rest);
    }
    this.chains.set(chain.name, { chain, rules });
  }

  set(set: NftSet): void {
    if (!this.sets.has(set.name)) this.sets.set(set.name, set);
  }

  map(map: NftMap): void {
    if (!this.maps.has(map.name)) this.maps.set(map.name, map);
    if (!this.elements.has(map.name)) this.elements.set(map.name, new Map());
  }

  rule(chain: string, words: readonly string[], comment?: string): void {
    this.addRule(comment === undefined ? { chain, words } : { chain, words, comment });
  }

  addRule(rule: Rule): void {
    const entry = this.chains.get(rule.chain);
    if (entry !== undefined) entry.rules.push(rule);
    else this.orphanRules.push(rule);
  }

  /** The element now under its key, when adding `e` replaced one with a different value. */
  element(e: Element): Element | undefined {
    let container = this.elements.get(e.container);
    if (container === undefined) this.elements.set(e.container, (container = new Map()));
    const key = e.key.join(' . ');
    const old = container.get(key);
    if (old === undefined) container.set(key, e);
    else if ((old.value ?? []).join(' . ') !== (e.value ?? []).join(' . ')) {
      container.set(key, e);
      return old;
    }
    return undefined;
  }

  /**
   * The table in `Fake.Dump()`'s order, which the renderers then only check: chains, sets and maps
   * by name, rules chain by chain and elements set by set, then map by map (each in the order added).
   * Rules and elements of undeclared chains or containers come last, for the renderers to refuse.
   */
  ruleset(comment: string): NftRuleset {
    const entries = sortedValues(this.chains);
    const chains: Chain[] = new Array<Chain>(entries.length);
    const rules: Rule[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      chains[i] = e.chain;
      for (let j = 0; j < e.rules.length; j++) rules.push(e.rules[j]!);
    }
    for (const r of this.orphanRules) rules.push(r);
    const sets = sortedValues(this.sets);
    const maps = sortedValues(this.maps);
    return {
      table: { family: this.family, name: this.name, comment },
      chains,
      sets,
      maps,
      rules,
      elements: elementsInOrder([...sets, ...maps], this.elements),
    };
  }
}

/** The values by key in code-unit order (`Array.prototype.sort`'s default, as `<` compares). */
function sortedValues<T>(m: ReadonlyMap<string, T>): T[] {
  return [...m.keys()].sort().map((k) => m.get(k)!);
}

/** The elements of each container in `order`, then those of containers not in it. */
function elementsInOrder(order: readonly { readonly name: string }[], containers: ReadonlyMap<string, ReadonlyMap<string, Element>>): Element[] {
  const out: Element[] = [];
  const named = new Set(order.map((c) => c.name));
  for (const { name } of order) for (const e of containers.get(name)?.values() ?? []) out.push(e);
  for (const [name, es] of containers) if (!named.has(name)) out.push(...es.values());
  return out;
}
