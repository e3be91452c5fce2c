/**
 * kube-proxy's jump ("hook") rules from the built-in chains into its own chains, installed with
 * `iptables -I` outside the restore payload (proxier.go `iptablesJumpChains`, then
 * `iptablesKubeletJumpChains`, in that order). The applier installs them; the tracer, given them,
 * adds them to compiled restore text, which has none.
 */
import type { HookRule, HookRules } from '@svcrules/iptables';
import { FORWARDING_RULES_COMMENT } from './comments.js';
import { KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES } from './chains.js';

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'] as const;

const EXTERNAL = 'kubernetes externally-visible service portals';
const PORTALS = 'kubernetes service portals';
const FIREWALL = 'kubernetes load balancer firewall';

export const KUBE_PROXY_HOOK_RULES: readonly HookRule[] = [
  { table: 'filter', chain: 'INPUT', target: KUBE_EXTERNAL_SERVICES, comment: EXTERNAL, extraArgs: NEW },
  { table: 'filter', chain: 'FORWARD', target: KUBE_EXTERNAL_SERVICES, comment: EXTERNAL, extraArgs: NEW },
  { table: 'filter', chain: 'INPUT', target: KUBE_NODEPORTS, comment: 'kubernetes health check service ports', extraArgs: [] },
  { table: 'filter', chain: 'FORWARD', target: KUBE_SERVICES, comment: PORTALS, extraArgs: NEW },
  { table: 'filter', chain: 'OUTPUT', target: KUBE_SERVICES, comment: PORTALS, extraArgs: NEW },
  { table: 'filter', chain: 'FORWARD', target: KUBE_FORWARD, comment: FORWARDING_RULES_COMMENT, extraArgs: [] },
  { table: 'filter', chain: 'INPUT', target: KUBE_PROXY_FIREWALL, comment: FIREWALL, extraArgs: NEW },
  { table: 'filter', chain: 'OUTPUT', target: KUBE_PROXY_FIREWALL, comment: FIREWALL, extraArgs: NEW },
  { table: 'filter', chain: 'FORWARD', target: KUBE_PROXY_FIREWALL, comment: FIREWALL, extraArgs: NEW },
  { table: 'nat', chain: 'OUTPUT', target: KUBE_SERVICES, comment: PORTALS, extraArgs: [] },
  { table: 'nat', chain: 'PREROUTING', target: KUBE_SERVICES, comment: PORTALS, extraArgs: [] },
  { table: 'nat', chain: 'POSTROUTING', target: KUBE_POSTROUTING, comment: 'kubernetes postrouting rules', extraArgs: [] },
  // kubelet's jumps: no comment.
  { table: 'filter', chain: 'INPUT', target: KUBE_FIREWALL, comment: '', extraArgs: [] },
  { table: 'filter', chain: 'OUTPUT', target: KUBE_FIREWALL, comment: '', extraArgs: [] },
];

/** The hook rules as the tracer takes them (`TraceOptions.hooks`). */
export const KUBE_PROXY_HOOKS: HookRules = { installer: 'kube-proxy', rules: KUBE_PROXY_HOOK_RULES };
