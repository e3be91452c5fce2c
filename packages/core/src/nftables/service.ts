/**
 * One service port's objects in the `kube-proxy` table: the body of the service loop of kube-proxy's
 * nftables `syncProxyRules` (pkg/proxy/nftables/proxier.go), rendered from the shared plan. Only
 * what the nftables proxier decides differently from the iptables one is decided here: the source-
 * range chain exists without endpoints too, and the verdicts are map elements, not filter rules.
 */
import type { Chain, Element, NftSet, Rule } from '@svcrules/nftables';
import { RuleTemplate, checkedChain, checkedElement, checkedNumgenRule, checkedRule, setProblem, uncheckedChainProblem } from '@svcrules/nftables';
import type { CompileContext, LocalMatch } from '../context.js';
import type { EndpointInfo } from '../endpoints.js';
import { cidrContains, parseCIDR, parseIP } from '../ip.js';
import { nftAffinitySetName, nftEndpointChainBases, nftEndpointChainName, nftServiceChainNames, nftServicePortChainBase } from '../kube-proxy/nft-names.js';
import type { ServicePortPlan } from '../service-plan.js';
import type { FamilyWords } from './family.js';

/** Everything one service port adds, in kube-proxy's operation order. */
export interface PortObjects {
  /** Made by `checkedChain`, as the rules by `checkedRule` or a RuleTemplate and the elements by `checkedElement`. */
  readonly chains: Chain[];
  readonly sets: NftSet[];
  readonly elements: Element[];
  /** Checked here, once, and not again by the renderers. */
  readonly rules: Rule[];
  /** Per rule, the index of its chain in `chains`, or -1 for a chain this port does not declare. */
  readonly ruleChains: number[];
  /** The first chain `checkedChain` refused (that chain is not in `chains`). */
  chainProblem?: string;
  /** The first element `checkedElement` refused (that element is not in `elements`). */
  elementProblem?: string;
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

/** The shapes of the rules every service port makes, checked once per sync (`null`: a value of the port or endpoint). */
export interface PortTemplates {
  readonly endpointMasq: RuleTemplate;
  readonly endpointDnat: RuleTemplate;
  readonly affinityUpdate: RuleTemplate;
  readonly affinityGoto: RuleTemplate;
  readonly clusterMasq: RuleTemplate | undefined;
  readonly externalMasq: RuleTemplate;
  readonly podShortCircuit: RuleTemplate | undefined;
  readonly localMasq: RuleTemplate;
  readonly localShortCircuit: RuleTemplate;
  readonly gotoPolicy: RuleTemplate;
}

export function portTemplates(ctx: CompileContext, w: FamilyWords): PortTemplates {
  const detector = ctx.localDetector;
  const t = (words: (string | null)[], comment?: string) => new RuleTemplate(words, comment);
  let clusterMasq: RuleTemplate | undefined;
  if (ctx.masqueradeAll) clusterMasq = t([w.ip, 'daddr', null, ...MASQ]);
  else if (detector) clusterMasq = t([w.ip, 'daddr', null, ...localMatch(detector.match, true), ...MASQ]);
  return {
    endpointMasq: t([w.ip, 'saddr', null, ...MASQ]),
    endpointDnat: t(['meta', 'l4proto', null, 'dnat', 'to', null]),
    affinityUpdate: t(['update', null, '{', w.ip, 'saddr', '}']),
    affinityGoto: t([w.ip, 'saddr', null, 'goto', null]),
    clusterMasq,
    externalMasq: t(MASQ),
    podShortCircuit: detector ? t([...localMatch(detector.match, false), 'goto', null], 'short-circuit pod traffic') : undefined,
    localMasq: t(['fib', 'saddr', 'type', 'local', ...MASQ], 'masquerade local traffic'),
    localShortCircuit: t(['fib', 'saddr', 'type', 'local', 'goto', null], 'short-circuit local traffic'),
    gotoPolicy: t(['goto', null]),
  };
}

/** `base`: the port's `nftServicePortChainBase`, when the caller has it. */
export function servicePortObjects(plan: ServicePortPlan, ctx: CompileContext, w: FamilyWords, shapes: PortTemplates = portTemplates(ctx, w), base?: string): PortObjects {
  const { info, endpoints } = plan;
  const { service, port } = info;
  const proto = info.protocol;
  base ??= nftServicePortChainBase(service.namespace, service.name, proto, port.name);
  const names = nftServiceChainNames(base);
  const out: PortObjects = { chains: [], sets: [], elements: [], rules: [], ruleChains: [] };
  /** The index of the chain just declared, or -1 when checkedChain refused it. */
  const chain = (name: string): number => {
    const c = checkedChain(name);
    if (typeof c === 'string') {
      out.chainProblem ??= `chain ${JSON.stringify(name)}: ${c}`;
      return -1;
    }
    return out.chains.push(c) - 1;
  };
  const keep = (into: number, c: string, r: Rule | string) => {
    if (typeof r === 'string') out.ruleProblem ??= `rule in ${JSON.stringify(c)}: ${r}`;
    else {
      out.rules.push(r);
      out.ruleChains.push(into);
    }
  };
  const element = (container: string, key: string[], value?: string, comment?: string) => {
    const e = checkedElement(container, key, value === undefined ? undefined : [value], comment);
    if (typeof e !== 'string') out.elements.push(e);
    else out.elementProblem ??= `element of ${container}: ${e}`;
  };

  // Each endpoint's names are used up to four times; hash them once, in allReachable's order.
  const reachable = endpoints.allReachable;
  const affinity = info.sessionAffinity;
  const epBases = nftEndpointChainBases(service.namespace, service.name, proto, port.name, reachable.map((ep) => ep.endpoint));
  const epChains = epBases.map(nftEndpointChainName);
  // The affinity sets' names as rules name them (`@affinity-…`), only for a port with affinity.
  const epSets = affinity ? epBases.map((b) => `@${nftAffinitySetName(b)}`) : [];
  const epRules = epChains.map(chain);
  const serviceRules = plan.usesClusterPolicyChain ? chain(names.service) : -1;
  const localRules = plan.usesLocalPolicyChain ? chain(names.local) : -1;
  const externalRules = plan.usesExternalTrafficChain ? chain(names.external) : -1;

  const internalTrafficChain = info.internalPolicyLocal ? names.local : names.service;
  const internalRules = info.internalPolicyLocal ? localRules : serviceRules;
  const externalPolicyChain = info.externalPolicyLocal ? names.local : names.service;
  // kube-proxy's internalVerdict and externalVerdict: reject without any endpoint, else (no local one) drop.
  const verdict = plan.hasEndpoints ? 'drop' : 'goto reject-chain';
  // Unlike iptables mode, the source-range chain does not depend on endpoints (proxier.go).
  const usesFWChain = info.loadBalancerVIPs.length > 0 && info.sourceRanges.length > 0;
  const servicePort = String(port.port);

  element('cluster-ips', [info.clusterIP]);
  if (plan.hasInternalEndpoints) element('service-ips', [info.clusterIP, proto, servicePort], `goto ${internalTrafficChain}`);
  else element('no-endpoint-services', [info.clusterIP, proto, servicePort], verdict, info.name);
  for (const ip of info.externalIPs) {
    if (plan.hasEndpoints) element('service-ips', [ip, proto, servicePort], `goto ${names.external}`);
    if (!plan.hasExternalEndpoints) element('no-endpoint-services', [ip, proto, servicePort], verdict, info.name);
  }
  const firewallRules = usesFWChain ? chain(names.firewall) : -1;
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

  if (plan.hasInternalEndpoints && shapes.clusterMasq) keep(internalRules, internalTrafficChain, shapes.clusterMasq.fill(internalTrafficChain, [info.clusterIP]));
  if (plan.usesExternalTrafficChain) {
    const ext = names.external;
    if (!info.externalPolicyLocal) keep(externalRules, ext, shapes.externalMasq.fill(ext, []));
    else {
      if (shapes.podShortCircuit) keep(externalRules, ext, shapes.podShortCircuit.fill(ext, [names.service]));
      keep(externalRules, ext, shapes.localMasq.fill(ext, []));
      keep(externalRules, ext, shapes.localShortCircuit.fill(ext, [names.service]));
    }
    if (plan.hasExternalEndpoints) keep(externalRules, ext, shapes.gotoPolicy.fill(ext, [externalPolicyChain]));
  }
  if (usesFWChain) keep(firewallRules, names.firewall, checkedRule(names.firewall, [w.ip, 'saddr', '!=', '{', ...firewallSources(plan, ctx.nodeIP), '}', 'drop']));

  if (affinity) {
    for (const b of epBases) out.sets.push({ name: nftAffinitySetName(b), type: [w.addrType], flags: ['dynamic', 'timeout'], timeout: info.stickyMaxAgeSeconds });
  }
  // cluster and local are allReachable itself or (usually) its subsets: eps[i]'s index in it, or -1.
  let indexOf: Map<string, number> | undefined;
  const reachableAt = (eps: readonly EndpointInfo[], i: number): number => {
    if (eps === reachable) return i;
    indexOf ??= new Map(reachable.map((ep, j) => [ep.endpoint, j]));
    return indexOf.get(eps[i]!.endpoint) ?? -1;
  };
  const baseAt = (eps: readonly EndpointInfo[], i: number): string => {
    const j = reachableAt(eps, i);
    return j >= 0 ? epBases[j]! : nftEndpointChainBases(service.namespace, service.name, proto, port.name, [eps[i]!.endpoint])[0]!;
  };
  const toEndpoints = (c: string, into: number, eps: readonly EndpointInfo[]) => {
    if (affinity) {
      for (let i = 0; i < eps.length; i++) {
        const j = reachableAt(eps, i);
        const b = j >= 0 ? undefined : baseAt(eps, i);
        keep(into, c, shapes.affinityGoto.fill(c, b === undefined ? [epSets[j]!, epChains[j]!] : [`@${nftAffinitySetName(b)}`, nftEndpointChainName(b)]));
      }
    }
    const targets = new Array<Chain>(eps.length);
    for (let i = 0; i < eps.length; i++) {
      // The endpoint's declared chain (checked once), or a plain one checkedNumgenRule checks.
      const j = reachableAt(eps, i);
      const at = j >= 0 ? epRules[j]! : -1;
      targets[i] = at >= 0 ? out.chains[at]! : { name: j >= 0 ? epChains[j]! : nftEndpointChainName(baseAt(eps, i)) };
    }
    keep(into, c, checkedNumgenRule(c, targets));
  };
  if (plan.usesClusterPolicyChain) toEndpoints(names.service, serviceRules, endpoints.cluster);
  if (plan.usesLocalPolicyChain) toEndpoints(names.local, localRules, endpoints.local);
  for (let i = 0; i < reachable.length; i++) {
    const ep = reachable[i]!;
    const c = epChains[i]!;
    const into = epRules[i]!;
    keep(into, c, shapes.endpointMasq.fill(c, [ep.ip]));
    if (affinity) keep(into, c, shapes.affinityUpdate.fill(c, [epSets[i]!]));
    keep(into, c, shapes.endpointDnat.fill(c, [proto, ep.endpoint]));
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
  return objects.elementProblem ?? objects.ruleProblem;
}
