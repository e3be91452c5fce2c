import type { AppendCommand } from '@svcrules/iptables';
import { append } from '@svcrules/iptables';
import type { CompileContext } from './context.js';
import type { EndpointInfo } from './endpoints.js';
import { cidrContains, parseCIDR, parseIP } from './ip.js';
import { endpointChainName } from './names.js';
import { probability } from './probability.js';
import type { ServicePortPlan } from './service-plan.js';

/** Where one service port's rules go, in kube-proxy's buffer order. */
export interface ServicePortRules {
  readonly filterRules: AppendCommand[];
  /** Per-service nat chains, in the order kube-proxy writes their `:CHAIN` lines. */
  readonly natChains: string[];
  readonly natRules: AppendCommand[];
}

const comment = (text: string) => ['-m', 'comment', '--comment', text];
const proto = (p: string) => ['-m', p, '-p', p];

/**
 * The rules of one service port (spec §6.1-§6.11), in emission order. Comments are plain words: the
 * renderer quotes those with spaces, which is exactly how kube-proxy writes them.
 */
export function serviceRules(plan: ServicePortPlan, ctx: CompileContext, largeClusterMode: boolean): ServicePortRules {
  const { info, chains } = plan;
  const { name, protocol: p, clusterIP } = info;
  const port = String(info.port.port);
  const out: ServicePortRules = { filterRules: [], natChains: [], natRules: [] };
  const nat = (chain: string, args: string[]) => out.natRules.push(append(chain, args));
  const filter = (chain: string, args: string[]) => out.filterRules.push(append(chain, args));

  // §6.1 cluster IP
  if (plan.hasInternalEndpoints) {
    nat('KUBE-SERVICES', [...comment(`${name} cluster IP`), ...proto(p), '-d', clusterIP, '--dport', port, '-j', plan.internalTrafficChain]);
  } else {
    filter('KUBE-SERVICES', [...comment(plan.internalFilter.comment), ...proto(p), '-d', clusterIP, '--dport', port, '-j', plan.internalFilter.target]);
  }

  // §6.2 external IPs
  for (const ip of info.externalIPs) {
    if (plan.hasEndpoints) nat('KUBE-SERVICES', [...comment(`${name} external IP`), ...proto(p), '-d', ip, '--dport', port, '-j', chains.ext]);
    if (!plan.hasExternalEndpoints) {
      filter('KUBE-EXTERNAL-SERVICES', [...comment(plan.externalFilter.comment), ...proto(p), '-d', ip, '--dport', port, '-j', plan.externalFilter.target]);
    }
  }

  // §6.3 load-balancer IPs
  for (const ip of info.loadBalancerVIPs) {
    if (plan.hasEndpoints) {
      nat('KUBE-SERVICES', [...comment(`${name} loadbalancer IP`), ...proto(p), '-d', ip, '--dport', port, '-j', plan.loadBalancerTrafficChain]);
    }
    if (plan.usesFWChain) {
      filter('KUBE-PROXY-FIREWALL', [...comment(`${name} traffic not accepted by ${chains.fw}`), ...proto(p), '-d', ip, '--dport', port, '-j', 'DROP']);
    }
  }
  if (!plan.hasExternalEndpoints) {
    for (const ip of info.loadBalancerVIPs) {
      filter('KUBE-EXTERNAL-SERVICES', [...comment(plan.externalFilter.comment), ...proto(p), '-d', ip, '--dport', port, '-j', plan.externalFilter.target]);
    }
  }

  // §6.4 node port
  if (info.port.nodePort !== 0) {
    const np = String(info.port.nodePort);
    if (plan.hasEndpoints) {
      if (ctx.localhostNodePorts && ctx.nfacct) {
        nat('KUBE-NODEPORTS', [...comment(name), ...proto(p), '-d', '127.0.0.0/8', '--dport', np, '-m', 'nfacct', '--nfacct-name', 'localhost_nps_accepted_pkts', '-j', chains.ext]);
      }
      nat('KUBE-NODEPORTS', [...comment(name), ...proto(p), '--dport', np, '-j', chains.ext]);
    }
    if (!plan.hasExternalEndpoints) {
      filter('KUBE-EXTERNAL-SERVICES', [
        ...comment(plan.externalFilter.comment),
        ...['-m', 'addrtype', '--dst-type', 'LOCAL'],
        ...proto(p),
        '--dport',
        np,
        '-j',
        plan.externalFilter.target,
      ]);
    }
  }

  // §6.5 health-check node port (always TCP, even without endpoints)
  if (info.healthCheckNodePort !== 0) {
    filter('KUBE-NODEPORTS', [...comment(`${name} health check node port`), ...proto('tcp'), '--dport', String(info.healthCheckNodePort), '-j', 'ACCEPT']);
  }

  // §6.6 masquerade off-cluster traffic to the cluster IP
  if (plan.hasInternalEndpoints) {
    const args = [...comment(`${name} cluster IP`), ...proto(p), '-d', clusterIP, '--dport', port];
    if (ctx.masqueradeAll) nat(plan.internalTrafficChain, [...args, '-j', 'KUBE-MARK-MASQ']);
    else if (ctx.localDetector) nat(plan.internalTrafficChain, [...args, ...ctx.localDetector.ifNotLocal, '-j', 'KUBE-MARK-MASQ']);
  }

  // §6.7 external traffic chain
  if (plan.usesExternalTrafficChain) {
    out.natChains.push(chains.ext);
    if (!info.externalPolicyLocal) {
      nat(chains.ext, [...comment(`masquerade traffic for ${name} external destinations`), '-j', 'KUBE-MARK-MASQ']);
    } else {
      if (ctx.localDetector) {
        nat(chains.ext, [...comment(`pod traffic for ${name} external destinations`), ...ctx.localDetector.ifLocal, '-j', chains.svc]);
      }
      nat(chains.ext, [...comment(`masquerade LOCAL traffic for ${name} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', 'KUBE-MARK-MASQ']);
      nat(chains.ext, [...comment(`route LOCAL traffic for ${name} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', chains.svc]);
    }
    if (plan.hasExternalEndpoints) nat(chains.ext, ['-j', plan.externalPolicyChain]);
  }

  // §6.8 load-balancer source ranges
  if (plan.usesFWChain) {
    out.natChains.push(chains.fw);
    const base = comment(`${name} loadbalancer IP`);
    let allowFromNode = false;
    for (const cidr of info.sourceRanges) {
      nat(chains.fw, [...base, '-s', cidr, '-j', chains.ext]);
      if (ctx.nodeIP !== null && cidrHolds(cidr, ctx.nodeIP)) allowFromNode = true;
    }
    if (allowFromNode) for (const ip of info.loadBalancerVIPs) nat(chains.fw, [...base, '-s', ip, '-j', chains.ext]);
    nat(chains.fw, comment(`other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL`));
  }

  // §6.9 / §6.10 policy chains. SEP names are hashed once per endpoint and shared with §6.11.
  const reachable = plan.endpoints.allReachable;
  const seps = reachable.map((ep) => endpointChainName(name, p, ep.endpoint));
  if (plan.usesClusterPolicyChain) {
    out.natChains.push(chains.svc);
    policyChainRules(out, chains.svc, plan, plan.endpoints.cluster, sepNames(plan, plan.endpoints.cluster, reachable, seps), largeClusterMode);
  }
  if (plan.usesLocalPolicyChain) {
    out.natChains.push(chains.svl);
    policyChainRules(out, chains.svl, plan, plan.endpoints.local, sepNames(plan, plan.endpoints.local, reachable, seps), largeClusterMode);
  }

  // §6.11 endpoint chains
  for (let i = 0; i < reachable.length; i++) {
    const ep = reachable[i]!;
    const sep = seps[i]!;
    out.natChains.push(sep);
    const dnat = info.sessionAffinity
      ? ['-m', 'recent', '--name', sep, '--set', '-m', p, '-p', p, '-j', 'DNAT', '--to-destination', ep.endpoint]
      : ['-m', p, '-p', p, '-j', 'DNAT', '--to-destination', ep.endpoint];
    if (largeClusterMode) {
      nat(sep, ['-s', ep.ip, '-j', 'KUBE-MARK-MASQ']);
      nat(sep, dnat);
    } else {
      nat(sep, ['-m', 'comment', '--comment', name, '-s', ep.ip, '-j', 'KUBE-MARK-MASQ']);
      nat(sep, ['-m', 'comment', '--comment', name, ...dnat]);
    }
  }
  return out;
}

/** The SEP names of `endpoints` (a subset of `reachable`, whose names are `seps`), without hashing again. */
function sepNames(plan: ServicePortPlan, endpoints: readonly EndpointInfo[], reachable: readonly EndpointInfo[], seps: readonly string[]): readonly string[] {
  if (endpoints === reachable) return seps;
  const byEndpoint = new Map<EndpointInfo, string>();
  reachable.forEach((ep, i) => byEndpoint.set(ep, seps[i]!));
  return endpoints.map((ep) => byEndpoint.get(ep) ?? endpointChainName(plan.info.name, plan.info.protocol, ep.endpoint));
}

/** writeServiceToEndpointRules (§7.2): affinity checks first, then the statistic ladder. */
function policyChainRules(
  out: ServicePortRules,
  chain: string,
  plan: ServicePortPlan,
  endpoints: readonly EndpointInfo[],
  seps: readonly string[],
  largeClusterMode: boolean,
): void {
  const { name } = plan.info;
  const comments = largeClusterMode ? undefined : endpoints.map((ep) => `${name} -> ${ep.endpoint}`);
  if (plan.info.sessionAffinity) {
    const seconds = String(plan.info.stickyMaxAgeSeconds);
    for (let i = 0; i < endpoints.length; i++) {
      const sep = seps[i]!;
      const args = ['-m', 'recent', '--name', sep, '--rcheck', '--seconds', seconds, '--reap', '-j', sep];
      out.natRules.push(append(chain, comments ? ['-m', 'comment', '--comment', comments[i]!, ...args] : args));
    }
  }
  const n = endpoints.length;
  for (let i = 0; i < n; i++) {
    const sep = seps[i]!;
    let args: string[];
    if (i < n - 1) {
      const pr = probability(n - i);
      args = comments
        ? ['-m', 'comment', '--comment', comments[i]!, '-m', 'statistic', '--mode', 'random', '--probability', pr, '-j', sep]
        : ['-m', 'statistic', '--mode', 'random', '--probability', pr, '-j', sep];
    } else {
      args = comments ? ['-m', 'comment', '--comment', comments[i]!, '-j', sep] : ['-j', sep];
    }
    out.natRules.push(append(chain, args));
  }
}

function cidrHolds(cidr: string, ip: string): boolean {
  const c = parseCIDR(cidr);
  const i = parseIP(ip);
  return c !== null && i !== null && cidrContains(c, i);
}
