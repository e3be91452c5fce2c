/** The fixed comments of kube-proxy's rules (proxier.go syncProxyRules and its jump-chain table). */
export const FORWARDING_RULES_COMMENT = 'kubernetes forwarding rules';
export const FORWARDING_CONNTRACK_COMMENT = 'kubernetes forwarding conntrack rule';
export const SNAT_COMMENT = 'kubernetes service traffic requiring SNAT';
export const LOCALNET_BLOCK_COMMENT = 'block incoming localnet connections';
/** On the KUBE-SERVICES -> KUBE-NODEPORTS jump(s); kube-proxy's test sorter keeps them last by this text. */
export const NODEPORTS_LAST_COMMENT = 'kubernetes service nodeports; NOTE: this must be the last rule in this chain';
