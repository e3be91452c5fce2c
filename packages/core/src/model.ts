/**
 * The snapshot the compiler reads: Kubernetes objects reduced to what kube-proxy uses, already
 * validated and canonical (IPs and CIDRs in Go's printed form). `@svcrules/snapshot` builds it from
 * kubectl YAML/JSON or from API objects; node agents may build it themselves.
 */

import type { IPFamily } from '@svcrules/netaddr';

export type { IPFamily };
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** Where an object came from, for diagnostics. */
export interface Origin {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface ServicePort {
  /** `spec.ports[].name`; `''` when unnamed. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** 0 when none. */
  readonly nodePort: number;
  /** Numeric or named target port, as in the spec; used only to derive endpoints from Pods. */
  readonly targetPort?: number | string;
}

export interface LoadBalancerIngress {
  /** Canonical IP, or `''` for hostname-only ingress (kube-proxy skips those). */
  readonly ip: string;
  /** `VIP` (or absent) is proxied; `Proxy` is not. */
  readonly ipMode?: 'VIP' | 'Proxy';
}

export interface Service {
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** `spec.clusterIP`: canonical IP, `'None'` for headless, `''` when unset. */
  readonly clusterIP: string;
  /** `spec.clusterIPs`, canonical, parallel to `ipFamilies`. */
  readonly clusterIPs: readonly string[];
  readonly ipFamilies: readonly IPFamily[];
  readonly ports: readonly ServicePort[];
  /** Canonical IPs, input order, duplicates kept (kube-proxy does not de-duplicate). */
  readonly externalIPs: readonly string[];
  readonly loadBalancerIngress: readonly LoadBalancerIngress[];
  /** Canonical, masked CIDRs (`10.1.2.3/8` -> `10.0.0.0/8`), input order. */
  readonly loadBalancerSourceRanges: readonly string[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  /** `sessionAffinityConfig.clientIP.timeoutSeconds`, default 10800. */
  readonly affinityTimeoutSeconds: number;
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  /** 0 when none. */
  readonly healthCheckNodePort: number;
  readonly labels: Readonly<Record<string, string>>;
  /** `spec.selector`; absent for services without selector. Used only to derive endpoints from Pods. */
  readonly selector?: Readonly<Record<string, string>>;
  readonly publishNotReadyAddresses?: boolean;
  readonly origin?: Origin;
}

export interface EndpointSlicePort {
  /** `null` when the field is absent (kube-proxy skips such ports); `''` for unnamed. */
  readonly name: string | null;
  /** `null` when absent (skipped). */
  readonly port: number | null;
  readonly protocol: Protocol;
}

export interface Endpoint {
  /** Canonical IPs; kube-proxy uses only the first. */
  readonly addresses: readonly string[];
  /** Conditions as written; `undefined` means unset (ready/serving default to true, terminating to false). */
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly nodeName?: string;
  readonly zone?: string;
  /** `hints.forZones[].name`. */
  readonly zoneHints?: readonly string[];
  /** `hints.forNodes[].name`. */
  readonly nodeHints?: readonly string[];
}

export interface EndpointSlice {
  readonly namespace: string;
  readonly name: string;
  /** The `kubernetes.io/service-name` label; `''` when missing (kube-proxy ignores the slice). */
  readonly serviceName: string;
  readonly addressType: 'IPv4' | 'IPv6' | 'FQDN';
  readonly ports: readonly EndpointSlicePort[];
  readonly endpoints: readonly Endpoint[];
  readonly labels: Readonly<Record<string, string>>;
  readonly origin?: Origin;
}

export interface NodeAddress {
  readonly type: string;
  readonly address: string;
}

export interface NodeInfo {
  readonly name: string;
  readonly addresses: readonly NodeAddress[];
  /** Canonical CIDRs. */
  readonly podCIDRs: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly origin?: Origin;
}

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

/** The KubeProxyConfiguration fields the iptables proxier uses (v1alpha1 names). */
export interface ProxyConfig {
  readonly hostnameOverride?: string;
  /** Canonical CIDRs from `clusterCIDR` (comma-separated in the config). */
  readonly clusterCIDRs?: readonly string[];
  readonly detectLocalMode?: DetectLocalMode;
  readonly bridgeInterface?: string;
  readonly interfaceNamePrefix?: string;
  readonly masqueradeBit?: number;
  readonly masqueradeAll?: boolean;
  readonly localhostNodePorts?: boolean;
  /** CIDRs (canonical) and/or the keyword `primary`. */
  readonly nodePortAddresses?: readonly string[];
  /** `mode`, when it names a mode svcrules compiles (`''` and absent mean iptables to kube-proxy). */
  readonly mode?: 'iptables' | 'nftables';
  /** The `nftables:` section, which the nftables proxier reads instead of `iptables:`. */
  readonly nftables?: { readonly masqueradeBit?: number; readonly masqueradeAll?: boolean };
  readonly origin?: Origin;
}

/** A `networking.k8s.io/v1` ServiceCIDR: the ranges cluster IPs are allocated from. */
export interface ServiceCIDR {
  readonly name: string;
  /** Canonical CIDRs, at most one per family. */
  readonly cidrs: readonly string[];
  readonly origin?: Origin;
}

/** A Pod, reduced to what the EndpointSlice controller uses (for snapshots without slices). */
export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeName?: string;
  readonly phase?: string;
  /** Canonical IPs from `status.podIPs` (or `status.podIP`). */
  readonly podIPs: readonly string[];
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly containerPorts: readonly { readonly name?: string; readonly containerPort: number; readonly protocol: Protocol }[];
  readonly origin?: Origin;
}

export interface Snapshot {
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly nodes: readonly NodeInfo[];
  readonly pods?: readonly Pod[];
  readonly config?: ProxyConfig;
  /** ServiceCIDR objects (the nftables proxier drops traffic to unallocated addresses in them). */
  readonly serviceCIDRs?: readonly ServiceCIDR[];
}
