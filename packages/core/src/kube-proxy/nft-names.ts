/**
 * The chain and set names of kube-proxy's nftables proxier (pkg/proxy/nftables/proxier.go
 * `hashAndTruncate`, `servicePortChainNameBase`, `servicePortEndpointChainNameBase`): a readable
 * name `ns/svc/proto/port` (plus `__ip/port` for an endpoint) behind the first 8 base32 characters
 * of its sha256, truncated to 240 characters (knftables' 256-byte name limit minus room for the
 * longest prefix).
 */
import { sha256Base32Prefix16 } from '../sha256.js';

/** knftables.NameLengthMax (256) - 16. */
const MAX_BASE_LENGTH = 240;

/** `HASH8-name`, cut to 237 characters + `...` when longer than 240; the name may come in parts (hashed without joining them first). */
export function nftHashAndTruncate(name: string, more = '', andMore = ''): string {
  const full = `${sha256Base32Prefix16(name, more, andMore).slice(0, 8)}-${name}${more}${andMore}`;
  return full.length > MAX_BASE_LENGTH ? `${full.slice(0, MAX_BASE_LENGTH - 3)}...` : full;
}

/** The base of a service port's chains; `protocol` lower case (`tcp`), `portName` may be empty. */
export function nftServicePortChainBase(namespace: string, name: string, protocol: string, portName: string): string {
  return nftHashAndTruncate(`${namespace}/${name}/${protocol}/${portName}`);
}

/**
 * The base of an endpoint's chain and affinity set; `endpoint` is `ip:port` or `[ip6]:port`
 * (`net.JoinHostPort`). The address appears with every `:` as `.` and no brackets.
 */
export function nftEndpointChainBase(namespace: string, name: string, protocol: string, portName: string, endpoint: string): string {
  return nftEndpointChainBases(namespace, name, protocol, portName, [endpoint])[0]!;
}

/** `nftEndpointChainBase` of each of a service port's endpoints (the port's part of the name made once). */
export function nftEndpointChainBases(namespace: string, name: string, protocol: string, portName: string, endpoints: readonly string[]): string[] {
  const portPart = `${namespace}/${name}/${protocol}/${portName}__`;
  return endpoints.map((endpoint) => {
    const colon = endpoint.lastIndexOf(':');
    let host = endpoint.slice(0, colon);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    return nftHashAndTruncate(portPart, host.includes(':') ? host.replaceAll(':', '.') : host, `/${endpoint.slice(colon + 1)}`);
  });
}

export interface NftServiceChainNames {
  /** Cluster-policy chain. */
  readonly service: string;
  /** Local-policy chain. */
  readonly local: string;
  /** External-traffic chain. */
  readonly external: string;
  /** LoadBalancerSourceRanges chain. */
  readonly firewall: string;
}

export function nftServiceChainNames(base: string): NftServiceChainNames {
  return { service: `service-${base}`, local: `local-${base}`, external: `external-${base}`, firewall: `firewall-${base}` };
}

export interface NftEndpointNames {
  readonly chain: string;
  /** ClientIP session-affinity set. */
  readonly affinitySet: string;
}

export function nftEndpointNames(base: string): NftEndpointNames {
  return { chain: nftEndpointChainName(base), affinitySet: nftAffinitySetName(base) };
}

/** The endpoint chain of `base` (an endpoint's `nftEndpointChainBase`). */
export function nftEndpointChainName(base: string): string {
  return `endpoint-${base}`;
}

/** The ClientIP session-affinity set of `base`: made only for a port with affinity, as most have none. */
export function nftAffinitySetName(base: string): string {
  return `affinity-${base}`;
}

/** `isServiceChainName`: kube-proxy's own per-service chains are exactly those with a `/`. */
export function isNftServiceChain(name: string): boolean {
  return name.includes('/');
}

/** `isAffinitySetName`. */
export function isNftAffinitySet(name: string): boolean {
  return name.startsWith('affinity-');
}
