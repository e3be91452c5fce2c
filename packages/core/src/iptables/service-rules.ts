import type { AppendCommand } from '@svcrules/iptables';
import { RuleTemplate, append, templateRule, vettedAppend } from '@svcrules/iptables';
import type { CompileContext } from '../context.js';
import type { EndpointInfo } from '../endpoints.js';
import { cidrContains, parseCIDR, parseIP } from '../ip.js';
import { probability } from '../probability.js';
import { portWordsSafe } from './port-words.js';
import type { ServicePortPlan } from '../service-plan.js';
import { endpointChainName, KUBE_EXTERNAL_SERVICES, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL, KUBE_SERVICES, LOCALHOST_NPS_ACCEPTED_PKTS } from '../kube-proxy/index.js';

/** Where one service port's rules go, in kube-proxy's buffer order. */
export interface ServicePortRules {
  readonly filterRules: AppendCommand[];
  /** Per-service nat chains, in the order kube-proxy writes their `:CHAIN` lines. */
  readonly natChains: string[];
  readonly natRules: AppendCommand[];
  /**
   * Layout: `natRules[0, topEnd)` are the port's KUBE-SERVICES / KUBE-NODEPORTS rules; the SEP
   * chains are `natChains[sepChainStart..]`, one per reachable endpoint in order, and their rules
   * `natRules[sepStart..]`, two per chain.
   */
  readonly topEnd: number;
  readonly sepStart: number;
  readonly sepChainStart: number;
  /**
   * The port's words passed portWordsSafe: its rules are `vettedAppend`s or `templateRule`s and
   * its chains (hashed names, checked or built by endpointChainName) may be declared with
   * `vettedChainDecl`.
   */
  readonly vetted: boolean;
  /** What a later `serviceRules` of the same port may reuse (kept when asked: the incremental compiler). */
  readonly reuse?: RuleReuse | undefined;
}

/**
 * The previous rules of a service port, for an incremental re-render: SEP chains and ladder rules
 * whose inputs did not change are reused (same names, same rule objects) instead of hashed and
 * built again. 100k endpoints: a one-endpoint change costs a walk over them, not 100k SHA-256s.
 */
export interface RuleReuse {
  /** Everything the reused rules depend on besides the endpoint. */
  readonly key: string;
  /** Reachable endpoints (`ip:port`), in SEP order. */
  readonly endpoints: readonly string[];
  readonly seps: readonly string[];
  /** Per policy chain (SVC/SVL): its endpoints, their SEP names and the rules, in order. */
  readonly ladders: ReadonlyMap<string, Ladder>;
  /**
   * The rules these were built from (`prev`) and, per SEP of these, the index of the reused SEP of
   * `from` (-1: built anew): the chain diff against `from` needs no second walk over the endpoints.
   * Cleared once the diff used them or when these rules are reused in turn: versions never chain up.
   */
  from?: ServicePortRules | undefined;
  reusedAt?: Int32Array | undefined;
}

interface Ladder {
  readonly endpoints: readonly string[];
  readonly seps: readonly string[];
  /**
   * Where its rules start in the `natRules` these reuse data belong to (not copied out): affinity
   * rules (one per endpoint, or none), then the statistic ladder (one per endpoint).
   */
  readonly start: number;
}

const comment = (text: string) => ['-m', 'comment', '--comment', text];
const proto = (p: string) => ['-m', p, '-p', p];

/**
 * The bulk of a port's rules (two per endpoint in its SEP chain, one or two per endpoint in each
 * policy chain) as templates: such a rule holds its chain and values, not ~12 words. SEP chain:
 * values (name, ip) for the masquerade rule, (name, protocol, endpoint, SEP) for the DNAT.
 */
const t = (...words: ConstructorParameters<typeof RuleTemplate>[0]) => new RuleTemplate(words);
const SEP_MASQ = t('-m', 'comment', '--comment', 0, '-s', 1, '-j', KUBE_MARK_MASQ);
const SEP_MASQ_BARE = t('-s', 1, '-j', KUBE_MARK_MASQ);
const DNAT = ['-j', 'DNAT', '--to-destination', 2] as const;
const SEP_DNAT = t('-m', 'comment', '--comment', 0, '-m', 1, '-p', 1, ...DNAT);
const SEP_DNAT_BARE = t('-m', 1, '-p', 1, ...DNAT);
const SEP_DNAT_AFFINITY = t('-m', 'comment', '--comment', 0, '-m', 'recent', '--name', 3, '--set', '-m', 1, '-p', 1, ...DNAT);
const SEP_DNAT_AFFINITY_BARE = t('-m', 'recent', '--name', 3, '--set', '-m', 1, '-p', 1, ...DNAT);
/** Per policy-chain rule: values (name, endpoint, probability or affinity seconds, SEP). */
const ARROW = [0, ' -> ', 1] as const;
const STEP = t('-m', 'comment', '--comment', ARROW, '-m', 'statistic', '--mode', 'random', '--probability', 2, '-j', 3);
const STEP_BARE = t('-m', 'statistic', '--mode', 'random', '--probability', 2, '-j', 3);
const LAST = t('-m', 'comment', '--comment', ARROW, '-j', 3);
const LAST_BARE = t('-j', 3);
const AFFINITY = t('-m', 'comment', '--comment', ARROW, '-m', 'recent', '--name', 3, '--rcheck', '--seconds', 2, '--reap', '-j', 3);
const AFFINITY_BARE = t('-m', 'recent', '--name', 3, '--rcheck', '--seconds', 2, '--reap', '-j', 3);

/**
 * The cluster IP's jump in KUBE-SERVICES and the masquerade rule in front of its chain, values
 * (name, cluster IP, port, chain): per protocol and local detector, which are constants of these
 * templates (made from checked words only: portWordsSafe checked both). A handful per process.
 */
interface ClusterIPTemplates {
  readonly jump: RuleTemplate;
  readonly masq: RuleTemplate;
}
const clusterIPCache = new Map<string, ClusterIPTemplates>();

function clusterIPTemplates(p: string, notLocal: readonly string[] | undefined): ClusterIPTemplates {
  const key = `${p}\u0000${notLocal?.join('\u0000') ?? ''}`;
  let ts = clusterIPCache.get(key);
  if (ts === undefined) {
    const head = ['-m', 'comment', '--comment', [0, ' cluster IP'], '-m', p, '-p', p, '-d', 1, '--dport', 2] as const;
    ts = { jump: t(...head, '-j', 3), masq: t(...head, ...(notLocal ?? []), '-j', KUBE_MARK_MASQ) };
    // Contexts come and go in a long-running incremental compiler: keep it small.
    if (clusterIPCache.size >= 64) clusterIPCache.clear();
    clusterIPCache.set(key, ts);
  }
  return ts;
}

/** `templateRule` when the port's words were checked, else the same words as a plain `append`. */
function templated(vetted: boolean) {
  return (chain: string, template: RuleTemplate, v0: string, v1 = '', v2 = '', v3 = ''): AppendCommand => {
    const r = templateRule(chain, template, v0, v1, v2, v3);
    return vetted ? r : append(chain, r.args);
  };
}

/**
 * The rules of one service port, in emission order: proxier.go syncProxyRules' service loop, from
 * "Capture the clusterIP" to "Generate the per-endpoint chains" (docs/kube-proxy-rules.md 6.1 to 6.11).
 * Comments are plain words: the renderer quotes those with spaces, which is exactly how kube-proxy
 * writes them.
 */
export function serviceRules(plan: ServicePortPlan, ctx: CompileContext, largeClusterMode: boolean, prev?: ServicePortRules, keep = false): ServicePortRules {
  const { info, chains } = plan;
  const { name, protocol: p, clusterIP } = info;
  const port = String(info.port.port);
  const key = keep || prev ? `${name}\u0000${p}\u0000${info.sessionAffinity}\u0000${info.stickyMaxAgeSeconds}\u0000${largeClusterMode}` : '';
  const old = prev?.reuse?.key === key ? prev.reuse : undefined;
  const reachable = plan.endpoints.allReachable;
  // Only kept (and walked) for the incremental compiler; compile() skips the copy.
  const endpoints = keep || old ? reachable.map((ep) => ep.endpoint) : [];
  // Reused: the SEP of an endpoint that had one (both lists are in endpoint order; a walk matches them).
  const reusedAt = old ? alignSorted(old.endpoints, endpoints) : undefined;
  // Words checked once here, not again per rule by the renderer (unless one fails: see portWordsSafe);
  // not again either for the endpoints of a vetted previous version (same name: it is in the key).
  const vetted = portWordsSafe(plan, ctx, prev?.vetted ? reusedAt : undefined);
  const rule = vetted ? vettedAppend : append;
  const templ = templated(vetted);
  const out = { filterRules: [] as AppendCommand[], natChains: [] as string[], natRules: [] as AppendCommand[], topEnd: 0, sepStart: 0, sepChainStart: 0, vetted, reuse: undefined as RuleReuse | undefined };
  const ladders = keep ? new Map<string, Ladder>() : undefined;
  const nat = (chain: string, args: string[]) => out.natRules.push(rule(chain, args));
  const filter = (chain: string, args: string[]) => out.filterRules.push(rule(chain, args));

  // "Capture the clusterIP" (kube-proxy-rules 6.1)
  if (plan.hasInternalEndpoints) {
    // A template only from checked words (its protocol is a constant of it).
    if (vetted) out.natRules.push(templateRule(KUBE_SERVICES, clusterIPTemplates(p, undefined).jump, name, clusterIP, port, plan.internalTrafficChain));
    else nat(KUBE_SERVICES, [...comment(`${name} cluster IP`), ...proto(p), '-d', clusterIP, '--dport', port, '-j', plan.internalTrafficChain]);
  } else {
    filter(KUBE_SERVICES, [...comment(plan.internalFilter.comment), ...proto(p), '-d', clusterIP, '--dport', port, '-j', plan.internalFilter.target]);
  }

  // "Capture externalIPs" (kube-proxy-rules 6.2)
  for (const ip of info.externalIPs) {
    if (plan.hasEndpoints) nat(KUBE_SERVICES, [...comment(`${name} external IP`), ...proto(p), '-d', ip, '--dport', port, '-j', chains.ext]);
    if (!plan.hasExternalEndpoints) {
      filter(KUBE_EXTERNAL_SERVICES, [...comment(plan.externalFilter.comment), ...proto(p), '-d', ip, '--dport', port, '-j', plan.externalFilter.target]);
    }
  }

  // "Capture load-balancer ingress" (kube-proxy-rules 6.3)
  for (const ip of info.loadBalancerVIPs) {
    if (plan.hasEndpoints) {
      nat(KUBE_SERVICES, [...comment(`${name} loadbalancer IP`), ...proto(p), '-d', ip, '--dport', port, '-j', plan.loadBalancerTrafficChain]);
    }
    if (plan.usesFWChain) {
      filter(KUBE_PROXY_FIREWALL, [...comment(`${name} traffic not accepted by ${chains.fw}`), ...proto(p), '-d', ip, '--dport', port, '-j', 'DROP']);
    }
  }
  if (!plan.hasExternalEndpoints) {
    for (const ip of info.loadBalancerVIPs) {
      filter(KUBE_EXTERNAL_SERVICES, [...comment(plan.externalFilter.comment), ...proto(p), '-d', ip, '--dport', port, '-j', plan.externalFilter.target]);
    }
  }

  // "Capture nodeports" (kube-proxy-rules 6.4)
  if (info.port.nodePort !== 0) {
    const np = String(info.port.nodePort);
    if (plan.hasEndpoints) {
      if (ctx.localhostNodePorts && ctx.nfacct) {
        nat(KUBE_NODEPORTS, [...comment(name), ...proto(p), '-d', '127.0.0.0/8', '--dport', np, '-m', 'nfacct', '--nfacct-name', LOCALHOST_NPS_ACCEPTED_PKTS, '-j', chains.ext]);
      }
      nat(KUBE_NODEPORTS, [...comment(name), ...proto(p), '--dport', np, '-j', chains.ext]);
    }
    if (!plan.hasExternalEndpoints) {
      filter(KUBE_EXTERNAL_SERVICES, [
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

  // "Capture healthCheckNodePorts": always TCP, even without endpoints (kube-proxy-rules 6.5)
  if (info.healthCheckNodePort !== 0) {
    filter(KUBE_NODEPORTS, [...comment(`${name} health check node port`), ...proto('tcp'), '--dport', String(info.healthCheckNodePort), '-j', 'ACCEPT']);
  }

  out.topEnd = out.natRules.length;

  // "Set up internal traffic handling": masquerade off-cluster traffic to the cluster IP
  // (kube-proxy-rules 6.6)
  if (plan.hasInternalEndpoints) {
    const notLocal = ctx.masqueradeAll ? [] : ctx.localDetector?.ifNotLocal;
    if (notLocal && vetted) out.natRules.push(templateRule(plan.internalTrafficChain, clusterIPTemplates(p, notLocal).masq, name, clusterIP, port));
    else if (notLocal) nat(plan.internalTrafficChain, [...comment(`${name} cluster IP`), ...proto(p), '-d', clusterIP, '--dport', port, ...notLocal, '-j', KUBE_MARK_MASQ]);
  }

  // "Set up external traffic handling": the KUBE-EXT chain (kube-proxy-rules 6.7)
  if (plan.usesExternalTrafficChain) {
    out.natChains.push(chains.ext);
    if (!info.externalPolicyLocal) {
      nat(chains.ext, [...comment(`masquerade traffic for ${name} external destinations`), '-j', KUBE_MARK_MASQ]);
    } else {
      if (ctx.localDetector) {
        nat(chains.ext, [...comment(`pod traffic for ${name} external destinations`), ...ctx.localDetector.ifLocal, '-j', chains.svc]);
      }
      nat(chains.ext, [...comment(`masquerade LOCAL traffic for ${name} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', KUBE_MARK_MASQ]);
      nat(chains.ext, [...comment(`route LOCAL traffic for ${name} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', chains.svc]);
    }
    if (plan.hasExternalEndpoints) nat(chains.ext, ['-j', plan.externalPolicyChain]);
  }

  // "Set up firewall chain, if needed": load-balancer source ranges (kube-proxy-rules 6.8)
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

  // The cluster and local policy chains (kube-proxy-rules 6.9, 6.10). SEP names are hashed once per
  // endpoint and shared with the endpoint chains below.
  const seps = reachable.map((ep, i) => {
    const j = reusedAt?.[i] ?? -1;
    return j >= 0 ? old!.seps[j]! : endpointChainName(name, p, ep.endpoint);
  });
  if (plan.usesClusterPolicyChain) {
    out.natChains.push(chains.svc);
    const eps = plan.endpoints.cluster;
    policyChainRules(out, templ, chains.svc, plan, eps, sepNames(plan, eps, reachable, seps), largeClusterMode, prev, old?.ladders.get(chains.svc), ladders, eps === reachable ? endpoints : undefined);
  }
  if (plan.usesLocalPolicyChain) {
    out.natChains.push(chains.svl);
    const eps = plan.endpoints.local;
    policyChainRules(out, templ, chains.svl, plan, eps, sepNames(plan, eps, reachable, seps), largeClusterMode, prev, old?.ladders.get(chains.svl), ladders, eps === reachable ? endpoints : undefined);
  }

  // "Generate the per-endpoint chains" (kube-proxy-rules 6.11, 7.1)
  const sepStart = (out.sepStart = reserve(out.natRules, 2 * reachable.length));
  const sepChainStart = (out.sepChainStart = reserve(out.natChains, reachable.length));
  const dnatTemplate = info.sessionAffinity ? (largeClusterMode ? SEP_DNAT_AFFINITY_BARE : SEP_DNAT_AFFINITY) : largeClusterMode ? SEP_DNAT_BARE : SEP_DNAT;
  const rules = out.natRules;
  for (let i = 0; i < reachable.length; i++) {
    const ep = reachable[i]!;
    const sep = seps[i]!;
    out.natChains[sepChainStart + i] = sep;
    const j = reusedAt?.[i] ?? -1;
    const at = sepStart + 2 * i;
    if (j >= 0) {
      // Same endpoint, same inputs: the previous port's two rules, as they are.
      const base = prev!.sepStart + 2 * j;
      rules[at] = prev!.natRules[base]!;
      rules[at + 1] = prev!.natRules[base + 1]!;
      continue;
    }
    rules[at] = templ(sep, largeClusterMode ? SEP_MASQ_BARE : SEP_MASQ, name, ep.ip);
    rules[at + 1] = templ(sep, dnatTemplate, name, p, ep.endpoint, sep);
  }
  if (old) old.from = old.reusedAt = undefined;
  if (keep) out.reuse = { key, endpoints, seps, ladders: ladders!, from: old ? prev : undefined, reusedAt };
  return out;
}

/**
 * Grows `a` by `count` slots and returns where they start; the caller fills every one. Setting the
 * length once and writing by index is ~4x cheaper than `count` pushes at 100k-endpoint sizes (no
 * repeated backing-store growth and copies, which land in the GC's marking).
 */
function reserve<T>(a: T[], count: number): number {
  const start = a.length;
  a.length = start + count;
  return start;
}

/**
 * For each element of `next`, its index in `prev` (-1 if absent). Both are in bytewise order, as
 * endpoint lists are; if `next` is not, the walk just finds fewer matches.
 */
function alignSorted(prev: readonly string[], next: readonly string[]): Int32Array {
  const at = new Int32Array(next.length).fill(-1);
  let j = 0;
  for (let i = 0; i < next.length; i++) {
    const x = next[i]!;
    while (j < prev.length && prev[j]! < x) j++;
    if (j < prev.length && prev[j] === x) at[i] = j++;
  }
  return at;
}

/** The SEP names of `endpoints` (a subset of `reachable`, whose names are `seps`), without hashing again. */
function sepNames(plan: ServicePortPlan, endpoints: readonly EndpointInfo[], reachable: readonly EndpointInfo[], seps: readonly string[]): readonly string[] {
  if (endpoints === reachable) return seps;
  const byEndpoint = new Map<EndpointInfo, string>();
  reachable.forEach((ep, i) => byEndpoint.set(ep, seps[i]!));
  return endpoints.map((ep) => byEndpoint.get(ep) ?? endpointChainName(plan.info.name, plan.info.protocol, ep.endpoint));
}

/** proxier.go writeServiceToEndpointRules (kube-proxy-rules 7.2): affinity checks, then the statistic ladder. */
function policyChainRules(
  out: { natRules: AppendCommand[] },
  rule: ReturnType<typeof templated>,
  chain: string,
  plan: ServicePortPlan,
  endpoints: readonly EndpointInfo[],
  seps: readonly string[],
  largeClusterMode: boolean,
  prev: ServicePortRules | undefined,
  old: Ladder | undefined,
  keep: Map<string, Ladder> | undefined,
  /** `endpoints`' `ip:port` strings, when the caller has them already. */
  keys?: readonly string[],
): void {
  const { name } = plan.info;
  const n = endpoints.length;
  const affinity = plan.info.sessionAffinity;
  const rules = out.natRules;
  const start = reserve(rules, affinity ? 2 * n : n);
  // A rule depends on its endpoint, its SEP and (the ladder) n - i: with the same n, rule i of the
  // old ladder is reusable when its endpoint and SEP are the same.
  const same = old !== undefined && old.endpoints.length === n ? (i: number) => old.endpoints[i] === endpoints[i]!.endpoint && old.seps[i] === seps[i] : undefined;
  if (affinity) {
    const seconds = String(plan.info.stickyMaxAgeSeconds);
    const template = largeClusterMode ? AFFINITY_BARE : AFFINITY;
    for (let i = 0; i < n; i++) {
      rules[start + i] = same?.(i) ? prev!.natRules[old!.start + i]! : rule(chain, template, name, endpoints[i]!.endpoint, seconds, seps[i]!);
    }
  }
  const ladderAt = affinity ? n : 0;
  const step = largeClusterMode ? STEP_BARE : STEP;
  for (let i = 0; i < n; i++) {
    const at = start + ladderAt + i;
    if (same?.(i)) rules[at] = prev!.natRules[old!.start + ladderAt + i]!;
    else if (i < n - 1) rules[at] = rule(chain, step, name, endpoints[i]!.endpoint, probability(n - i), seps[i]!);
    else rules[at] = rule(chain, largeClusterMode ? LAST_BARE : LAST, name, endpoints[i]!.endpoint, '', seps[i]!);
  }
  keep?.set(chain, { endpoints: keys ?? endpoints.map((ep) => ep.endpoint), seps, start });
}

function cidrHolds(cidr: string, ip: string): boolean {
  const c = parseCIDR(cidr);
  const i = parseIP(ip);
  return c !== null && i !== null && cidrContains(c, i);
}
