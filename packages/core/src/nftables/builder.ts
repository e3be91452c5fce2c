import type { Chain, Element, Family, NftMap, NftRuleset, NftSet, Rule } from '@svcrules/nftables';
import { elementKeyText } from '@svcrules/nftables';
import { sortedByName } from './name-order.js';

/**
 * The `kube-proxy` table as one full sync leaves it, collected the way knftables' Fake stores what
 * a transaction adds: a chain, set or map added twice is kept once (`ensureChain`), an element
 * whose key is already present replaces the old one in place only when its value differs
 * (`nftElementStorage.ensureElem` compares values, not comments), rules append to their chain.
 */
export class TableBuilder {
  /** Every chain declared, in order, duplicates included: the first of a name wins in `ruleset()`. */
  private readonly chains: Chain[] = [];
  /** Every rule, in the order added. */
  private readonly rules: Rule[] = [];
  /** Per rule: the index in `chains` of its chain, or -1 when the rule came by name (found in `ruleset()`). */
  private ruleChain = new Int32Array(1024);
  private readonly sets = new Map<string, NftSet>();
  private readonly maps = new Map<string, NftMap>();
  private readonly elements = new Map<string, Map<string, Element>>();

  constructor(
    readonly family: Family,
    readonly name: string,
  ) {}

  chain(chain: Chain): void {
    this.chains.push(chain);
  }

  set(set: NftSet): void {
    if (!this.sets.has(set.name)) this.sets.set(set.name, set);
  }

  map(map: NftMap): void {
    if (!this.maps.has(map.name)) this.maps.set(map.name, map);
    if (!this.elements.has(map.name)) this.elements.set(map.name, new Map());
  }

  /**
   * Chains and rules of one service port: `chains` declared in order, then each of `rules` added
   * to `chains[ruleChains[i]]` (-1: to the chain its name says). The rules' chain is known by
   * index, so no rule is looked up by name.
   */
  chainsAndRules(chains: readonly Chain[], rules: readonly Rule[], ruleChains: readonly number[]): void {
    const base = this.chains.length;
    for (let i = 0; i < chains.length; i++) this.chains.push(chains[i]!);
    for (let i = 0; i < rules.length; i++) this.push(rules[i]!, ruleChains[i]! < 0 ? -1 : base + ruleChains[i]!);
  }

  rule(chain: string, words: readonly string[], comment?: string): void {
    this.addRule(comment === undefined ? { chain, words } : { chain, words, comment });
  }

  /** A rule of the chain its name says, declared before or after it. */
  addRule(rule: Rule): void {
    this.push(rule, -1);
  }

  private push(rule: Rule, chainIndex: number): void {
    const n = this.rules.length;
    if (n === this.ruleChain.length) {
      const bigger = new Int32Array(2 * n);
      bigger.set(this.ruleChain);
      this.ruleChain = bigger;
    }
    this.ruleChain[n] = chainIndex;
    this.rules.push(rule);
  }

  /** The element now under its key, when adding `e` replaced one with a different value. */
  element(e: Element): Element | undefined {
    let container = this.elements.get(e.container);
    if (container === undefined) this.elements.set(e.container, (container = new Map()));
    const key = elementKeyText(e);
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
   * by name (a chain declared twice once, as first declared), rules chain by chain and elements
   * set by set, then map by map (each in the order added). Rules and elements of undeclared chains
   * or containers come last, in the order added, for the renderers to refuse.
   */
  ruleset(comment: string): NftRuleset {
    const declared = this.chains;
    const order = sortedByName(declared.map((_, i) => i), (i) => declared[i]!.name);
    // Each declared chain's place among the chains kept; a repeated name shares its first's place.
    const place = new Int32Array(declared.length);
    const chains: Chain[] = [];
    for (const i of order) {
      const c = declared[i]!;
      if (chains.length > 0 && chains[chains.length - 1]!.name === c.name) place[i] = chains.length - 1;
      else {
        place[i] = chains.length;
        chains.push(c);
      }
    }
    // A counting sort of the rules by their chain's place (stable: each chain's rules stay in the order added).
    const rules = this.rules;
    const placeOf = new Int32Array(rules.length);
    const starts = new Int32Array(chains.length + 2);
    for (let r = 0; r < rules.length; r++) {
      const ci = this.ruleChain[r]!;
      const p = ci >= 0 ? place[ci]! : placeByName(chains, rules[r]!.chain);
      placeOf[r] = p;
      starts[p + 1]!++;
    }
    for (let p = 1; p < starts.length; p++) starts[p]! += starts[p - 1]!;
    const ordered = new Array<Rule>(rules.length);
    for (let r = 0; r < rules.length; r++) ordered[starts[placeOf[r]!]!++] = rules[r]!;
    const sets = sortedByName([...this.sets.values()], (x) => x.name);
    const maps = sortedByName([...this.maps.values()], (x) => x.name);
    return {
      table: { family: this.family, name: this.name, comment },
      chains,
      sets,
      maps,
      rules: ordered,
      elements: elementsInOrder([...sets, ...maps], this.elements),
    };
  }
}

/** The index of the chain named `name` in `chains` (sorted by name), or `chains.length` when none is. */
function placeByName(chains: readonly Chain[], name: string): number {
  let lo = 0;
  let hi = chains.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (chains[mid]!.name < name) lo = mid + 1;
    else hi = mid;
  }
  return lo < chains.length && chains[lo]!.name === name ? lo : chains.length;
}

/** The elements of each container in `order`, then those of containers not in it. */
function elementsInOrder(order: readonly { readonly name: string }[], containers: ReadonlyMap<string, ReadonlyMap<string, Element>>): Element[] {
  const out: Element[] = [];
  const named = new Set(order.map((c) => c.name));
  for (const { name } of order) for (const e of containers.get(name)?.values() ?? []) out.push(e);
  for (const [name, es] of containers) if (!named.has(name)) out.push(...es.values());
  return out;
}
