/**
 * A synthetic nftables ruleset shaped like kube-proxy's `ip kube-proxy` table (pkg/proxy/nftables
 * proxier.go syncProxyRules) for N ClusterIP Services × E endpoints: the fixed objects of kube-proxy's
 * own TestOverallNFTablesRules dump, and per Service a `cluster-ips` element, a `service-ips` verdict
 * map element, a `service-` chain (masquerade check, `numgen random mod E vmap`) and E `endpoint-`
 * chains (hairpin masquerade, dnat). Deterministic, so runs compare; `changed` moves one Service's
 * first endpoint (what a one-Service update looks like).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nftEndpointChainBase, nftEndpointNames, nftServiceChainNames, nftServicePortChainBase, isNftServiceChain, isNftAffinitySet } from '@svcrules/core';
import type { Chain, Element, NftRuleset, Rule } from '@svcrules/nftables';
import { parseDump } from '@svcrules/nftables';
import { FIXTURES } from './fixtures.js';

export interface NftShape {
  readonly services: number;
  readonly endpoints: number;
  /** Which Service (index) has its first endpoint moved, if any. */
  readonly changed?: number | undefined;
  /** A different address for the moved endpoint (default 1: each value is another state). */
  readonly generation?: number;
}

let fixed: NftRuleset | undefined;

/** The table, base and helper chains, sets and maps of kube-proxy's IPv4 test fake, without any Service. */
export function fixedKubeProxyObjects(): NftRuleset {
  if (fixed) return fixed;
  const rs = parseDump(readFileSync(join(FIXTURES, 'compile-nft/upstream/TestOverallNFTablesRules/expected.nft'), 'utf8'));
  fixed = {
    table: rs.table,
    chains: rs.chains.filter((c) => !isNftServiceChain(c.name)),
    sets: rs.sets.filter((s) => !isNftAffinitySet(s.name)),
    maps: rs.maps,
    rules: rs.rules.filter((r) => !isNftServiceChain(r.chain)),
    elements: rs.elements.filter((e) => e.container === 'nodeport-ips'),
  };
  return fixed;
}

const clusterIP = (i: number) => `172.30.${(i >> 8) & 255}.${i & 255}`;
const endpointIP = (i: number, j: number) => `10.${(i >> 8) & 255}.${i & 255}.${j + 1}`;

/** The ruleset of `shape`, in kube-proxy's object shapes and names. */
export function kubeProxyShapedRuleset(shape: NftShape): NftRuleset {
  if (shape.services > 65536 || shape.endpoints > 250) throw new Error('nft shape: at most 65536 Services × 250 endpoints');
  const base = fixedKubeProxyObjects();
  const chains: Chain[] = [...base.chains];
  const rules: Rule[] = [...base.rules];
  const elements: Element[] = [...base.elements];
  const words = (text: string) => text.split(' ');
  for (let i = 0; i < shape.services; i++) {
    const ns = `ns${i}`;
    const name = `svc${i}`;
    const ip = clusterIP(i);
    const svcChain = nftServiceChainNames(nftServicePortChainBase(ns, name, 'tcp', 'p80')).service;
    const eps: string[] = [];
    for (let j = 0; j < shape.endpoints; j++) {
      const moved = shape.changed === i && j === 0;
      const epIP = moved ? `10.255.${(shape.generation ?? 1) & 255}.${1 + ((shape.generation ?? 1) >> 8)}` : endpointIP(i, j);
      const ep = nftEndpointNames(nftEndpointChainBase(ns, name, 'tcp', 'p80', `${epIP}:80`)).chain;
      eps.push(ep);
      chains.push({ name: ep });
      rules.push({ chain: ep, words: words(`ip saddr ${epIP} jump mark-for-masquerade`) });
      rules.push({ chain: ep, words: words(`meta l4proto tcp dnat to ${epIP}:80`) });
    }
    chains.push({ name: svcChain });
    rules.push({ chain: svcChain, words: words(`ip daddr ${ip} ip saddr != 10.0.0.0/8 jump mark-for-masquerade`) });
    if (eps.length > 0) {
      const vmap = eps.map((e, j) => `${j} : goto ${e}`).join(' , ');
      rules.push({ chain: svcChain, words: words(`numgen random mod ${eps.length} vmap { ${vmap} }`) });
    }
    const comment = `${ns}/${name}:p80`;
    elements.push({ container: 'cluster-ips', key: [ip] });
    if (eps.length > 0) elements.push({ container: 'service-ips', key: [ip, 'tcp', '80'], value: [`goto ${svcChain}`] });
    else elements.push({ container: 'no-endpoint-services', key: [ip, 'tcp', '80'], value: ['goto reject-chain'], comment });
  }
  return { ...base, chains, rules, elements };
}
