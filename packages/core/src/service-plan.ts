import type { CategorizedEndpoints } from './endpoints.js';
import { serviceChainNames } from './kube-proxy/names.js';
import type { ServiceChainNames } from './kube-proxy/names.js';
import type { ServicePortInfo } from './service-port.js';

/**
 * The decisions syncProxyRules makes for one service port, as one value: which chains exist, where
 * each kind of traffic goes, and what the filter table does when it cannot go anywhere.
 */
export interface ServicePortPlan {
  readonly info: ServicePortInfo;
  readonly endpoints: CategorizedEndpoints;
  readonly chains: ServiceChainNames;
  readonly hasEndpoints: boolean;
  readonly hasInternalEndpoints: boolean;
  readonly hasExternalEndpoints: boolean;
  readonly usesClusterPolicyChain: boolean;
  readonly usesLocalPolicyChain: boolean;
  readonly usesExternalTrafficChain: boolean;
  readonly usesFWChain: boolean;
  /** KUBE-SVC or KUBE-SVL: where cluster-IP traffic goes. */
  readonly internalTrafficChain: string;
  /** KUBE-SVC or KUBE-SVL: the final jump of the EXT chain. */
  readonly externalPolicyChain: string;
  /** KUBE-FW when source ranges apply, else KUBE-EXT: where load-balancer traffic goes. */
  readonly loadBalancerTrafficChain: string;
  readonly internalFilter: { readonly target: 'REJECT' | 'DROP'; readonly comment: string };
  readonly externalFilter: { readonly target: 'REJECT' | 'DROP'; readonly comment: string };
}

export function planServicePort(info: ServicePortInfo, endpoints: CategorizedEndpoints): ServicePortPlan {
  const chains = serviceChainNames(info.name, info.protocol);
  const hasEndpoints = endpoints.hasAny;
  const hasInternalEndpoints = hasEndpoints && !(info.internalPolicyLocal && endpoints.local.length === 0);
  const hasExternalEndpoints = hasEndpoints && !(info.externalPolicyLocal && endpoints.local.length === 0);
  const usesFWChain = hasEndpoints && info.loadBalancerVIPs.length > 0 && info.sourceRanges.length > 0;
  const noEndpoints = { target: 'REJECT', comment: `${info.name} has no endpoints` } as const;
  const noLocal = { target: 'DROP', comment: `${info.name} has no local endpoints` } as const;
  return {
    info,
    endpoints,
    chains,
    hasEndpoints,
    hasInternalEndpoints,
    hasExternalEndpoints,
    usesClusterPolicyChain: endpoints.cluster.length > 0 && info.usesClusterEndpoints,
    usesLocalPolicyChain: endpoints.local.length > 0 && info.usesLocalEndpoints,
    usesExternalTrafficChain: hasEndpoints && info.externallyAccessible,
    usesFWChain,
    internalTrafficChain: info.internalPolicyLocal ? chains.svl : chains.svc,
    externalPolicyChain: info.externalPolicyLocal ? chains.svl : chains.svc,
    loadBalancerTrafficChain: usesFWChain ? chains.fw : chains.ext,
    internalFilter: !hasEndpoints ? noEndpoints : noLocal,
    externalFilter: !hasEndpoints ? noEndpoints : noLocal,
  };
}
