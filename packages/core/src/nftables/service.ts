/**
 * One service port's objects in the `kube-proxy` table: the body of the service loop of kube-proxy's
 * nftables `syncProxyRules` (pkg/proxy/nftables/proxier.go), rendered from the shared plan. Only
 * what the nftables proxier decides differently from the iptables one is decided here: the source-
 * range chain exists without endpoints too, and the verdicts are map elements, not filter rules.
 */
import type { Chain, Element, NftSet, Rule } from '@svcrules/nftables';
import { checkedChain, checkedRule, elementProblem, setProblem, uncheckedChainProblem } from '@svcrules/nftables';
import type { CompileContext, LocalMatch } from '../context.js';
import type { EndpointInfo } from '../endpoints.js';
import { cidrContains, parseCIDR, parseIP } from '../ip.js';
import { nftEndpointChainBase, nftEndpointNames, nftServiceChainNames, nftServicePortChainBase } from '../kube-proxy/nft-names.js';
import type { NftEndpointNames } from '../kube-proxy/nft-names.js';
import type { ServicePortPlan } from '../service-plan.js';
import type { FamilyWords } from './family.js';

/** Everything one service port adds, in kube-proxy's operation order. */
export interface PortObjects {
  /** Made by `checkedChain`, as the rules by `checkedRule`. */
  readonly chains: Chain[];
  readonly sets: NftSet[];
  readonly elements: Element[];
  /** Made by `checkedRule`: their words are checked here, once, and not again by the renderers. */
  readonly rules: Rule[];
  /** The first chain `checkedChain` refused (that chain is not in `chains`). */
  chainProblem?: string;
  /** The first rule `checkedRule` refused (that rule is not in `rules`). */
  ruleProblem?: string;
}

const MASQ = ['jump', 'mark-for-masquerade'];

function localMatch(m: LocalMatch, negate: boolean): string[] {
  const not = negate ? ['!='] : [];
  if ('cidr' in m) return [m.cidr.includes(':') ? 'ip6' : 'ip', 'saddr', ...not, m.cidr];
  if ('interfaceName' in m) return ['iifname', ...not, m.interfaceName];
  return ['iifname', ...not, `${m.interfacePrefix}*`];
}

/** The `ip saddr != { … } drop` sources: the ranges, and the LB IPs when a range holds the node IP. */
function firewallSources(plan: ServicePortPlan, nodeIP: string | null): string[] {
  const node = nodeIP === null ? null : parseIP(nodeIP);
  const sources: string[] = [];
  let allowFromNode = false;
  for (const range of plan.info.sourceRanges) {
    if (sources.length > 0) sources.push(',');
    sources.push(range);
    const c = parseCIDR(range);
    if (node && c && c.family === node.family && cidrContains(c, node)) allowFromNode = true;
  }
  if (allowFromNode) for (const ip of plan.info.loadBalancerVIPs) sources.push(',', ip);
  return sources;
}

export function servicePortObjects(plan: ServicePortPlan, ctx: CompileContext, w: FamilyWords): PortObjects {
  const { info, endpoints } = plan;
  const { service, port } = info;
  const proto = info.protocol;
  const base = nftServicePortChainBase(service.namespace, service.name, proto, port.name);
  const names = nftServiceChainNames(base);
  // Each endpoint's names are used up to four times; hash them once.
  const epNameCache = new Map<EndpointInfo, NftEndpointNames>();
  const epNames = (ep: EndpointInfo): NftEndpointNames => {
    let n = epNameCache.get(ep);
    if (n === undefined) epNameCache.set(ep, (n = nftEndpointNames(nftEndpointChainBase(service.namespace, service.name, proto, port.name, ep.endpoint))));
    return n;
  };
  const out: PortObjects = { chains: [], sets: [], elements: [], rules: [] };
  const chain = (name: string) => {
    const c = checkedChain(name);
    if (typeof c !== 'string') out.chains.push(c);
    else out.chainProblem ??= `chain ${JSON.stringify(name)}: ${c}`;
  };
  const rule = (c: string, words: string[], comment?: string) => {
    const r = checkedRule(c, words, comment);
    if (typeof r !== 'string') out.rules.push(r);
    else out.ruleProblem ??= `rule in ${JSON.stringify(c)}: ${r}`;
  };
  const element = (container: string, key: string[], value?: string, comment?: string) =>
    out.elements.push({ container, key, ...(comment !== undefined ? { comment } : {}), ...(value !== undefined ? { value: [value] } : {}) });

  const internalTrafficChain = info.internalPolicyLocal ? names.local : names.service;
  const externalPolicyChain = info.externalPolicyLocal ? names.local : names.service;
  // kube-proxy's internalVerdict and externalVerdict: reject without any endpoint, else (no local one) drop.
  const verdict = plan.hasEndpoints ? 'drop' : 'goto reject-chain';
  // Unlike iptables mode, the source-range chain does not depend on endpoints (proxier.go).
  const usesFWChain = info.loadBalancerVIPs.length > 0 && info.sourceRanges.length > 0;
  const servicePort = String(port.port);

  for (const ep of endpoints.allReachable) chain(epNames(ep).chain);
  if (plan.usesClusterPolicyChain) chain(names.service);
  if (plan.usesLocalPolicyChain) chain(names.local);
  if (plan.usesExternalTrafficChain) chain(names.external);

  element('cluster-ips', [info.clusterIP]);
  if (plan.hasInternalEndpoints) element('service-ips', [info.clusterIP, proto, servicePort], `goto ${internalTrafficChain}`);
  else element('no-endpoint-services', [info.clusterIP, proto, servicePort], verdict, info.name);
  for (const ip of info.externalIPs) {
    if (plan.hasEndpoints) element('service-ips', [ip, proto, servicePort], `goto ${names.external}`);
    if (!plan.hasExternalEndpoints) element('no-endpoint-services', [ip, proto, servicePort], verdict, info.name);
  }
  if (usesFWChain) chain(names.firewall);
  for (const ip of info.loadBalancerVIPs) {
    if (plan.hasEndpoints) element('service-ips', [ip, proto, servicePort], `goto ${names.external}`);
    if (usesFWChain) element('firewall-ips', [ip, proto, servicePort], `goto ${names.firewall}`);
  }
  if (!plan.hasExternalEndpoints) for (const ip of info.loadBalancerVIPs) element('no-endpoint-services', [ip, proto, servicePort], verdict, info.name);
  if (port.nodePort !== 0) {
    const np = String(port.nodePort);
    if (plan.hasEndpoints) element('service-nodeports', [proto, np], `goto ${names.external}`);
    if (!plan.hasExternalEndpoints) element('no-endpoint-nodeports', [proto, np], verdict, info.name);
  }

  const detector = ctx.localDetector;
  if (plan.hasInternalEndpoints) {
    if (ctx.masqueradeAll) rule(internalTrafficChain, [w.ip, 'daddr', info.clusterIP, ...MASQ]);
    else if (detector) rule(internalTrafficChain, [w.ip, 'daddr', info.clusterIP, ...localMatch(detector.match, true), ...MASQ]);
  }
  if (plan.usesExternalTrafficChain) {
    if (!info.externalPolicyLocal) rule(names.external, MASQ);
    else {
      if (detector) rule(names.external, [...localMatch(detector.match, false), 'goto', names.service], 'short-circuit pod traffic');
      rule(names.external, ['fib', 'saddr', 'type', 'local', ...MASQ], 'masquerade local traffic');
      rule(names.external, ['fib', 'saddr', 'type', 'local', 'goto', names.service], 'short-circuit local traffic');
    }
    if (plan.hasExternalEndpoints) rule(names.external, ['goto', externalPolicyChain]);
  }
  if (usesFWChain) rule(names.firewall, [w.ip, 'saddr', '!=', '{', ...firewallSources(plan, ctx.nodeIP), '}', 'drop']);

  if (info.sessionAffinity) {
    for (const ep of endpoints.allReachable) {
      out.sets.push({ name: epNames(ep).affinitySet, type: [w.addrType], flags: ['dynamic', 'timeout'], timeout: info.stickyMaxAgeSeconds });
    }
  }
  const toEndpoints = (c: string, eps: readonly EndpointInfo[]) => {
    if (info.sessionAffinity) for (const ep of eps) rule(c, [w.ip, 'saddr', `@${epNames(ep).affinitySet}`, 'goto', epNames(ep).chain]);
    const words = ['numgen', 'random', 'mod', String(eps.length), 'vmap', '{'];
    eps.forEach((ep, i) => {
      if (i > 0) words.push(',');
      words.push(`${i}`, ':', 'goto', epNames(ep).chain);
    });
    words.push('}');
    rule(c, words);
  };
  if (plan.usesClusterPolicyChain) toEndpoints(names.service, endpoints.cluster);
  if (plan.usesLocalPolicyChain) toEndpoints(names.local, endpoints.local);
  for (const ep of endpoints.allReachable) {
    const n = epNames(ep);
    rule(n.chain, [w.ip, 'saddr', ep.ip, ...MASQ]);
    if (info.sessionAffinity) rule(n.chain, ['update', `@${n.affinitySet}`, '{', w.ip, 'saddr', '}']);
    rule(n.chain, ['meta', 'l4proto', proto, 'dnat', 'to', ep.endpoint]);
  }
  return out;
}

/** The first thing in `objects` that nft could read as something else, or undefined. */
export function portObjectsProblem(objects: PortObjects): string | undefined {
  if (objects.chainProblem !== undefined) return objects.chainProblem;
  for (const c of objects.chains) {
    const p = uncheckedChainProblem(c);
    if (p !== undefined) return `chain ${JSON.stringify(c.name)}: ${p}`;
  }
  for (const s of objects.sets) {
    const p = setProblem(s);
    if (p !== undefined) return `set ${JSON.stringify(s.name)}: ${p}`;
  }
  for (const e of objects.elements) {
    const p = elementProblem(e);
    if (p !== undefined) return `element of ${e.container}: ${p}`;
  }
  return objects.ruleProblem;
}
