/**
 * The chains of kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go: the `kube*Chain`
 * constants and the per-service chain prefixes), and kubelet's KUBE-FIREWALL that kube-proxy also
 * writes when localhost node ports are on.
 */

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
/** kubelet's chain (iptablesKubeletJumpChains); kube-proxy fills it with the localhost node-port guard. */
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

/** Per service port: cluster traffic (SVC), internalTrafficPolicy Local (SVL), external (EXT), load-balancer firewall (FW). */
export const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-'] as const;
export const [SVC_PREFIX, SVL_PREFIX, EXT_PREFIX, FW_PREFIX] = SERVICE_CHAIN_PREFIXES;
/** Per endpoint. */
export const SEP_PREFIX = 'KUBE-SEP-';

/** Every chain kube-proxy names starts so; sorting and reports tell its chains from others by it. */
export const KUBE_PREFIX = 'KUBE-';

export const isKubeChain = (name: string): boolean => name.startsWith(KUBE_PREFIX);
