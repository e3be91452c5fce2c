/**
 * The UDP frontends of a kube-proxy nftables table and the endpoints each reaches, in the iptables
 * applier's UdpServiceMap form, so the stale-conntrack cleanup (../conntrack.ts) serves both modes.
 * Frontends are the `service-ips` elements (address . udp . port) and the `service-nodeports` ones
 * (udp . node port); the endpoints are the `dnat to` targets reachable through goto/jump, verdict-map
 * entries included (`numgen random mod N vmap { 0 : goto endpoint-… }`).
 */
import type { NftRuleset } from '@svcrules/nftables';
import type { UdpFrontend, UdpServiceMap } from '../conntrack.js';

export function nftUdpServiceMap(rs: NftRuleset): UdpServiceMap {
  const out = new Map<string, { frontend: UdpFrontend; endpoints: Set<string> }>();
  // Rules are grouped only when there is a UDP frontend to follow (most tables have few or none).
  let grouped: Map<string, (readonly string[])[]> | undefined;
  const rulesOf = (chain: string) => {
    if (grouped === undefined) {
      grouped = new Map();
      for (const r of rs.rules) {
        const list = grouped.get(r.chain);
        if (list === undefined) grouped.set(r.chain, [r.words]);
        else list.push(r.words);
      }
    }
    return grouped.get(chain);
  };
  const cache = new Map<string, Set<string>>();
  const reach = (chain: string, seen: Set<string>): Set<string> => {
    const hit = cache.get(chain);
    if (hit) return hit;
    const eps = new Set<string>();
    if (seen.has(chain)) return eps;
    seen.add(chain);
    for (const words of rulesOf(chain) ?? []) {
      words.forEach((w, i) => {
        const next = words[i + 1];
        if (next === undefined) return;
        if (w === 'to' && words[i - 1] === 'dnat') eps.add(next);
        else if ((w === 'goto' || w === 'jump') && rulesOf(next) !== undefined) for (const e of reach(next, seen)) eps.add(e);
      });
    }
    cache.set(chain, eps);
    return eps;
  };
  for (const e of rs.elements) {
    const target = e.value?.length === 1 ? /^(?:goto|jump) (\S+)$/.exec(e.value[0]!)?.[1] : undefined;
    if (target === undefined) continue;
    let frontend: UdpFrontend | undefined;
    if (e.container === 'service-ips' && e.key.length === 3 && e.key[1] === 'udp') frontend = { ip: e.key[0]!, port: Number(e.key[2]) };
    else if (e.container === 'service-nodeports' && e.key.length === 2 && e.key[0] === 'udp') frontend = { ip: undefined, port: Number(e.key[1]) };
    if (frontend === undefined || !Number.isInteger(frontend.port)) continue;
    const eps = reach(target, new Set());
    if (eps.size === 0) continue;
    const key = `${frontend.ip ?? '*'}:${frontend.port}`;
    let entry = out.get(key);
    if (!entry) out.set(key, (entry = { frontend, endpoints: new Set() }));
    for (const ep of eps) entry.endpoints.add(ep);
  }
  return out;
}
