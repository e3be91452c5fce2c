/**
 * Kubernetes-level reasons for a packet trace, read from the comments kube-proxy puts on its rules
 * (proxier.go syncProxyRules and writeServiceToEndpointRules; docs/kube-proxy-rules.md 6 and 7):
 * which Service address the packet hit, why it was rejected or dropped, why its source was
 * masqueraded, how the endpoint was chosen. Rules without a kube-proxy comment are described by
 * their table and chain. Pure; the snapshot, when given, names the endpoints' pods and nodes.
 */
import type { RuleRef, Ruleset, TraceOutcome, TraceResult } from '@svcrules/iptables';
import { clientErrorText, formatPercent } from '@svcrules/iptables';
import type { Snapshot } from './model.js';
import { EXT_PREFIX, isKubeChain, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_SERVICES, SEP_PREFIX, SVL_PREFIX } from './kube-proxy/index.js';

export interface TraceExplanation {
  /** Reasons per outcome, parallel to `result.outcomes`, in the order the packet met them. */
  readonly outcomes: readonly (readonly string[])[];
  /** Reasons that hold for the trace as a whole (load balancing, affinity, nothing matched). */
  readonly summary: readonly string[];
}

// kube-proxy's comment shapes. A Service port name is `ns/name` or `ns/name:port`.
const SVC = '([a-z0-9.-]+/[a-z0-9.-]+(?::[a-z0-9-]+)?)';
const re = (s: string) => new RegExp(`^${s.replace('<svc>', SVC)}$`);
const C = {
  clusterIP: re('<svc> cluster IP'),
  externalIP: re('<svc> external IP'),
  lbIP: re('<svc> loadbalancer IP'),
  noEndpoints: re('<svc> has no endpoints'),
  noLocal: re('<svc> has no local endpoints'),
  healthCheck: re('<svc> health check node port'),
  fwReject: re('<svc> traffic not accepted by (KUBE-FW-[A-Z0-9]+)'),
  fwOther: re('other traffic to <svc> will be dropped by KUBE-PROXY-FIREWALL'),
  extMasq: re('masquerade traffic for <svc> external destinations'),
  extPod: re('pod traffic for <svc> external destinations'),
  extLocalMasq: re('masquerade LOCAL traffic for <svc> external destinations'),
  extLocalRoute: re('route LOCAL traffic for <svc> external destinations'),
  toEndpoint: re('<svc> -> (\\S+)'),
  bare: re('<svc>'),
  nodePortsTail: /^kubernetes service nodeports; NOTE: this must be the last rule in this chain$/,
  localnet: /^block incoming localnet connections$/,
  snat: /^kubernetes service traffic requiring SNAT$/,
  forwardMark: /^kubernetes forwarding rules$/,
};

function arg(text: string, flag: RegExp): string | null {
  return flag.exec(text)?.[1] ?? null;
}

function where(rule: RuleRef): string {
  return `${rule.table} ${rule.chain} rule ${rule.index}`;
}

/** Names an endpoint `ip:port` from the snapshot: its pod and node, when known. */
export function endpointLabel(snapshot: Snapshot | undefined, endpoint: string): string {
  if (!snapshot) return endpoint;
  const ip = endpoint.startsWith('[') ? endpoint.slice(1, endpoint.indexOf(']')) : endpoint.slice(0, endpoint.lastIndexOf(':'));
  const pod = snapshot.pods?.find((p) => p.podIPs.includes(ip));
  let node = pod?.nodeName;
  if (node === undefined) {
    for (const s of snapshot.endpointSlices) {
      const ep = s.endpoints.find((e) => e.addresses[0] === ip);
      if (ep?.nodeName !== undefined) {
        node = ep.nodeName;
        break;
      }
    }
  }
  const parts = [pod ? `pod ${pod.namespace}/${pod.name}` : null, node !== undefined ? `on node ${node}` : null].filter((x) => x !== null);
  return parts.length > 0 ? `${endpoint} (${parts.join(' ')})` : endpoint;
}

/** The verdict with what the client then sees: the REJECT the rule really sends, or a timeout. */
function verdictWord(o: TraceOutcome, protocol: string): string {
  if (o.verdict === 'REJECT' && o.reject) {
    const seen = protocol === 'tcp' ? o.reject.tcp : o.reject.udp;
    return `REJECT with ${o.reject.with} (the client sees ${seen === 'TIMEOUT' ? 'nothing and times out' : `"${clientErrorText(seen)}", ${seen}`})`;
  }
  if (o.verdict === 'REJECT') return 'REJECT (the client sees "connection refused")';
  if (o.verdict === 'DROP') return 'DROP (the client times out)';
  return o.verdict;
}

/** Reasons for one outcome, from the rules it matched. */
function explainOutcome(result: TraceResult, o: TraceOutcome, snapshot: Snapshot | undefined): string[] {
  const out: string[] = [];
  const say = (s: string) => {
    if (!out.includes(s)) out.push(s);
  };
  const host = result.packet.dst.includes(':') ? `[${result.packet.dst}]` : result.packet.dst;
  const dst = `${host}:${result.packet.dport}/${result.packet.protocol}`;
  const src = result.packet.src;
  let kubeMatched = false;

  for (const e of o.events) {
    const r = e.rule;
    if (!r) continue;
    const c = r.comment ?? '';
    let m: RegExpExecArray | null;
    if ((m = C.clusterIP.exec(c))) {
      kubeMatched = true;
      if (e.target === KUBE_MARK_MASQ) {
        const cidr = arg(r.text, /! -s (\S+)/);
        const iface = arg(r.text, /! -i (\S+)/);
        if (cidr) say(`masqueraded because the source ${src} is outside the cluster CIDR ${cidr}`);
        else if (iface) say(`masqueraded because the packet did not arrive on the pod interface ${iface}`);
        else say('masqueraded because masqueradeAll is set');
      } else if (r.table === 'nat' && r.chain === KUBE_SERVICES) {
        say(`${dst} is the cluster IP of ${m[1]}${e.target?.startsWith(SVL_PREFIX) ? ' (internalTrafficPolicy Local: endpoints on this node only)' : ''}`);
      }
    } else if ((m = C.externalIP.exec(c))) {
      kubeMatched = true;
      say(`${dst} is an external IP of ${m[1]}`);
    } else if ((m = C.lbIP.exec(c))) {
      kubeMatched = true;
      if (r.chain === KUBE_SERVICES) say(`${dst} is a LoadBalancer IP of ${m[1]}`);
      else say(`the source ${src} is allowed by loadBalancerSourceRanges of ${m[1]} (${arg(r.text, /-s (\S+)/) ?? 'rule'})`);
    } else if ((m = C.fwOther.exec(c))) {
      kubeMatched = true;
      say(`the source ${src} is not in the loadBalancerSourceRanges of ${m[1]}`);
    } else if ((m = C.fwReject.exec(c))) {
      kubeMatched = true;
      say(`${m[1]}: source ${src} is not allowed by loadBalancerSourceRanges → DROP`);
    } else if ((m = C.noEndpoints.exec(c))) {
      kubeMatched = true;
      say(`${m[1]} has no endpoints → ${e.effect === 'reject' ? 'REJECT' : e.effect.toUpperCase()}`);
    } else if ((m = C.noLocal.exec(c))) {
      kubeMatched = true;
      const policy = r.chain === KUBE_SERVICES ? 'internalTrafficPolicy' : 'externalTrafficPolicy';
      say(`${m[1]} has no local endpoints and ${policy} is Local → DROP`);
    } else if ((m = C.healthCheck.exec(c))) {
      kubeMatched = true;
      say(`port ${result.packet.dport} is the health check node port of ${m[1]} → ACCEPT`);
    } else if ((m = C.extMasq.exec(c))) {
      say(`masqueraded because ${m[1]} has externalTrafficPolicy Cluster: traffic to its node port / external / LoadBalancer address is SNATed to the node (the client IP is not kept)`);
    } else if ((m = C.extPod.exec(c))) {
      say(`pod traffic to an external address of ${m[1]} goes straight to its cluster-wide endpoints, unmasqueraded`);
    } else if ((m = C.extLocalMasq.exec(c))) {
      say(`masqueraded because the source ${src} is a node address (externalTrafficPolicy Local keeps the client IP only for traffic from outside the node)`);
    } else if ((m = C.extLocalRoute.exec(c))) {
      say(`traffic from the node to an external address of ${m[1]} may use endpoints on any node, although externalTrafficPolicy is Local`);
    } else if ((m = C.toEndpoint.exec(c))) {
      // the load-balancing or affinity rule: summarised once for the whole trace
    } else if (C.nodePortsTail.test(c)) {
      // the destination is local: node ports are looked up next (explained by the node-port rule)
    } else if (C.localnet.test(c)) {
      kubeMatched = true;
      say(`packets to 127.0.0.0/8 from a non-loopback source are dropped (KUBE-FIREWALL) → DROP`);
    } else if (C.snat.test(c)) {
      say(`source NAT: ${r.chain} MASQUERADEs packets carrying kube-proxy's masquerade mark; the source becomes the node's address on the outgoing interface`);
    } else if (C.forwardMark.test(c)) {
      // forwarding of marked packets: accepted, nothing to add
    } else if ((m = C.bare.exec(c))) {
      kubeMatched = true;
      if (r.chain === KUBE_NODEPORTS) {
        const localhost = /-d 127\.0\.0\.0\/8/.test(r.text);
        say(`port ${result.packet.dport} is a NodePort of ${m[1]}${localhost ? ' reached on a loopback address (localhostNodePorts)' : ` on a node address (${result.packet.dst})`}`);
      } else if (r.chain.startsWith(SEP_PREFIX) && e.target === KUBE_MARK_MASQ) {
        say(`masqueraded because the endpoint ${src} connects to its own Service (hairpin): without SNAT the reply would bypass the node`);
      }
    } else if (r.chain.startsWith(EXT_PREFIX) && c === '' && e.target?.startsWith(SVL_PREFIX)) {
      say('externalTrafficPolicy Local: only endpoints on this node are used');
    }
  }

  // The final word: where the packet ends, or which rule stopped it.
  if (o.verdict === 'UNKNOWN' && o.stoppedAt) {
    say(`the trace stops at ${where(o.stoppedAt.rule)}: ${o.stoppedAt.why}; what the packet meets after it is not known`);
  } else if (o.verdict !== 'ACCEPT') {
    const by = o.decidedBy;
    if (by && 'policy' in by) say(`no rule accepted it: the ${by.policy.table} ${by.policy.chain} policy is ${by.policy.policy} → DROP`);
    else if (by && 'routing' in by) say(`the node cannot forward it: ${by.routing} → ${verdictWord(o, result.packet.protocol)}`);
    else if (by && !out.some((s) => s.includes('→'))) {
      say(`${where(by.rule)}${isKubeChain(by.rule.chain) ? '' : ' (not a kube-proxy rule)'} → ${verdictWord(o, result.packet.protocol)}`);
    }
  } else if (o.dnat) {
    say(`→ ${endpointLabel(snapshot, o.dnat.to)}`);
  } else if (!kubeMatched) {
    say(
      o.delivery === 'local'
        ? `no kube-proxy rule matched ${dst}: delivered to the node itself`
        : `no kube-proxy rule matched ${dst}: it is not a Service address and port on this node, so the packet is ${o.delivery === 'forward' ? 'routed on unchanged' : 'sent unchanged'}`,
    );
  }
  if (o.verdict === 'ACCEPT' && !o.masquerade && o.dnat) say(`the source ${src} is kept (not masqueraded)`);
  return out;
}

function affinitySummary(result: TraceResult): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const o of result.outcomes) {
    const check = o.affinity.find((a) => a.op === 'rcheck' || a.op === 'update');
    if (!check) continue;
    const svc = C.toEndpoint.exec(check.rule.comment ?? '')?.[1] ?? check.rule.chain;
    if (seen.has(svc)) continue;
    seen.add(svc);
    const secs = check.seconds !== null ? ` for ${check.seconds}s` : '';
    const who =
      check.key === 'destination'
        ? `to ${result.packet.dst}`
        : check.mask === null
          ? `from ${result.packet.src}`
          : `from sources matching ${result.packet.src} under mask ${check.mask}`;
    out.push(`session affinity ClientIP on ${svc}: this first connection picks an endpoint as shown; later connections ${who} stick to the chosen endpoint${secs} after their last use`);
  }
  return out;
}

function balanceSummary(result: TraceResult): string[] {
  // Only a random choice balances: outcomes that differ by an assumption are alternatives, not shares.
  const dnats = result.outcomes.filter((o) => o.dnat && o.events.some((e) => e.probability));
  if (dnats.length < 2) return [];
  // The Service chain whose statistic rules split the walk, named by the rule comments.
  const names = new Set<string>();
  for (const o of dnats) for (const e of o.events) if (e.probability && e.rule?.comment) names.add(C.toEndpoint.exec(e.rule.comment)?.[1] ?? e.rule.chain);
  const who = names.size > 0 ? [...names].join(', ') : 'the rules';
  // Outcomes that differ only by an assumption repeat an endpoint: count each destination once.
  const byDestination = new Map<string, TraceOutcome>();
  for (const o of dnats) if (!byDestination.has(o.destination)) byDestination.set(o.destination, o);
  const shares = [...byDestination.values()].map((o) => formatPercent(o.probability));
  const even = shares.every((s) => s === shares[0]);
  return [`${who} load-balances new connections across ${shares.length} endpoints at random (${even ? `${shares[0]} each` : shares.join(', ')})`];
}

/**
 * A destination port that is one of the ruleset's node ports, traced while the node owns no known
 * address (only loopback): the NodePort rules need `--dst-type LOCAL`, so they could not match.
 */
function nodePortHint(result: TraceResult, ruleset: Ruleset | undefined, localAddresses: readonly string[] | undefined): string[] {
  if (!ruleset || localAddresses === undefined || localAddresses.length > 0) return [];
  const port = String(result.packet.dport);
  const dst = result.packet.dst;
  if (/^127\./.test(dst) || dst === '::1') return [];
  for (const t of ruleset.tables) {
    if (t.name !== 'nat') continue;
    for (const c of t.commands) {
      if (c.kind !== 'append' || c.chain !== KUBE_NODEPORTS) continue;
      const at = c.args.indexOf('--dport');
      if (at < 0 || c.args[at + 1] !== port) continue;
      const svc = c.args[c.args.indexOf('--comment') + 1] ?? 'a Service';
      return [
        `port ${port} is a NodePort (${svc}), but no address of the node is known, so ${dst} is not LOCAL and the NodePort rules cannot match: give the node's address with --local-address (or the node's state with --node-state / --ip-addr)`,
      ];
    }
  }
  return [];
}

export interface ExplainContext {
  /** The ruleset traced (for the NodePort hint). */
  readonly ruleset?: Ruleset;
  /** The node's known addresses, loopback excluded. */
  readonly localAddresses?: readonly string[];
}

/** Explains a trace in Kubernetes terms. */
export function explainTrace(result: TraceResult, snapshot?: Snapshot, context: ExplainContext = {}): TraceExplanation {
  const outcomes = result.outcomes.map((o) => explainOutcome(result, o, snapshot));
  const summary = [...balanceSummary(result), ...affinitySummary(result), ...nodePortHint(result, context.ruleset, context.localAddresses)];
  return { outcomes, summary };
}
