/** kube-proxy's hashed chain names (proxier.go `servicePortChainName` and friends, `portProtoHash`). */
import { prefixedHash16, prefixedHashes16, sha256Base32Prefix16 } from '../sha256.js';
import { SEP_PREFIX, SERVICE_CHAIN_PREFIXES } from './chains.js';

/** First 16 characters of base32(StdEncoding) of sha256(input): kube-proxy's portProtoHash. */
export function hash16(input: string): string {
  return sha256Base32Prefix16(input);
}

export interface ServiceChainNames {
  readonly svc: string;
  readonly svl: string;
  readonly ext: string;
  readonly fw: string;
}

/** SVC/SVL/EXT/FW chains of one service port; `protocol` is lower case. */
export function serviceChainNames(servicePortName: string, protocol: string): ServiceChainNames {
  const [svc, svl, ext, fw] = prefixedHashes16(SERVICE_CHAIN_PREFIXES, servicePortName, protocol) as [string, string, string, string];
  return { svc, svl, ext, fw };
}

/** KUBE-SEP chain of one endpoint; `endpoint` is `ip:port` (`[ip6]:port`). */
export function endpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return prefixedHash16(SEP_PREFIX, servicePortName, protocol, endpoint);
}

const OWN_CHAIN_PREFIXES = [...SERVICE_CHAIN_PREFIXES, SEP_PREFIX];

/** The per-service chains kube-proxy considers its own (deleted when stale). */
export function isServiceChain(name: string): boolean {
  return OWN_CHAIN_PREFIXES.some((p) => name.startsWith(p));
}
