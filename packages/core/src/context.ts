import type { Diagnostic } from './diagnostics.js';
import type { IPFamily, NodeInfo, Snapshot } from './model.js';
import type { CompileOptions } from './options.js';
import { cidrContains, formatCIDR, formatIP, isLoopback, parseCIDR, parseIP } from './ip.js';
import type { ParsedCIDR } from './ip.js';

/** What the local-traffic detector (localdetector.go) matches, whatever the backend writes for it. */
export type LocalMatch = { readonly cidr: string } | { readonly interfaceName: string } | { readonly interfacePrefix: string };

/** The local-traffic detector's match words (localdetector.go); null when it is a no-op. */
export interface LocalDetector {
  readonly ifLocal: readonly string[];
  readonly ifNotLocal: readonly string[];
  readonly match: LocalMatch;
}

/** Everything about the node and the proxy configuration that rule generation reads, computed once. */
export interface CompileContext {
  readonly family: IPFamily;
  readonly nodeName: string;
  readonly zone: string;
  /** This family's node IP (LB source ranges "allow from node"); null when unknown. */
  readonly nodeIP: string | null;
  readonly mark: string;
  readonly masqueradeAll: boolean;
  readonly localDetector: LocalDetector | null;
  /** Effective: configured AND IPv4 AND nodePortAddresses contain an IPv4 loopback address. */
  readonly localhostNodePorts: boolean;
  /** null = match all; otherwise the node IPs that accept node ports (sorted). */
  readonly nodePortIPs: readonly string[] | null;
  readonly randomFully: boolean;
  readonly nfacct: boolean;
  readonly tcpBeLiberal: boolean;
  readonly largeClusterEndpointsThreshold: number;
  /** The configuration's proxy mode (options.proxyMode): which config section and defaults applied. */
  readonly proxyMode: 'iptables' | 'nftables';
  /** This family's service CIDRs (ServiceCIDR objects or options.serviceCIDRs), de-duplicated, sorted bytewise. */
  readonly serviceCIDRs: readonly string[];
}

const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** `fmt.Sprintf("%#08x", 1<<bit)`: `0x` then 8 hex digits. */
export function masqueradeMark(bit: number): string {
  return '0x' + (2 ** bit).toString(16).padStart(8, '0');
}

function pickNode(snapshot: Snapshot, options: CompileOptions, diagnostics: Diagnostic[]): { name: string; node: NodeInfo | undefined } {
  const name = options.nodeName ?? snapshot.config?.hostnameOverride ?? (snapshot.nodes.length === 1 ? snapshot.nodes[0]!.name : '');
  const node = snapshot.nodes.find((n) => n.name === name);
  if (name === '') {
    diagnostics.push({
      code: 'no-node-name',
      severity: 'warning',
      message:
        snapshot.nodes.length > 1
          ? `the snapshot has ${snapshot.nodes.length} Nodes and none was chosen (use --node or hostnameOverride): no endpoint is local`
          : 'no node name (no Node object, --node or hostnameOverride): no endpoint is local',
    });
  } else if (!node && snapshot.nodes.length > 0) {
    diagnostics.push({ code: 'unknown-node', severity: 'warning', message: `node "${name}" is not among the snapshot's Nodes: node IPs, zone and pod CIDRs are unknown` });
  }
  return { name, node };
}

/** kube-proxy's node IP for a family: the first InternalIP of that family, else the first ExternalIP. */
function nodeIPFor(node: NodeInfo | undefined, family: IPFamily): string | null {
  if (!node) return null;
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const a of node.addresses) {
      if (a.type !== type) continue;
      const ip = parseIP(a.address);
      if (ip && ip.family === family) return formatIP(ip);
    }
  }
  return null;
}

function firstCIDROf(cidrs: readonly string[] | undefined, family: IPFamily): string | null {
  for (const c of cidrs ?? []) {
    const parsed = parseCIDR(c);
    if (parsed && parsed.family === family) return c;
  }
  return null;
}

function localDetectorFor(snapshot: Snapshot, node: NodeInfo | undefined, family: IPFamily): LocalDetector | null {
  const cfg = snapshot.config;
  switch (cfg?.detectLocalMode ?? 'ClusterCIDR') {
    case 'ClusterCIDR': {
      const c = firstCIDROf(cfg?.clusterCIDRs, family);
      return c ? { ifLocal: ['-s', c], ifNotLocal: ['!', '-s', c], match: { cidr: c } } : null;
    }
    case 'NodeCIDR': {
      const c = firstCIDROf(node?.podCIDRs, family);
      return c ? { ifLocal: ['-s', c], ifNotLocal: ['!', '-s', c], match: { cidr: c } } : null;
    }
    case 'BridgeInterface': {
      const i = cfg?.bridgeInterface;
      return i ? { ifLocal: ['-i', i], ifNotLocal: ['!', '-i', i], match: { interfaceName: i } } : null;
    }
    case 'InterfaceNamePrefix': {
      const p = cfg?.interfaceNamePrefix;
      return p ? { ifLocal: ['-i', `${p}+`], ifNotLocal: ['!', '-i', `${p}+`], match: { interfacePrefix: p } } : null;
    }
  }
}

/**
 * nodeport_addresses.go: CIDRs of this family (`primary` = the node IPs), match-all when none or a
 * /0 is given, and whether they contain an IPv4 loopback address (which localhost node ports need).
 */
function nodePortAddresses(
  configured: readonly string[] | undefined,
  family: IPFamily,
  node: NodeInfo | undefined,
  interfaceAddresses: readonly string[],
): { ips: string[] | null; containsIPv4Loopback: boolean } {
  const cidrs: ParsedCIDR[] = [];
  for (const entry of configured ?? []) {
    if (entry === 'primary') {
      for (const fam of ['IPv4', 'IPv6'] as const) {
        const ip = nodeIPFor(node, fam);
        const parsed = ip ? parseIP(ip) : null;
        if (parsed && !isLoopback(parsed)) cidrs.push({ family: fam, bytes: parsed.bytes, prefix: fam === 'IPv4' ? 32 : 128 });
      }
      continue;
    }
    const c = parseCIDR(entry);
    if (c) cidrs.push(c);
  }
  const ofFamily = cidrs.filter((c) => c.family === family);
  if (ofFamily.length === 0) ofFamily.push(parseCIDR(family === 'IPv4' ? '0.0.0.0/0' : '::/0')!);
  let containsIPv4Loopback = false;
  const loopbackStart = parseIP('127.0.0.0')!;
  for (const c of ofFamily) {
    if (c.family === 'IPv4' && (isLoopback({ family: 'IPv4', bytes: c.bytes }) || cidrContains(c, loopbackStart))) containsIPv4Loopback = true;
    if (c.prefix === 0) return { ips: null, containsIPv4Loopback };
  }
  const ips = new Set<string>();
  for (const a of interfaceAddresses) {
    const ip = parseIP(a);
    if (ip && ofFamily.some((c) => cidrContains(c, ip))) ips.add(formatIP(ip));
  }
  return { ips: [...ips].sort(), containsIPv4Loopback };
}

/** The family's service CIDRs: options.serviceCIDRs when given, else every ServiceCIDR object's. */
function serviceCIDRsFor(snapshot: Snapshot, options: CompileOptions, family: IPFamily): string[] {
  const all = options.serviceCIDRs ?? (snapshot.serviceCIDRs ?? []).flatMap((s) => s.cidrs);
  const ofFamily = new Set<string>();
  for (const c of all) {
    const parsed = parseCIDR(c);
    if (parsed && parsed.family === family) ofFamily.add(formatCIDR(parsed));
  }
  return [...ofFamily].sort();
}

export function buildContext(snapshot: Snapshot, options: CompileOptions, diagnostics: Diagnostic[]): CompileContext {
  const family = options.family ?? 'IPv4';
  const proxyMode = options.proxyMode ?? 'iptables';
  const cfg = snapshot.config;
  // The nftables proxier reads its own config section; its nodePortAddresses default is `primary`.
  const masq = proxyMode === 'nftables' ? cfg?.nftables : cfg;
  const nodePortAddressList = proxyMode === 'nftables' && (cfg?.nodePortAddresses ?? []).length === 0 ? ['primary'] : cfg?.nodePortAddresses;
  const { name: nodeName, node } = pickNode(snapshot, options, diagnostics);
  const nodeIPs = options.nodeIPs?.filter((ip) => parseIP(ip)?.family === family);
  const nodeIP = nodeIPs && nodeIPs.length > 0 ? nodeIPs[0]! : nodeIPFor(node, family);
  const interfaceAddresses =
    options.interfaceAddresses ?? [...(node?.addresses.map((a) => a.address) ?? []), family === 'IPv4' ? '127.0.0.1' : '::1'];
  const npa = nodePortAddresses(nodePortAddressList, family, node, interfaceAddresses);
  return {
    family,
    nodeName,
    zone: node?.labels[ZONE_LABEL] ?? '',
    nodeIP,
    mark: options.masqueradeMark ?? masqueradeMark(masq?.masqueradeBit ?? 14),
    masqueradeAll: masq?.masqueradeAll ?? false,
    localDetector: localDetectorFor(snapshot, node, family),
    localhostNodePorts: (cfg?.localhostNodePorts ?? true) && family === 'IPv4' && npa.containsIPv4Loopback,
    nodePortIPs: npa.ips,
    randomFully: options.randomFully ?? true,
    nfacct: options.nfacct ?? true,
    tcpBeLiberal: options.tcpBeLiberal ?? false,
    largeClusterEndpointsThreshold: options.largeClusterEndpointsThreshold ?? 1000,
    proxyMode,
    serviceCIDRs: serviceCIDRsFor(snapshot, options, family),
  };
}
