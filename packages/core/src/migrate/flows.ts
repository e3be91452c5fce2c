/**
 * The flows a move from iptables mode to nftables mode can change, for one snapshot and family:
 * every service port by cluster IP, external IP and load-balancer IP, its node port on every node
 * address and on localhost, its health-check node port, each from a pod, the node and an outside
 * client where that makes sense, one port of each cluster IP that no Service uses, and one address of
 * each known service CIDR that no Service holds.
 */
import type { CompileContext } from '../context.js';
import type { ServicePortPlan } from '../service-plan.js';
import { cidrContains, formatIP, isLoopback, parseCIDR, parseIP, type ParsedCIDR } from '../ip.js';
import type { Snapshot } from '../model.js';

export type FlowSource = 'pod' | 'node' | 'external';

export type FlowKind = 'cluster-ip' | 'unused-port' | 'unallocated-cluster-ip' | 'external-ip' | 'load-balancer' | 'node-port' | 'localhost-node-port' | 'health-check';

export interface MigrateFlow {
  /** `ns/name`, the Service the flow is addressed to; `''` for an address of the service CIDR no Service holds. */
  readonly service: string;
  /** kube-proxy's service port name (`ns/name:port`), or null for a flow to no port of the Service. */
  readonly servicePort: string | null;
  readonly kind: FlowKind;
  readonly from: FlowSource;
  readonly src: string;
  readonly dst: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly dport: number;
}

/** Where the flows come from; each defaults to an address the snapshot does not use otherwise. */
export interface FlowSources {
  /** A pod on this node (default: the first free address of the cluster CIDR or the node's pod CIDR). */
  readonly podIP?: string;
  /** An outside client (default: 198.51.100.2 / 2001:db8:1::2, outside every source range). */
  readonly externalIP?: string;
}

export interface FlowPlan {
  readonly flows: readonly MigrateFlow[];
  readonly podIP: string;
  readonly nodeIP: string | null;
  readonly externalIP: string;
  /** The node's own addresses (loopback aside): node ports are tried on each. */
  readonly nodeAddresses: readonly string[];
}

const DEFAULT_EXTERNAL = { IPv4: '198.51.100.2', IPv6: '2001:db8:1::2' } as const;
const FALLBACK_POD_CIDR = { IPv4: '10.244.0.0/16', IPv6: 'fd00:10:244::/64' } as const;
const LOCALHOST = { IPv4: '127.0.0.1', IPv6: '::1' } as const;

/** The address `offset` after a network's first one. */
function nth(cidr: ParsedCIDR, offset: number): string {
  const bytes = Uint8Array.from(cidr.bytes);
  let carry = offset;
  for (let i = bytes.length - 1; i >= 0 && carry > 0; i--) {
    const v = bytes[i]! + carry;
    bytes[i] = v & 0xff;
    carry = v >> 8;
  }
  return formatIP({ family: cidr.family, bytes });
}

function usedAddresses(snapshot: Snapshot): Set<string> {
  const used = new Set<string>();
  for (const s of snapshot.endpointSlices) for (const e of s.endpoints) for (const a of e.addresses) used.add(a);
  for (const p of snapshot.pods ?? []) for (const a of p.podIPs) used.add(a);
  for (const n of snapshot.nodes) for (const a of n.addresses) used.add(a.address);
  return used;
}

function defaultPodIP(snapshot: Snapshot, ctx: CompileContext): string {
  const node = snapshot.nodes.find((n) => n.name === ctx.nodeName);
  const candidates = [...(node?.podCIDRs ?? []), ...(snapshot.config?.clusterCIDRs ?? []), FALLBACK_POD_CIDR[ctx.family]];
  const cidr = candidates.map((c) => parseCIDR(c)).find((c): c is ParsedCIDR => c !== null && c.family === ctx.family)!;
  const used = usedAddresses(snapshot);
  for (let i = 2; ; i++) {
    const ip = nth(cidr, i);
    if (!used.has(ip)) return ip;
  }
}

/** The node's addresses of this family: the compile's interface addresses when given, else its Node's. */
function nodeAddressesOf(snapshot: Snapshot, ctx: CompileContext, interfaceAddresses: readonly string[] | undefined): string[] {
  const node = snapshot.nodes.find((n) => n.name === ctx.nodeName);
  const all = [...(interfaceAddresses ?? node?.addresses.map((a) => a.address) ?? []), ...(ctx.nodeIP ? [ctx.nodeIP] : [])];
  const out = new Set<string>();
  for (const a of all) {
    const ip = parseIP(a);
    if (ip && ip.family === ctx.family && !isLoopback(ip)) out.add(formatIP(ip));
  }
  return [...out];
}

/** A client allowed by the service's source ranges: the first address of its first range of this family. */
function allowedClient(info: ServicePortPlan['info'], ctx: CompileContext): string | null {
  for (const r of info.sourceRanges) {
    const c = parseCIDR(r);
    if (c && c.family === ctx.family) return c.prefix >= (c.family === 'IPv4' ? 31 : 127) ? formatIP({ family: c.family, bytes: c.bytes }) : nth(c, 1);
  }
  return null;
}

/** The lowest port of `protocol` no service port of this cluster IP uses. */
function unusedPort(plans: readonly ServicePortPlan[], clusterIP: string): number {
  const used = new Set(plans.filter((p) => p.info.clusterIP === clusterIP && p.info.protocol === 'tcp').map((p) => p.info.port.port));
  let port = 1;
  while (used.has(port)) port++;
  return port;
}

export function enumerateFlows(snapshot: Snapshot, ctx: CompileContext, plans: readonly ServicePortPlan[], sources: FlowSources = {}, interfaceAddresses?: readonly string[]): FlowPlan {
  const podIP = sources.podIP ?? defaultPodIP(snapshot, ctx);
  const externalIP = sources.externalIP ?? DEFAULT_EXTERNAL[ctx.family];
  const nodeAddresses = nodeAddressesOf(snapshot, ctx, interfaceAddresses);
  const nodeIP = ctx.nodeIP ?? nodeAddresses[0] ?? null;
  const flows: MigrateFlow[] = [];
  const seenClusterIPs = new Set<string>();
  for (const plan of plans) {
    const { info } = plan;
    const service = `${info.service.namespace}/${info.service.name}`;
    const base = { service, servicePort: info.name, protocol: info.protocol, dport: info.port.port };
    const from = (kind: FlowKind, dst: string, who: readonly FlowSource[], dport = base.dport): void => {
      for (const f of who) {
        const src = f === 'pod' ? podIP : f === 'external' ? externalIP : kind === 'localhost-node-port' ? dst : nodeIP;
        if (src !== null) flows.push({ ...base, kind, from: f, src, dst, dport });
      }
    };
    from('cluster-ip', info.clusterIP, ['pod', 'node']);
    for (const ip of info.externalIPs) from('external-ip', ip, ['pod', 'node', 'external']);
    for (const ip of info.loadBalancerVIPs) {
      from('load-balancer', ip, ['pod', 'node', 'external']);
      const allowed = allowedClient(info, ctx);
      if (allowed !== null && allowed !== externalIP) flows.push({ ...base, kind: 'load-balancer', from: 'external', src: allowed, dst: ip });
    }
    if (info.port.nodePort > 0) {
      for (const ip of nodeAddresses) from('node-port', ip, ['pod', 'node', 'external'], info.port.nodePort);
      from('localhost-node-port', LOCALHOST[ctx.family], ['node'], info.port.nodePort);
    }
    if (info.healthCheckNodePort > 0 && nodeIP !== null && !flows.some((f) => f.kind === 'health-check' && f.service === service)) {
      flows.push({ service, servicePort: null, kind: 'health-check', from: 'external', src: externalIP, dst: nodeIP, protocol: 'tcp', dport: info.healthCheckNodePort });
    }
    if (!seenClusterIPs.has(info.clusterIP)) {
      seenClusterIPs.add(info.clusterIP);
      flows.push({ service, servicePort: null, kind: 'unused-port', from: 'pod', src: podIP, dst: info.clusterIP, protocol: 'tcp', dport: unusedPort(plans, info.clusterIP) });
    }
  }
  for (const cidr of ctx.serviceCIDRs) {
    const dst = unallocatedAddress(snapshot, cidr);
    if (dst !== null) flows.push({ service: '', servicePort: null, kind: 'unallocated-cluster-ip', from: 'pod', src: podIP, dst, protocol: 'tcp', dport: 80 });
  }
  return { flows, podIP, nodeIP, externalIP, nodeAddresses };
}

/** The first address of `cidr` after its network address that is no Service's cluster IP, or null. */
function unallocatedAddress(snapshot: Snapshot, cidr: string): string | null {
  const net = parseCIDR(cidr);
  if (net === null) return null;
  const allocated = new Set(snapshot.services.flatMap((s) => s.clusterIPs));
  const size = (net.family === 'IPv4' ? 32 : 128) - net.prefix;
  // Bounded: a /30 has two usable addresses; the search stops at the CIDR's end or 65536 tries.
  const last = size >= 16 ? 65536 : 2 ** size - 1;
  for (let i = 1; i < last; i++) {
    const ip = nth(net, i);
    if (!allocated.has(ip)) return ip;
  }
  return null;
}

/** Whether `ip` is in one of `cidrs`. */
export function inRanges(ip: string, cidrs: readonly string[]): boolean {
  const parsed = parseIP(ip);
  return parsed !== null && cidrs.some((c) => {
    const net = parseCIDR(c);
    return net !== null && cidrContains(net, parsed);
  });
}
