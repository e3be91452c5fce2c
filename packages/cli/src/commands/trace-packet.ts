/**
 * The packet `trace` follows, from its flags (checked: a bad value is a usage error, exit 2), and what
 * the node around it owns: its local addresses and where the packet starts.
 */
import { cidrContains, parseCIDR, parseIP, type IPFamily, type Snapshot } from '@svcrules/core';
import { formatAddress, nodeLocalAddresses, type NodeState, type TraceFrom, type TracePacket, type TraceProtocol } from '@svcrules/iptables';
import { UserError } from '../errors.js';

export interface PacketFlags {
  src: string;
  dst: string;
  family: 'ipv4' | 'ipv6';
  sport?: string;
  mark?: string;
  inInterface?: string;
  outInterface?: string;
  localAddress?: string[];
}

export interface PacketInput {
  readonly packet: TracePacket;
  readonly srcFamily: IPFamily;
  /** The family of the rules: the packet's, or --family when given (and agreeing). */
  readonly family: 'ipv4' | 'ipv6';
  /** --local-address, checked. */
  readonly extraLocal: readonly string[];
}

/** `IP:PORT[/proto]`, IPv6 as `[IP]:PORT[/proto]`. */
export function parseDestination(text: string): { ip: string; port: number; protocol: TraceProtocol } {
  const m = /^(?:\[([^\]]+)\]|([^:/[\]]+)):([0-9]{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const ip = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || ip === undefined || !parseIP(ip) || port < 1 || port > 65535) {
    throw new UserError(`--dst: "${text}" is not IP:PORT[/tcp|udp|sctp] (IPv6 as [IP]:PORT)`, 2);
  }
  return { ip, port, protocol: (m[4]?.toLowerCase() ?? 'tcp') as TraceProtocol };
}

function checkIP(text: string, flag: string): string {
  if (!parseIP(text)) throw new UserError(`${flag}: "${text}" is not an IP address`, 2);
  return text;
}

function parseIntFlag(text: string | undefined, flag: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UserError(`${flag}: "${text}" is not a number in 0-${max}`, 2);
  return n;
}

/** The packet of the flags. The family follows the packet unless `familyGiven` (--family on the command line). */
export function packetFrom(flags: PacketFlags, familyGiven: boolean): PacketInput {
  const src = checkIP(flags.src, '--src');
  const dst = parseDestination(flags.dst);
  const srcFamily = parseIP(src)!.family;
  if (parseIP(dst.ip)!.family !== srcFamily) throw new UserError(`--src ${src} and --dst ${dst.ip} are of different IP families`, 2);
  const sport = parseIntFlag(flags.sport, '--sport', 65535);
  const mark = parseIntFlag(flags.mark, '--mark', 0xffffffff);
  const extraLocal = (flags.localAddress ?? []).map((a) => checkIP(a, '--local-address'));
  const family = familyGiven ? flags.family : srcFamily === 'IPv6' ? 'ipv6' : 'ipv4';
  if ((family === 'ipv6') !== (srcFamily === 'IPv6')) throw new UserError(`--family ${family} does not match the packet's addresses (${srcFamily})`, 2);
  const packet: TracePacket = {
    src,
    dst: dst.ip,
    protocol: dst.protocol,
    dport: dst.port,
    ...(sport !== undefined ? { sport } : {}),
    ...(flags.inInterface !== undefined ? { inInterface: flags.inInterface } : {}),
    ...(flags.outInterface !== undefined ? { outInterface: flags.outInterface } : {}),
    ...(mark !== undefined ? { mark } : {}),
  };
  return { packet, srcFamily, family, extraLocal };
}

const isLoopback = (ip: string) => /^127\./.test(ip) || ip === '::1';

/** The node's own addresses from the snapshot: its Node's IP addresses. */
function nodeAddresses(snapshot: Snapshot | undefined, nodeName: string | null): string[] {
  if (!snapshot || nodeName === null) return [];
  const node = snapshot.nodes.find((n) => n.name === nodeName);
  return (node?.addresses ?? []).map((a) => a.address).filter((a) => parseIP(a) !== null);
}

/** The addresses the node owns (loopback aside): its Node's, the flags' given ones, the captured interfaces'. */
export function localAddressesOf(snapshot: Snapshot | undefined, node: string | null, given: readonly string[], state: NodeState | undefined): string[] {
  const fromState = state ? nodeLocalAddresses(state).map(formatAddress).filter((a) => !isLoopback(a)) : [];
  return [...new Set([...nodeAddresses(snapshot, node), ...given, ...fromState])];
}

/** A pod address: in the cluster or a node's pod CIDR, or a Pod's or endpoint's IP in the snapshot. */
function isPodAddress(snapshot: Snapshot | undefined, ip: string): boolean {
  const parsed = parseIP(ip);
  if (!snapshot || !parsed) return false;
  const cidrs = [...(snapshot.config?.clusterCIDRs ?? []), ...snapshot.nodes.flatMap((n) => n.podCIDRs)];
  if (cidrs.some((c) => {
    const net = parseCIDR(c);
    return net !== null && cidrContains(net, parsed);
  })) return true;
  if (snapshot.pods?.some((p) => p.podIPs.includes(ip))) return true;
  return snapshot.endpointSlices.some((s) => s.endpoints.some((e) => e.addresses[0] === ip));
}

/** Where a packet from `src` starts without --from: node for a local address, pod for a pod address, else external. */
export function startOf(src: string, local: readonly string[], snapshot: Snapshot | undefined): TraceFrom {
  return local.includes(src) || isLoopback(src) ? 'node' : isPodAddress(snapshot, src) ? 'pod' : 'external';
}
