/**
 * Why a flow's outcome differs between the modes, in Kubernetes terms: one rule per known
 * difference between kube-proxy's iptables and nftables proxiers (KEP-3866 "Changes from the
 * iptables kube-proxy backend", pkg/proxy/nftables/proxier.go), each with the configuration that
 * keeps today's behaviour where one exists. The first rule that matches explains the difference;
 * a difference no rule matches is reported unexplained.
 */
import type { CompileContext } from '../context.js';
import type { Snapshot } from '../model.js';
import type { ServicePortPlan } from '../service-plan.js';
import { inRanges, type MigrateFlow } from './flows.js';
import type { ModeOutcome, OutcomeBranch } from './outcome.js';

export interface DifferenceReason {
  /** The rule's name, stable for scripts. */
  readonly id: string;
  readonly reason: string;
  /** The configuration (or action) that keeps the iptables-mode behaviour, or null when none does. */
  readonly keep: string | null;
}

export interface DifferenceInput {
  readonly flow: MigrateFlow;
  readonly iptables: ModeOutcome | { readonly error: string };
  readonly nftables: ModeOutcome | { readonly error: string };
  readonly snapshot: Snapshot;
  readonly iptablesContext: CompileContext;
  readonly nftablesContext: CompileContext;
  readonly plans: readonly ServicePortPlan[];
}

interface Traced {
  readonly flow: MigrateFlow;
  readonly ipt: ModeOutcome;
  readonly nft: ModeOutcome;
  readonly input: DifferenceInput;
  readonly plan: ServicePortPlan | undefined;
}

interface DifferenceRule {
  readonly id: string;
  readonly applies: (t: Traced) => boolean;
  readonly explain: (t: Traced) => Omit<DifferenceReason, 'id'>;
}

const all = (o: ModeOutcome, test: (b: OutcomeBranch) => boolean) => o.branches.length > 0 && o.branches.every(test);
const reachesEndpoint = (o: ModeOutcome) => o.branches.some((b) => b.verdict === 'ACCEPT' && b.endpoint !== null);
const untranslated = (o: ModeOutcome) => all(o, (b) => b.verdict === 'ACCEPT' && b.endpoint === null);
const refused = (o: ModeOutcome) => all(o, (b) => b.verdict === 'REJECT' || b.verdict === 'DROP');
const sameBackends = (a: ModeOutcome, b: ModeOutcome) =>
  a.branches.length === b.branches.length && a.branches.every((x, i) => x.endpoint === b.branches[i]!.endpoint && x.verdict === b.branches[i]!.verdict && Math.abs(x.share - b.branches[i]!.share) < 1e-6);

export const DIFFERENCE_RULES: readonly DifferenceRule[] = [
  {
    id: 'localhost-node-ports',
    applies: (t) => t.flow.kind === 'localhost-node-port' && !reachesEndpoint(t.nft),
    explain: () => ({
      reason:
        'nftables mode does not support NodePorts on localhost: it never DNATs connections to 127.0.0.1 (or ::1). iptables mode serves IPv4 node ports on 127.0.0.1 by default (iptables.localhostNodePorts: true, with route_localnet)',
      keep: null,
    }),
  },
  {
    id: 'node-port-addresses-primary',
    applies: (t) =>
      t.flow.kind === 'node-port' &&
      (t.input.snapshot.config?.nodePortAddresses ?? []).length === 0 &&
      t.input.nftablesContext.nodePortIPs !== null &&
      !t.input.nftablesContext.nodePortIPs.includes(t.flow.dst) &&
      reachesEndpoint(t.ipt) &&
      !reachesEndpoint(t.nft),
    explain: (t) => ({
      reason: `nodePortAddresses is unset: nftables mode then defaults it to "primary" and serves node ports only on the node's primary IP (${t.input.nftablesContext.nodePortIPs!.join(', ') || 'none'}); iptables mode serves them on every local address`,
      keep: `nodePortAddresses: ["${t.input.nftablesContext.family === 'IPv4' ? '0.0.0.0/0' : '::/0'}"] in the KubeProxyConfiguration (both families on a dual-stack node: ["0.0.0.0/0", "::/0"])`,
    }),
  },
  {
    id: 'unused-cluster-ip-port',
    applies: (t) => t.flow.kind === 'unused-port' && all(t.nft, (b) => b.verdict === 'REJECT') && !all(t.ipt, (b) => b.verdict === 'REJECT'),
    explain: () => ({
      reason:
        'nftables mode rejects connections to a port of a cluster IP that no Service port uses (its cluster-ips-check chain); iptables mode has no rule for them, so they leave untranslated towards the cluster IP and usually time out',
      keep: null,
    }),
  },
  {
    id: 'unallocated-cluster-ip',
    applies: (t) => t.flow.kind === 'unallocated-cluster-ip' && all(t.nft, (b) => b.verdict === 'DROP') && !all(t.ipt, (b) => b.verdict === 'DROP'),
    explain: (t) => ({
      reason: `nftables mode drops traffic to addresses of the service CIDRs (${t.input.nftablesContext.serviceCIDRs.join(', ')}) that no Service holds (its cluster-ips-check chain: "Drop traffic to unallocated ClusterIPs"); iptables mode does not know the service CIDRs, so these packets leave untranslated towards the address`,
      keep: null,
    }),
  },
  {
    id: 'health-check-node-port',
    applies: (t) => t.flow.kind === 'health-check' && all(t.ipt, (b) => b.accepted === 'rule') && all(t.nft, (b) => b.accepted === 'no rule'),
    explain: (t) => ({
      reason:
        "nftables mode writes no rule accepting the Service's healthCheckNodePort (an nftables accept cannot override a drop in another table; KEP-3866); iptables mode accepts it in KUBE-NODEPORTS ahead of the host's own firewall. Load-balancer health checks reach kube-proxy only if the host firewall allows the port",
      keep: `allow TCP port ${t.flow.dport} in the host firewall`,
    }),
  },
  {
    id: 'source-ranges-without-endpoints',
    applies: (t) =>
      t.flow.kind === 'load-balancer' &&
      t.plan !== undefined &&
      t.plan.info.sourceRanges.length > 0 &&
      !t.plan.hasExternalEndpoints &&
      !inRanges(t.flow.src, t.plan.info.sourceRanges) &&
      all(t.nft, (b) => b.verdict === 'DROP'),
    explain: () => ({
      reason:
        'loadBalancerSourceRanges of a Service without endpoints: nftables mode drops clients outside the ranges before anything else (its firewall-ips map, ahead of DNAT) whether or not the Service has endpoints; iptables mode applies the ranges only while it has endpoints, so these clients are rejected instead (and the node itself is not filtered)',
      keep: null,
    }),
  },
  {
    id: 'no-endpoints-from-node',
    applies: (t) =>
      t.flow.from === 'node' &&
      (t.flow.kind === 'external-ip' || t.flow.kind === 'load-balancer') &&
      t.plan !== undefined &&
      !t.plan.hasExternalEndpoints &&
      untranslated(t.ipt) &&
      refused(t.nft),
    explain: () => ({
      reason:
        "the Service port has no endpoints usable by external traffic: nftables mode refuses connections to its external and load-balancer IPs from the node itself too (no-endpoint-services is checked in the output hook); iptables mode refuses only traffic arriving at the node (KUBE-EXTERNAL-SERVICES in INPUT and FORWARD), so the node's own connections leave untranslated",
      keep: null,
    }),
  },
  {
    id: 'masquerade-all-section',
    applies: (t) => t.input.iptablesContext.masqueradeAll !== t.input.nftablesContext.masqueradeAll && sameBackends(t.ipt, t.nft),
    explain: (t) => ({
      reason: `kube-proxy reads masqueradeAll from iptables.masqueradeAll (${t.input.iptablesContext.masqueradeAll}) in iptables mode and from nftables.masqueradeAll (${t.input.nftablesContext.masqueradeAll}) in nftables mode`,
      keep: `nftables: { masqueradeAll: ${t.input.iptablesContext.masqueradeAll} } in the KubeProxyConfiguration`,
    }),
  },
];

export function explainDifference(input: DifferenceInput): DifferenceReason | null {
  if ('error' in input.iptables || 'error' in input.nftables) return null;
  const plan = input.flow.servicePort === null ? undefined : input.plans.find((p) => p.info.name === input.flow.servicePort);
  const t: Traced = { flow: input.flow, ipt: input.iptables, nft: input.nftables, input, plan };
  const rule = DIFFERENCE_RULES.find((r) => r.applies(t));
  return rule ? { id: rule.id, ...rule.explain(t) } : null;
}
