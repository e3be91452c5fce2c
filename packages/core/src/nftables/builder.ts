import type { Chain, Element, Family, NftMap, NftRuleset, NftSet, Rule } from '@svcrules/nftables';

/**
 * The `kube-proxy` table as one full sync leaves it, collected the way knftables' Fake stores what
 * a transaction adds: a chain, set or map added twice is kept once (`ensureChain`), an element
 * whose key is already present replaces the old one in place only when its value differs
 * (`nftElementStorage.ensureElem` compares values, not comments), rules append to their chain.
 */
export class TableBuilder {
  private readonly chains = new Map<string, Chain>();
  private readonly sets = new Map<string, NftSet>();
  private readonly maps = new Map<string, NftMap>();
  private readonly rules: Rule[] = [];
  private readonly elements = new Map<string, Map<string, Element>>();

  constructor(
    readonly family: Family,
    readonly name: string,
  ) {}

  hasChain(name: string): boolean {
    return this.chains.has(name);
  }

  chain(chain: Chain): void {
    if (!this.chains.has(chain.name)) this.chains.set(chain.name, chain);
  }

  set(set: NftSet): void {
    if (!this.sets.has(set.name)) this.sets.set(set.name, set);
  }

  map(map: NftMap): void {
    if (!this.maps.has(map.name)) this.maps.set(map.name, map);
    if (!this.elements.has(map.name)) this.elements.set(map.name, new Map());
  }

  rule(chain: string, words: readonly string[], comment?: string): void {
    this.rules.push(comment === undefined ? { chain, words } : { chain, words, comment });
  }

  addRule(rule: Rule): void {
    this.rules.push(rule);
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

  ruleset(comment: string): NftRuleset {
    return {
      table: { family: this.family, name: this.name, comment },
      chains: [...this.chains.values()],
      sets: [...this.sets.values()],
      maps: [...this.maps.values()],
      rules: this.rules,
      elements: [...this.elements.values()].flatMap((c) => [...c.values()]),
    };
  }
}
