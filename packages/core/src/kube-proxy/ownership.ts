/**
 * Which chains are kube-proxy's to rewrite and delete (proxier.go syncProxyRules: the top-level
 * chains are written in every sync, stale per-service chains are deleted with `-X`).
 */
import type { PlanPolicy } from '@svcrules/iptables';
import { KUBE_FIREWALL } from './chains.js';
import { isServiceChain } from './names.js';

/**
 * Top-level KUBE chains are rewritten whenever their table is; only stale nat service chains are
 * deleted. One deliberate difference: kube-proxy never declares filter KUBE-FIREWALL when
 * localhostNodePorts is off, so its old DROP rule would stay forever; here the chain (which the hook
 * rules keep, so it is never deleted) is emptied instead, and the host always ends up exactly as the
 * desired ruleset says.
 */
export const KUBE_PROXY_POLICY: PlanPolicy = {
  alwaysWrite: (_table, chain) => !isServiceChain(chain),
  deletable: (table, chain) => table === 'nat' && isServiceChain(chain),
  emptyWhenUndesired: (table, chain) => table === 'filter' && chain === KUBE_FIREWALL,
};
