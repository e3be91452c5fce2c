/**
 * Stale UDP conntrack cleanup (kube-proxy's long lesson: conntrack.CleanStaleEntries, called at the
 * end of proxier.go syncProxyRules; docs/kube-proxy-rules.md 6.14): a UDP flow that conntrack
 * already DNATed to an endpoint keeps going there after the rules change, until the entry expires,
 * which for a steady sender is never. After an apply removes UDP endpoints or a UDP service, delete
 * exactly the entries of the removed (frontend, endpoint) pairs.
 *
 * The frontends and endpoints are read from the rulesets themselves (before and after), so this works
 * from the applier's record or from the host's iptables-save alike.
 */
import type { AppendCommand, Ruleset } from '@svcrules/iptables';
import { chainsOf, jumpTarget } from '@svcrules/iptables';
import { KUBE_NODEPORTS, KUBE_SERVICES } from '@svcrules/core';
import { CommandNotFoundError, runnerIn, type Runner } from './exec.js';
import type { Family } from './netfilter.js';

/** One UDP way in: an address and port (ClusterIP, external IP, LoadBalancer IP), or a node port (any address). */
export interface UdpFrontend {
  /** undefined for a node port. */
  readonly ip: string | undefined;
  readonly port: number;
}

/** Frontend key (`ip:port`, `*:nodePort`) -> endpoints (`ip:port`, IPv6 bracketed) it DNATs to. */
export type UdpServiceMap = ReadonlyMap<string, { readonly frontend: UdpFrontend; readonly endpoints: ReadonlySet<string> }>;

function argAfter(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** `-p udp` (or `--protocol udp`), not negated. */
function isUdp(args: readonly string[]): boolean {
  for (let i = 0; i + 1 < args.length; i++) if ((args[i] === '-p' || args[i] === '--protocol') && args[i + 1] === 'udp' && args[i - 1] !== '!') return true;
  return false;
}

const stripHostMask = (ip: string) => ip.replace(/\/(32|128)$/, '');

/**
 * The DNAT destinations reachable from a chain, memoised per chain and safe against loops: `visit`
 * reports a chain's own DNAT targets and the chains it jumps to. Shared by both modes' maps.
 */
export function endpointReach(visit: (chain: string, dnat: (endpoint: string) => void, follow: (chain: string) => void) => void): (chain: string) => Set<string> {
  const cache = new Map<string, Set<string>>();
  const reach = (chain: string, seen: Set<string>): Set<string> => {
    const hit = cache.get(chain);
    if (hit) return hit;
    const eps = new Set<string>();
    if (seen.has(chain)) return eps;
    seen.add(chain);
    visit(chain, (ep) => eps.add(ep), (next) => {
      for (const e of reach(next, seen)) eps.add(e);
    });
    cache.set(chain, eps);
    return eps;
  };
  return (chain) => reach(chain, new Set());
}

/** Chains grouped by table (as `chainsOf` returns them). */
export type ChainMap = ReadonlyMap<string, ReadonlyMap<string, readonly AppendCommand[]>>;

/**
 * The UDP frontends of a kube-proxy nat table and the endpoints each reaches (following
 * EXT/FW/SVC/SVL/SEP). Takes a ruleset or its chains already grouped (the applier has them).
 */
export function udpServiceMap(rules: Ruleset | ChainMap): UdpServiceMap {
  const nat = ('tables' in rules ? chainsOf(rules) : rules).get('nat');
  const out = new Map<string, { frontend: UdpFrontend; endpoints: Set<string> }>();
  if (!nat) return out;
  const reach = endpointReach((chain, dnat, follow) => {
    for (const r of nat.get(chain) ?? []) {
      const target = jumpTarget(r.args);
      if (target === 'DNAT') {
        const to = argAfter(r.args, '--to-destination');
        if (to) dnat(to);
      } else if (target && nat.has(target)) follow(target);
    }
  });
  const add = (frontend: UdpFrontend, r: AppendCommand) => {
    const target = jumpTarget(r.args);
    if (!target || !nat.has(target)) return;
    const key = `${frontend.ip ?? '*'}:${frontend.port}`;
    let entry = out.get(key);
    if (!entry) out.set(key, (entry = { frontend, endpoints: new Set() }));
    for (const e of reach(target)) entry.endpoints.add(e);
  };
  for (const r of nat.get(KUBE_SERVICES) ?? []) {
    const d = argAfter(r.args, '-d') ?? argAfter(r.args, '--destination');
    const port = Number(argAfter(r.args, '--dport'));
    if (!isUdp(r.args) || !d || !Number.isInteger(port)) continue;
    add({ ip: stripHostMask(d), port }, r);
  }
  for (const r of nat.get(KUBE_NODEPORTS) ?? []) {
    const port = Number(argAfter(r.args, '--dport'));
    // The localhost variant (-d 127.0.0.0/8) is the same node port: one key for both.
    if (!isUdp(r.args) || !Number.isInteger(port)) continue;
    add({ ip: undefined, port }, r);
  }
  return out;
}

/** A (frontend, endpoint) pair whose conntrack entries must go. */
export interface StaleUdpFlow {
  readonly frontend: UdpFrontend;
  readonly endpoint: string;
}

/** Pairs present before and gone after (removed endpoints, removed services, removed ports). */
export function staleUdpFlows(before: UdpServiceMap, after: UdpServiceMap): StaleUdpFlow[] {
  const out: StaleUdpFlow[] = [];
  for (const [key, { frontend, endpoints }] of before) {
    const still = after.get(key)?.endpoints;
    for (const endpoint of [...endpoints].sort()) if (!still?.has(endpoint)) out.push({ frontend, endpoint });
  }
  return out;
}

function splitEndpoint(ep: string): { ip: string; port: string } {
  const m = /^\[(.+)\]:(\d+)$/.exec(ep) ?? /^([^:]+):(\d+)$/.exec(ep);
  if (!m) throw new Error(`not an endpoint: ${ep}`);
  return { ip: m[1]!, port: m[2]! };
}

/** `conntrack -D` arguments matching exactly one stale pair's entries. */
export function conntrackDeleteArgs(flow: StaleUdpFlow, family: Family): string[] {
  const { ip, port } = splitEndpoint(flow.endpoint);
  const args = ['-D', ...(family === 'ipv6' ? ['-f', 'ipv6'] : []), '-p', 'udp'];
  if (flow.frontend.ip !== undefined) args.push('--orig-dst', flow.frontend.ip);
  args.push('--orig-port-dst', String(flow.frontend.port), '--reply-src', ip, '--reply-port-src', port);
  return args;
}

export interface ConntrackCleanup {
  readonly flow: StaleUdpFlow;
  /** Entries conntrack reported deleted. */
  readonly deleted: number;
  readonly error?: string;
}

/** Runs `conntrack -D` for each stale pair; returns what each deleted. Without the tool, reports that. */
export async function deleteStaleUdpFlows(
  flows: readonly StaleUdpFlow[],
  o: { family: Family; runner?: Runner; netns?: string },
): Promise<ConntrackCleanup[]> {
  const run = runnerIn(o);
  const out: ConntrackCleanup[] = [];
  for (const flow of flows) {
    try {
      const r = await run('conntrack', conntrackDeleteArgs(flow, o.family));
      const m = /(\d+) flow entries have been deleted/.exec(r.stderr + r.stdout);
      // conntrack exits 1 when nothing matched; that is not an error here.
      if (m) out.push({ flow, deleted: Number(m[1]) });
      else out.push({ flow, deleted: 0, error: (r.stderr || r.stdout).trim() || `exit ${r.code}` });
    } catch (e) {
      if (e instanceof CommandNotFoundError) out.push({ flow, deleted: 0, error: 'conntrack tool not found' });
      else throw e;
    }
  }
  return out;
}

export function describeFlow(f: StaleUdpFlow): string {
  return `udp ${f.frontend.ip === undefined ? `node port ${f.frontend.port}` : `${f.frontend.ip.includes(':') ? `[${f.frontend.ip}]` : f.frontend.ip}:${f.frontend.port}`} -> ${f.endpoint}`;
}
