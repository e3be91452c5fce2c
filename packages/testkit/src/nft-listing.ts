/**
 * What a table holds, as counts by name: chains (their rules), sets and maps (their elements). The
 * same summary from the model (`nftDeclared`) and from the kernel (`nftListed`, `nft -j list table`
 * in a namespace) says whether `nft -f` loaded exactly what the text declares.
 */
import { mustRunIn } from './netns.js';

/** The shape of an `NftRuleset` (`@svcrules/nftables`) this summary reads. */
export interface NftTableShape {
  readonly table: { readonly family: string; readonly name: string };
  readonly chains: readonly { readonly name: string }[];
  readonly sets: readonly { readonly name: string }[];
  readonly maps: readonly { readonly name: string }[];
  readonly rules: readonly { readonly chain: string }[];
  readonly elements: readonly { readonly container: string }[];
}

export interface NftCounts {
  chains: Record<string, number>;
  sets: Record<string, number>;
  maps: Record<string, number>;
}

type NftJson = { nftables: Record<string, { name?: string; chain?: string; elem?: unknown[] }>[] };

/** What `nft -j list table` shows in `ns` for the ruleset's table. */
export function nftListed(ns: string, rs: NftTableShape): NftCounts {
  const json = JSON.parse(mustRunIn(ns, 'nft', ['-j', 'list', 'table', rs.table.family, rs.table.name])) as NftJson;
  const out: NftCounts = { chains: {}, sets: {}, maps: {} };
  for (const o of json.nftables) {
    if (o['chain']) out.chains[o['chain'].name!] ??= 0;
    if (o['rule']) out.chains[o['rule'].chain!] = (out.chains[o['rule'].chain!] ?? 0) + 1;
    if (o['set']) out.sets[o['set'].name!] = o['set'].elem?.length ?? 0;
    if (o['map']) out.maps[o['map'].name!] = o['map'].elem?.length ?? 0;
  }
  return out;
}

/** The same counts from the model. */
export function nftDeclared(rs: NftTableShape): NftCounts {
  const count = (names: readonly string[], of: (n: string) => number) => Object.fromEntries(names.map((n) => [n, of(n)]));
  return {
    chains: count(rs.chains.map((c) => c.name), (n) => rs.rules.filter((r) => r.chain === n).length),
    sets: count(rs.sets.map((s) => s.name), (n) => rs.elements.filter((e) => e.container === n).length),
    maps: count(rs.maps.map((m) => m.name), (n) => rs.elements.filter((e) => e.container === n).length),
  };
}
