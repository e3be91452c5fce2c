/**
 * The typed nft objects, as knftables models the ones kube-proxy uses (`sigs.k8s.io/knftables`
 * objects.go): one table with its chains, sets, maps, rules and elements. Plain readonly data;
 * only render.ts knows the text and parse.ts reads it back.
 */

export type Family = 'ip' | 'ip6' | 'inet';
export type BaseChainType = 'filter' | 'nat' | 'route';
export type BaseChainHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export const FAMILIES: readonly Family[] = ['ip', 'ip6', 'inet'];
export const BASE_CHAIN_TYPES: readonly BaseChainType[] = ['filter', 'nat', 'route'];
export const BASE_CHAIN_HOOKS: readonly BaseChainHook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

export interface TableRef {
  readonly family: Family;
  readonly name: string;
}

export interface Table extends TableRef {
  readonly comment?: string;
}

/** A base chain hooks into the stack; the priority is the number knftables prints (`dstnat-10` → -110). */
export interface BaseChainSpec {
  readonly type: BaseChainType;
  readonly hook: BaseChainHook;
  readonly priority: number;
}

export interface Chain {
  readonly name: string;
  readonly base?: BaseChainSpec;
  readonly comment?: string;
  /** A base chain's policy as a host lists it (`policy drop;`); absent means accept, as knftables leaves it. */
  readonly policy?: 'accept' | 'drop';
}

/** A named set: `type` lists the key's data types (`ipv4_addr`, or `ipv4_addr . inet_proto`). */
export interface NftSet {
  readonly name: string;
  readonly type: readonly string[];
  readonly flags?: readonly string[];
  /** Element timeout in whole seconds (`timeout 10800s`). */
  readonly timeout?: number;
  readonly comment?: string;
}

/** A named map: `type key[0] . key[1] : value[0]` (a verdict map has value `['verdict']`). */
export interface NftMap extends NftSet {
  readonly valueType: readonly string[];
}

/**
 * `add rule … <chain> <words joined by spaces>[ comment "…"]`. A set reference is one word
 * (`@cluster-ips`), as knftables' Concat writes `"@", name` without a space.
 */
export interface Rule {
  readonly chain: string;
  readonly words: readonly string[];
  readonly comment?: string;
  /** The kernel's handle, when the rule was read from `nft -a list` or `nft -j list` (list/); never rendered. */
  readonly handle?: number;
}

/** An element of set or map `container`; `value` is present exactly for map elements. */
export interface Element {
  readonly container: string;
  readonly key: readonly string[];
  readonly value?: readonly string[];
  readonly comment?: string;
}

/** One table and everything in it: what knftables' Fake holds and `Dump()` prints. */
export interface NftRuleset {
  readonly table: Table;
  readonly chains: readonly Chain[];
  readonly sets: readonly NftSet[];
  readonly maps: readonly NftMap[];
  /** In order within each chain. */
  readonly rules: readonly Rule[];
  /** In order within each set or map. */
  readonly elements: readonly Element[];
}

/** One operation of a transaction (`nft -f` input): the verbs kube-proxy uses. */
export type Operation =
  | { readonly verb: 'add'; readonly kind: 'table'; readonly table: Table }
  | { readonly verb: 'flush' | 'delete'; readonly kind: 'table'; readonly table: TableRef }
  | { readonly verb: 'add'; readonly kind: 'chain'; readonly table: TableRef; readonly chain: Chain }
  | { readonly verb: 'flush' | 'delete'; readonly kind: 'chain' | 'set' | 'map'; readonly table: TableRef; readonly name: string }
  | { readonly verb: 'add'; readonly kind: 'set'; readonly table: TableRef; readonly set: NftSet }
  | { readonly verb: 'add'; readonly kind: 'map'; readonly table: TableRef; readonly map: NftMap }
  | { readonly verb: 'add'; readonly kind: 'rule'; readonly table: TableRef; readonly rule: Rule }
  | { readonly verb: 'add'; readonly kind: 'element'; readonly table: TableRef; readonly element: Element }
  | { readonly verb: 'delete'; readonly kind: 'element'; readonly table: TableRef; readonly container: string; readonly key: readonly string[] };

export interface Transaction {
  readonly operations: readonly Operation[];
}

export function tableRef(t: TableRef): TableRef {
  return { family: t.family, name: t.name };
}
