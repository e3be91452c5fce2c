// kube-proxy's vocabulary: every name, rule and policy of its own that core, the applier and the CLI share.
export * from './chains.js';
export * from './names.js';
export * from './nft-names.js';
export * from './comments.js';
export * from './hooks.js';
export * from './canaries.js';
export * from './nfacct.js';
export * from './ownership.js';
export * from './iptables-test-order.js';
export * from './nft-test-order.js';
export * from './go-sort.js';
