import type { IPFamily } from './model.js';

/**
 * Everything besides the snapshot that changes the output. kube-proxy reads several of these from
 * the host at run time (iptables version, nfacct, sysctls, interfaces); here they are parameters.
 */
export interface CompileOptions {
  /** Default `IPv4`. Dual-stack is two compiles. */
  readonly family?: IPFamily;
  /** The node the rules are for; default: config.hostnameOverride, else the only Node in the snapshot. */
  readonly nodeName?: string;
  /** Node IPs of this family (the LB source-range "allow from node" check); default: the Node's InternalIP/ExternalIP addresses. */
  readonly nodeIPs?: readonly string[];
  /** Local interface addresses, for per-IP nodePortAddresses; default: the Node's addresses plus 127.0.0.1 / ::1. */
  readonly interfaceAddresses?: readonly string[];
  /** iptables >= 1.6.2 adds `--random-fully` to MASQUERADE. Default true. */
  readonly randomFully?: boolean;
  /** nfacct counters available (`-m nfacct` matches). Default true. */
  readonly nfacct?: boolean;
  /** `net.netfilter.nf_conntrack_tcp_be_liberal` != 0 drops the INVALID rule. Default false. */
  readonly tcpBeLiberal?: boolean;
  /** Overrides the mark text derived from masqueradeBit (kube-proxy's test fake uses `0x4000`). */
  readonly masqueradeMark?: string;
  /** nat chain names present on the host (an iptables-save of it): stale service chains get `-X`. */
  readonly existingNatChains?: readonly string[];
  /**
   * Which proxier's configuration applies (default `iptables`): `nftables` reads the config's
   * `nftables:` section and defaults nodePortAddresses to `primary` (server_linux.go).
   */
  readonly proxyMode?: 'iptables' | 'nftables';
  /** Service CIDRs (`--service-cidr`); when given, used instead of the snapshot's ServiceCIDR objects. */
  readonly serviceCIDRs?: readonly string[];
  /** Endpoints above which comments are dropped from SVC/SEP rules. Default 1000 (kube-proxy's). */
  readonly largeClusterEndpointsThreshold?: number;
}
