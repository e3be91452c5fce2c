/**
 * The packet tracer: follows one packet (the first of a new connection) through the netfilter hooks
 * of a ruleset the way the kernel does, and returns every possible outcome with its exact
 * probability. Statistic matches fork the walk (each branch carries its probability). What the
 * tracer cannot know (an interface without the node's routes, ipset membership without the sets,
 * the sending process, a match it does not model) forks it too, into labelled assumptions ("if the
 * packet leaves by docker0" / "if it does not"), each branch keeping its answers consistent; a
 * target it does not model ends that branch as UNKNOWN, naming the rule. With the node's own state
 * (addresses, routes, bridges, ipsets, sysctls; node.ts) most of these are decided instead.
 */
import { BUILTIN_CHAINS, type AppendCommand, type Ruleset, type TableName } from '../ir.js';
import { formatAddress, formatEndpoint, isLoopback, networkContains, parseAddress, parseNetwork, sameAddress, type Address } from './ip.js';
import type { IPFamily } from '@svcrules/netaddr';
import { ONE, complement, isZero, mul, add, type Probability } from './probability.js';
import { ruleText } from '../words.js';
import { parseRuleSafe, type Match, type ParsedRule, type Target } from './rule.js';
import { withHookRules, type HookRule, type HookRules, type HookedRuleset } from './hooks.js';
import { bridgePorts, interfaceAddress, isLocalByRoute, lookupRoute, nodeLocalAddresses, type NodeRoute, type NodeState } from './node.js';
import { setContains } from './ipset.js';
import { rejectEffect, type RejectEffect } from './reject.js';

export { parseIpAddress, parseIpRoute, lookupRoute, nodeLocalAddresses, NodeStateError, type NodeState, type NodeInterface, type NodeRoute } from './node.js';
export { parseIpsetSave, type IpSet, type IpSets } from './ipset.js';
export { formatAddress } from './ip.js';
export { rejectEffect, clientErrorText, type RejectEffect, type ClientError } from './reject.js';

export type { Probability } from './probability.js';
export { formatExact, formatPercent, toNumber as probabilityValue, statisticProbability } from './probability.js';
export { hookRuleArgs, withHookRules, type HookRule, type HookRules, type HookedRuleset } from './hooks.js';
// Exact arithmetic for the nftables tracer (@svcrules/nftables trace/), which shares this result shape.
export { ONE as PROBABILITY_ONE, mul as mulProbability, add as addProbability, isZero as isZeroProbability } from './probability.js';
export type TraceProtocol = 'tcp' | 'udp' | 'sctp';
/** pod/external traffic arrives on an interface (nat PREROUTING first); node traffic is locally generated (nat OUTPUT first). */
export type TraceFrom = 'pod' | 'node' | 'external';
export type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

export interface TracePacket {
  readonly src: string;
  readonly dst: string;
  readonly protocol: TraceProtocol;
  readonly dport: number;
  /** Source port; a rule matching on it is refused when absent. */
  readonly sport?: number;
  /** Arrival interface (pod/external paths); a rule matching on it is refused when absent. */
  readonly inInterface?: string;
  /** Interface a forwarded or node-originated packet leaves by; a rule matching on it is refused when absent. */
  readonly outInterface?: string;
  /** The packet's initial nfmark (default 0). */
  readonly mark?: number;
}

export interface TraceOptions {
  readonly from: TraceFrom;
  /** Addresses the node owns: `addrtype LOCAL` and local delivery. Loopback (127.0.0.0/8, ::1) is always local. */
  readonly localAddresses: readonly string[];
  /** Jump rules to add where the ruleset lacks them (restore text has none); none by default. */
  readonly hooks?: HookRules;
  /** Refuse when the walk splits into more branches than this (default 100000). */
  readonly maxBranches?: number;
  /** The node's addresses, routes, bridges, ipsets and sysctls: decide interfaces, physdev, sets, routing. */
  readonly node?: NodeState;
}

export interface RuleRef {
  readonly table: TableName;
  readonly chain: string;
  /** 1-based position in its chain, as `iptables -L --line-numbers` counts. */
  readonly index: number;
  /** The rule as iptables-save prints it. */
  readonly text: string;
  /** Its `-m comment --comment` text, if any. */
  readonly comment: string | null;
}

export type TraceEffect =
  /** A statistic rule the packet did not take (the event carries the probability of that). */
  | 'not-taken'
  | 'continue'
  | 'jump'
  | 'goto'
  | 'return'
  | 'mark'
  | 'accept'
  | 'drop'
  | 'reject'
  | 'dnat'
  | 'snat'
  | 'masquerade'
  | 'redirect'
  | 'notrack'
  | 'connmark'
  /** A target the tracer does not model: the branch ends here (verdict UNKNOWN). */
  | 'unknown'
  | 'policy';

export interface TraceEvent {
  readonly hook: Hook;
  readonly table: TableName;
  readonly chain: string;
  /** The matched rule; absent for a chain policy. */
  readonly rule?: RuleRef;
  readonly effect: TraceEffect;
  /** The chain entered by a jump or goto. */
  readonly target?: string;
  /** For a rule with a statistic match: the probability it matched, given the packet reached it. */
  readonly probability?: Probability;
  /** What changed, e.g. `mark 0x0 -> 0x4000`, `destination 172.30.0.41:80 -> 10.180.0.1:80`, `policy ACCEPT`. */
  readonly detail?: string;
}

/** UNKNOWN: the branch reached a target the tracer does not model (`stoppedAt` says which). */
export type Verdict = 'ACCEPT' | 'DROP' | 'REJECT' | 'UNKNOWN';

/** An answer the tracer assumed where it could not know (one side of a fork), with the rule that asked. */
export interface TraceGiven {
  readonly code: 'interface' | 'physdev' | 'ipset' | 'owner' | 'socket' | 'sport' | 'rpfilter' | 'addrtype' | 'unmodelled';
  /** The question, the same for both answers (branches with the same key answer it consistently). */
  readonly key: string;
  readonly holds: boolean;
  /** The assumption in words, e.g. `the packet leaves by docker0`. */
  readonly text: string;
  readonly rule: RuleRef;
}

export interface AffinityUse {
  /** The recent list name (kube-proxy: the endpoint chain). */
  readonly name: string;
  readonly op: 'set' | 'rcheck' | 'update' | 'remove';
  readonly seconds: number | null;
  /** The address the list remembers: the packet's source (kube-proxy) or destination. */
  readonly key: 'source' | 'destination';
  /** A --mask narrower than the whole address, else null. */
  readonly mask: string | null;
  /** Whether the recent match held (on a first packet only --set does). */
  readonly matched: boolean;
  readonly rule: RuleRef;
}

export interface TraceOutcome {
  readonly probability: Probability;
  readonly verdict: Verdict;
  /** Where an accepted packet goes: a local socket, forwarded out of the node, or sent by the node. */
  readonly delivery: 'local' | 'forward' | 'output' | null;
  /** The destination `ip:port` the packet ends with (after DNAT). */
  readonly destination: string;
  readonly dnat: { readonly to: string; readonly rule: RuleRef } | null;
  /** Source NAT decided in nat POSTROUTING (kube-proxy: MASQUERADE in KUBE-POSTROUTING). */
  readonly masquerade: { readonly kind: 'MASQUERADE' | 'SNAT'; readonly to: string | null; readonly rule: RuleRef } | null;
  /** The rule that gave the verdict, the built-in chain whose policy did, or the routing decision; null when no chain decided (accepted by default). */
  readonly decidedBy:
    | { readonly rule: RuleRef }
    | { readonly policy: { readonly table: TableName; readonly chain: string; readonly policy: string } }
    | { readonly routing: string }
    | null;
  /** For REJECT: the ICMP/TCP answer and what the client sees. */
  readonly reject: RejectEffect | null;
  /** For UNKNOWN: why the target is not modelled. */
  readonly stoppedAt: { readonly rule: RuleRef; readonly why: string } | null;
  /** The assumptions this outcome depends on; outcomes with the same assumptions sum to probability 1. */
  readonly given: readonly TraceGiven[];
  /** The interfaces the packet used, where known (given, from the node's routes, or assumed). */
  readonly inInterface: string | null;
  readonly outInterface: string | null;
  /** The nfmark when the packet left the last hook. */
  readonly mark: number;
  /** `-m recent` matches the walk reached (session affinity), matched or not. */
  readonly affinity: readonly AffinityUse[];
  readonly events: readonly TraceEvent[];
}

export interface TraceAssumption {
  readonly code: 'new-connection' | 'recent-empty' | 'statistic-kernel' | 'hooks-added' | 'limit-fresh' | 'addrtype-unicast' | 'br-netfilter' | 'routes';
  readonly text: string;
}

export interface TraceResult {
  readonly packet: TracePacket;
  readonly from: TraceFrom;
  readonly family: IPFamily;
  /** Distinct outcomes, in the order the walk first reached them (rule order); probabilities sum to 1. */
  readonly outcomes: readonly TraceOutcome[];
  readonly addedHooks: readonly HookRule[];
  readonly assumptions: readonly TraceAssumption[];
}

/** The tracer cannot decide: a rule it would have to evaluate uses something it does not model. */
export class TraceRefusal extends Error {
  constructor(
    readonly reason: string,
    readonly rule: RuleRef | null,
  ) {
    super(rule ? `cannot trace: ${rule.table} ${rule.chain} rule ${rule.index} ${reasonSuffix(reason)}\n  ${rule.text}` : `cannot trace: ${reason}`);
    this.name = 'TraceRefusal';
  }
}

function reasonSuffix(reason: string): string {
  return reason.startsWith('uses ') || reason.startsWith('needs ') || reason.startsWith('jumps ') ? reason : `: ${reason}`;
}

// ---------------------------------------------------------------------------------------------
// Ruleset index (cached per ruleset object)

interface IndexedChain {
  readonly name: string;
  readonly policy: string;
  readonly rules: readonly AppendCommand[];
  readonly parsed: (ParsedRule | undefined)[];
}

type TableIndex = ReadonlyMap<string, IndexedChain>;
type RulesetIndex = ReadonlyMap<TableName, TableIndex>;

const indexCache = new WeakMap<Ruleset, RulesetIndex>();

function indexRuleset(ruleset: Ruleset): RulesetIndex {
  const cached = indexCache.get(ruleset);
  if (cached) return cached;
  const out = new Map<TableName, Map<string, IndexedChain>>();
  for (const table of ruleset.tables) {
    const chains = out.get(table.name) ?? new Map<string, IndexedChain>();
    const rules = new Map<string, AppendCommand[]>();
    for (const c of table.chains) {
      chains.set(c.name, { name: c.name, policy: c.policy, rules: [], parsed: [] });
      rules.set(c.name, []);
    }
    for (const cmd of table.commands) {
      if (cmd.kind === 'delete') {
        chains.delete(cmd.chain);
        rules.delete(cmd.chain);
        continue;
      }
      let list = rules.get(cmd.chain);
      if (!list) {
        // Restore input may append to a chain it did not declare (it exists on the host). Built-in
        // chains behave as ACCEPT-policy chains here.
        list = [];
        rules.set(cmd.chain, list);
        chains.set(cmd.chain, { name: cmd.chain, policy: isBuiltin(table.name, cmd.chain) ? 'ACCEPT' : '-', rules: [], parsed: [] });
      }
      list.push(cmd);
    }
    for (const [name, list] of rules) {
      const c = chains.get(name)!;
      chains.set(name, { ...c, rules: list, parsed: new Array<ParsedRule | undefined>(list.length) });
    }
    out.set(table.name, chains);
  }
  indexCache.set(ruleset, out);
  return out;
}

function isBuiltin(table: TableName, chain: string): boolean {
  return BUILTIN_CHAINS[table].includes(chain);
}

function parsedRule(table: TableIndex, chain: IndexedChain, i: number): ParsedRule {
  let p = chain.parsed[i];
  if (!p) {
    p = parseRuleSafe(chain.rules[i]!.args, (name) => table.has(name));
    chain.parsed[i] = p;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Walk state

interface Frame {
  readonly chain: string;
  index: number;
}

interface PacketState {
  readonly src: Address;
  dst: Address;
  dport: number;
  mark: number;
  dnat: { readonly to: string; readonly rule: RuleRef } | null;
  masquerade: TraceOutcome['masquerade'];
  affinity: AffinityUse[];
  ctmark: number;
  /** CT --notrack / NOTRACK: no conntrack entry, so no NAT. */
  untracked: boolean;
  /** REDIRECTed to the node without a known interface address: delivered locally. */
  redirected: boolean;
}

/**
 * Where a packet is on its way through the node: the netfilter hooks in the kernel's order, with the
 * loopback pass (`lo-`) a locally sent packet to a local address makes. Shared with the nftables
 * tracer, whose walk has the same hooks and routing.
 */
export type TracePhase = 'prerouting' | 'input' | 'forward' | 'postrouting-fwd' | 'output' | 'postrouting-out' | 'lo-prerouting' | 'lo-input';
type Phase = TracePhase;

/** The phase after `phase` once routing has decided (`local`: the destination is this node's), or null when the packet leaves the path. */
export function nextPhase(phase: TracePhase, local: boolean): TracePhase | null {
  switch (phase) {
    case 'prerouting':
      return local ? 'input' : 'forward';
    case 'forward':
      return 'postrouting-fwd';
    case 'output':
      return 'postrouting-out';
    case 'postrouting-out':
      return local ? 'lo-prerouting' : null;
    case 'lo-prerouting':
      return 'lo-input';
    default:
      return null;
  }
}

/** Where an accepted packet ends when it leaves the path in `phase`. */
export function deliveryAfter(phase: TracePhase): 'local' | 'forward' | 'output' {
  return phase === 'input' || phase === 'lo-input' ? 'local' : phase === 'postrouting-fwd' ? 'forward' : 'output';
}

interface Branch {
  probability: Probability;
  pkt: PacketState;
  events: TraceEvent[];
  phase: Phase;
  /** Tables of the current phase not walked yet. */
  steps: TableName[];
  /** The table being walked, null between tables. */
  table: TableName | null;
  /** Chain stack within the table being walked; empty once the built-in chain returned. */
  stack: Frame[];
  verdict: Verdict | null;
  delivery: TraceOutcome['delivery'];
  decided: TraceOutcome['decidedBy'];
  reject: RejectEffect | null;
  stoppedAt: TraceOutcome['stoppedAt'];
  given: TraceGiven[];
}

const PHASE_HOOK: Record<Phase, Hook> = {
  prerouting: 'PREROUTING',
  input: 'INPUT',
  forward: 'FORWARD',
  'postrouting-fwd': 'POSTROUTING',
  output: 'OUTPUT',
  'postrouting-out': 'POSTROUTING',
  'lo-prerouting': 'PREROUTING',
  'lo-input': 'INPUT',
};

/** Tables per hook in priority order (raw -300, mangle -150, nat DNAT -100, filter 0, security 50, nat SNAT 100). */
const PHASE_TABLES: Record<Phase, readonly TableName[]> = {
  prerouting: ['raw', 'mangle', 'nat'],
  input: ['mangle', 'filter', 'security', 'nat'],
  forward: ['mangle', 'filter', 'security'],
  'postrouting-fwd': ['mangle', 'nat'],
  output: ['raw', 'mangle', 'nat', 'filter', 'security'],
  'postrouting-out': ['mangle', 'nat'],
  // A node's packet to itself loops back in through lo; its NAT was settled on the way out.
  'lo-prerouting': ['raw', 'mangle'],
  'lo-input': ['mangle', 'filter', 'security'],
};

const MAX_DEPTH = 64;

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function fork(b: Branch, probability: Probability): Branch {
  return {
    ...b,
    probability,
    pkt: { ...b.pkt, affinity: [...b.pkt.affinity] },
    events: [...b.events],
    given: [...b.given],
    steps: [...b.steps],
    stack: b.stack.map((f) => ({ ...f })),
  };
}

/** A question the tracer cannot answer itself; `yes`/`no` label the two branches. */
interface Unknown {
  readonly code: TraceGiven['code'];
  readonly key: string;
  readonly yes: string;
  readonly no: string;
}

type Tri = true | false | { readonly unknown: Unknown };

const unmodelled = (text: string, why: string): Unknown => ({ code: 'unmodelled', key: `rule:${text}`, yes: `${text} matches (${why})`, no: `${text} does not match (${why})` });
type TableStep = 'continue' | 'table-done' | 'final';

class Tracer {
  private readonly index: RulesetIndex;
  private branches = 1;
  usedRecent = false;
  usedLimit = false;
  usedUnicast = false;
  usedBrNetfilter = false;
  private readonly local: readonly Address[];
  /** The input interface from --in-interface or the reverse path; null when unknown. */
  readonly inIface: string | null;
  private readonly routeCache = new Map<bigint, string | null>();
  /** Whether the node state holds routes of the packet's family (else routing is not judged). */
  private readonly hasRoutes: boolean;

  constructor(
    ruleset: Ruleset,
    private readonly packet: TracePacket,
    private readonly family: IPFamily,
    private readonly from: TraceFrom,
    local: readonly Address[],
    private readonly maxBranches: number,
    private readonly node: NodeState | undefined,
    private readonly src: Address,
    private readonly origDst: Address,
  ) {
    this.index = indexRuleset(ruleset);
    this.local = node ? [...local, ...nodeLocalAddresses(node)] : local;
    this.hasRoutes = node !== undefined && node.routes.some((r) => r.dst.family === family && r.table !== 'local');
    if (packet.inInterface !== undefined) this.inIface = packet.inInterface;
    else if (from === 'node' || !node) this.inIface = null;
    else {
      // The reverse path: the interface the node would route the source through (rp_filter's view).
      const r = lookupRoute(node, src);
      this.inIface = r && r.type === 'unicast' ? r.dev : null;
    }
  }

  isLocal(a: Address): boolean {
    return isLoopback(a) || this.local.some((l) => sameAddress(l, a)) || (this.node !== undefined && isLocalByRoute(this.node, a));
  }

  /** The interface the route lookup picks for `dst` ('lo' for a local address), or null without routes. */
  private routeDev(dst: Address): string | null {
    if (!this.node || !this.hasRoutes) return null;
    const hit = this.routeCache.get(dst.value);
    if (hit !== undefined) return hit;
    let dev: string | null;
    if (this.isLocal(dst)) dev = 'lo';
    else {
      const r = lookupRoute(this.node, dst);
      dev = r && (r.type === 'unicast' || r.type === 'local' || r.type === 'broadcast' || r.type === 'multicast') ? r.dev : null;
    }
    this.routeCache.set(dst.value, dev);
    return dev;
  }

  /** Walks every branch to its end, depth first, the matching side of a split first. */
  run(start: Branch): Branch[] {
    const done: Branch[] = [];
    const work: Branch[] = [start];
    while (work.length > 0) {
      const b = work.pop()!;
      const forks = this.advance(b);
      if (forks === null) done.push(b);
      else for (let i = forks.length - 1; i >= 0; i--) work.push(forks[i]!);
    }
    return done;
  }

  /** Advances a branch until it ends (null) or splits (the branches to continue, in order). */
  private advance(b: Branch): Branch[] | null {
    for (;;) {
      if (b.verdict !== null) return null;
      if (b.table === null) {
        const table = b.steps.shift();
        if (table === undefined) {
          this.route(b);
          continue;
        }
        const chain = this.index.get(table)?.get(PHASE_HOOK[b.phase]);
        // An absent or empty ACCEPT built-in chain is a no-op (iptables-save prints empty ones; restore text omits them).
        if (!chain || (chain.rules.length === 0 && chain.policy !== 'DROP')) continue;
        // nat sees only packets that start a conntrack entry.
        if (table === 'nat' && b.pkt.untracked) continue;
        b.table = table;
        b.stack = [{ chain: chain.name, index: 0 }];
      }
      const r = this.walkTable(b, b.table);
      if (Array.isArray(r)) return r;
      if (r === 'table-done') {
        b.table = null;
        b.stack = [];
      }
    }
  }

  /** Walks the current table's chains until the table is done, the branch ends, or it splits. */
  private walkTable(b: Branch, table: TableName): 'table-done' | 'final' | Branch[] {
    const tIndex = this.index.get(table)!;
    const hook = PHASE_HOOK[b.phase];
    for (;;) {
      const frame = b.stack[b.stack.length - 1];
      if (!frame) {
        // Returned from (or fell off) the built-in chain: its policy applies.
        const base = tIndex.get(hook)!;
        const policy = base.policy === '-' ? 'ACCEPT' : base.policy;
        b.events.push({ hook, table, chain: hook, effect: 'policy', detail: `policy ${policy}` });
        if (policy === 'DROP') {
          b.verdict = 'DROP';
          b.decided = { policy: { table, chain: hook, policy } };
          return 'final';
        }
        return 'table-done';
      }
      const chain = tIndex.get(frame.chain)!;
      if (frame.index >= chain.rules.length) {
        b.stack.pop();
        continue;
      }
      const i = frame.index++;
      const rule = parsedRule(tIndex, chain, i);
      const ref = (): RuleRef => {
        const comment = rule.matches.find((x) => x.kind === 'comment');
        return { table, chain: chain.name, index: i + 1, text: ruleText(chain.name, chain.rules[i]!.args), comment: comment?.kind === 'comment' ? comment.text : null };
      };
      const m = this.evalMatches(rule, b, hook, ref);
      if (m === false) continue;
      if (m !== true && 'unknown' in m) {
        // Fork on the answer; both branches evaluate this rule again, now knowing it.
        this.branches++;
        if (this.branches > this.maxBranches) throw new TraceRefusal(`the walk splits into more than ${this.maxBranches} branches`, null);
        frame.index = i;
        const u = m.unknown;
        const yes = fork(b, b.probability);
        yes.given.push({ code: u.code, key: u.key, holds: true, text: u.yes, rule: ref() });
        b.given.push({ code: u.code, key: u.key, holds: false, text: u.no, rule: ref() });
        return [yes, b];
      }
      if (m === true) {
        const r = this.applyTarget(b, table, hook, rule, ref(), null);
        if (r !== 'continue') return r;
        continue;
      }
      // A statistic match: the packet takes this rule with probability m, or goes on without it.
      const p = m as Probability;
      this.branches++;
      if (this.branches > this.maxBranches) throw new TraceRefusal(`the walk splits into more than ${this.maxBranches} branches`, null);
      const taken = fork(b, mul(b.probability, p));
      b.probability = mul(b.probability, complement(p));
      b.events.push({ hook, table, chain: chain.name, rule: ref(), effect: 'not-taken', probability: complement(p) });
      const r = this.applyTarget(taken, table, hook, rule, ref(), p);
      if (r === 'table-done') {
        taken.table = null;
        taken.stack = [];
      }
      return isZero(b.probability) ? [taken] : [taken, b];
    }
  }

  /** Applies a matched rule's target. */
  private applyTarget(b: Branch, table: TableName, hook: Hook, rule: ParsedRule, ref: RuleRef, p: Probability | null): TableStep {
    const t: Target = rule.target;
    const ev = (effect: TraceEffect, detail?: string, target?: string) =>
      b.events.push({
        hook,
        table,
        chain: ref.chain,
        rule: ref,
        effect,
        ...(target !== undefined ? { target } : {}),
        ...(p ? { probability: p } : {}),
        ...(detail !== undefined ? { detail } : {}),
      });
    switch (t.kind) {
      case 'none':
      case 'passive':
        ev('continue');
        return 'continue';
      case 'chain': {
        const target = this.index.get(table)!.get(t.chain);
        if (!target) throw new TraceRefusal(`jumps to chain ${t.chain}, which is not in the ${table} table`, ref);
        if (isBuiltin(table, t.chain)) throw new TraceRefusal(`jumps to the built-in chain ${t.chain}`, ref);
        if (b.stack.length >= MAX_DEPTH) throw new TraceRefusal(`nests chains deeper than ${MAX_DEPTH} (a jump loop?)`, ref);
        ev(t.goto ? 'goto' : 'jump', undefined, t.chain);
        // A goto replaces the current frame: the target's RETURN resumes the caller's caller.
        if (t.goto) b.stack.pop();
        b.stack.push({ chain: t.chain, index: 0 });
        return 'continue';
      }
      case 'RETURN':
        ev('return');
        b.stack.pop();
        return 'continue';
      case 'ACCEPT':
        ev('accept');
        b.decided = { rule: ref };
        return 'table-done';
      case 'DROP':
        ev('drop');
        b.verdict = 'DROP';
        b.decided = { rule: ref };
        return 'final';
      case 'REJECT': {
        const effect = rejectEffect(t.rejectWith, this.family);
        ev('reject', `reject-with ${effect.with}`);
        b.verdict = 'REJECT';
        b.reject = effect;
        b.decided = { rule: ref };
        return 'final';
      }
      case 'MARK': {
        const before = b.pkt.mark;
        const v = t.value >>> 0;
        const msk = t.mask >>> 0;
        const after =
          t.op === 'set-xmark' ? (before & ~msk) ^ v : t.op === 'set-mark' ? (before & ~msk) | v : t.op === 'or' ? before | v : t.op === 'and' ? before & v : before ^ v;
        b.pkt.mark = after >>> 0;
        ev('mark', `mark ${hex(before)} -> ${hex(b.pkt.mark)}`);
        return 'continue';
      }
      case 'DNAT': {
        if (table !== 'nat' || (hook !== 'PREROUTING' && hook !== 'OUTPUT')) return this.stop(b, ref, ev, 'DNAT outside nat PREROUTING/OUTPUT is not modelled');
        if (t.ip && t.ip.family !== this.family) return this.stop(b, ref, ev, 'DNAT to an address of the other IP family');
        const before = formatEndpoint(b.pkt.dst, b.pkt.dport);
        if (t.ip) b.pkt.dst = t.ip;
        if (t.port !== null) b.pkt.dport = t.port;
        const after = formatEndpoint(b.pkt.dst, b.pkt.dport);
        b.pkt.dnat = { to: after, rule: ref };
        ev('dnat', `destination ${before} -> ${after}`);
        return 'table-done';
      }
      case 'SNAT':
      case 'MASQUERADE': {
        if (table !== 'nat' || (hook !== 'POSTROUTING' && hook !== 'INPUT')) return this.stop(b, ref, ev, `${t.kind} outside nat POSTROUTING/INPUT is not modelled`);
        const to = t.kind === 'SNAT' ? formatAddress(t.ip) : this.masqueradeAddress(b, hook);
        b.pkt.masquerade = { kind: t.kind, to, rule: ref };
        ev(t.kind === 'SNAT' ? 'snat' : 'masquerade', to !== null ? `source -> ${to}` : 'source -> the address of the outgoing interface');
        return 'table-done';
      }
      case 'REDIRECT': {
        if (table !== 'nat' || (hook !== 'PREROUTING' && hook !== 'OUTPUT')) return this.stop(b, ref, ev, 'REDIRECT outside nat PREROUTING/OUTPUT is not modelled');
        const before = formatEndpoint(b.pkt.dst, b.pkt.dport);
        // The incoming interface's first address; locally generated packets go to loopback.
        const to =
          hook === 'OUTPUT' ? parseAddress(this.family === 'IPv4' ? '127.0.0.1' : '::1') : this.node && this.inIface ? interfaceAddress(this.node, this.inIface, this.family) : null;
        if (to) b.pkt.dst = to;
        else b.pkt.redirected = true;
        if (t.port !== null) b.pkt.dport = t.port;
        const after = to ? formatEndpoint(b.pkt.dst, b.pkt.dport) : `${formatEndpoint(b.pkt.dst, b.pkt.dport)} (the node)`;
        b.pkt.dnat = { to: formatEndpoint(b.pkt.dst, b.pkt.dport), rule: ref };
        ev('redirect', `destination ${before} -> ${after}`);
        return 'table-done';
      }
      case 'CT':
        if (!t.notrack) {
          ev('continue');
          return 'continue';
        }
        b.pkt.untracked = true;
        ev('notrack', 'untracked: no conntrack entry, no NAT');
        return 'continue';
      case 'CONNMARK': {
        const before = b.pkt.ctmark;
        const v = t.value >>> 0;
        const msk = t.mask >>> 0;
        if (t.op === 'restore') {
          const nf = b.pkt.mark;
          b.pkt.mark = ((nf & ~t.nfmask) ^ (b.pkt.ctmark & t.ctmask)) >>> 0;
          ev('connmark', `mark ${hex(nf)} -> ${hex(b.pkt.mark)} (restored from ctmark ${hex(b.pkt.ctmark)})`);
          return 'continue';
        }
        const after =
          t.op === 'save'
            ? (before & ~t.ctmask) ^ (b.pkt.mark & t.nfmask)
            : t.op === 'set-xmark'
              ? (before & ~msk) ^ v
              : t.op === 'set-mark'
                ? (before & ~msk) | v
                : t.op === 'or'
                  ? before | v
                  : t.op === 'and'
                    ? before & v
                    : before ^ v;
        b.pkt.ctmark = after >>> 0;
        ev('connmark', `ctmark ${hex(before)} -> ${hex(b.pkt.ctmark)}`);
        return 'continue';
      }
      case 'unsupported':
        return this.stop(b, ref, ev, `${t.text}: ${t.why}`);
    }
  }

  /**
   * MASQUERADE's source from the node state: the outgoing interface's address on the next hop's
   * subnet, else its first address of the family (inet_select_addr); null when not known.
   */
  private masqueradeAddress(b: Branch, hook: Hook): string | null {
    if (!this.node || hook !== 'POSTROUTING') return null;
    const out = this.interfaceOf('out', hook, b);
    const iface = out ? this.node.interfaces.find((i) => i.name === out) : undefined;
    if (!iface) return null;
    const r = lookupRoute(this.node, b.pkt.dst);
    const hop = (r?.gateway ? parseAddress(r.gateway) : null) ?? b.pkt.dst;
    // Host-scope (loopback) and link-local addresses are never picked; with none left on the
    // interface the kernel takes the first usable address of another one.
    const usable = (a: { address: Address }) =>
      a.address.family === this.family && !isLoopback(a.address) && !(a.address.family === 'IPv6' && a.address.value >> 118n === 0x3fan);
    let mine = iface.addresses.filter(usable);
    if (mine.length === 0) mine = this.node.interfaces.flatMap((i) => i.addresses.filter(usable)).slice(0, 1);
    const onLink = mine.find((a) => {
      const net = parseNetwork(`${formatAddress(a.address)}/${a.prefixlen}`);
      return net !== null && networkContains(net, hop);
    });
    const pick = onLink ?? mine[0];
    return pick ? formatAddress(pick.address) : null;
  }

  /** Ends the branch at a rule whose target is not modelled: the outcome is UNKNOWN, never a guess. */
  private stop(b: Branch, ref: RuleRef, ev: (effect: TraceEffect, detail?: string) => void, why: string): TableStep {
    ev('unknown', why);
    b.verdict = 'UNKNOWN';
    b.decided = { rule: ref };
    b.stoppedAt = { rule: ref, why };
    return 'final';
  }

  /** Routing between phases; ends the branch (accepted) when the packet leaves the path. */
  private route(b: Branch): void {
    const local = this.isLocal(b.pkt.dst) || b.pkt.redirected;
    if (b.phase === 'prerouting' && !local && this.hasRoutes && this.routeFailure(b)) return;
    const n = nextPhase(b.phase, local);
    if (n === null) {
      b.verdict = 'ACCEPT';
      b.delivery = deliveryAfter(b.phase);
      return;
    }
    b.phase = n;
    b.steps = [...PHASE_TABLES[n]];
  }

  /**
   * The routing decision for a forwarded packet, from the node's routes and sysctls (ip_route_input):
   * forwarding disabled or no route gives an ICMP error, a blackhole route drops. True when it ended the branch.
   */
  private routeFailure(b: Branch): boolean {
    const node = this.node!;
    const fwd = node.sysctls?.[this.family === 'IPv4' ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'];
    const r = lookupRoute(node, b.pkt.dst);
    const fail = (verdict: 'DROP' | 'REJECT', why: string, icmp: string | null) => {
      b.verdict = verdict;
      b.decided = { routing: why };
      if (icmp) b.reject = rejectEffect(icmp, this.family);
      return true;
    };
    const v4 = this.family === 'IPv4';
    if (fwd === '0') return fail('REJECT', `forwarding is disabled (${v4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'} = 0)`, v4 ? 'icmp-host-unreachable' : 'icmp6-addr-unreachable');
    if (!r) return fail('REJECT', `no route to ${formatAddress(b.pkt.dst)}`, v4 ? 'icmp-net-unreachable' : 'icmp6-no-route');
    if (r.type === 'blackhole') return fail('DROP', `blackhole route ${formatNet(r)}`, null);
    if (r.type === 'unreachable') return fail('REJECT', `unreachable route ${formatNet(r)}`, v4 ? 'icmp-host-unreachable' : 'icmp6-addr-unreachable');
    if (r.type === 'prohibit') return fail('REJECT', `prohibit route ${formatNet(r)}`, v4 ? 'icmp-host-prohibited' : 'icmp6-adm-prohibited');
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Matches

  /** The interface name netfilter sees at this hook ('' for none), or null when unknown. */
  private interfaceOf(which: 'in' | 'out', hook: Hook, b: Branch): string | null {
    const looped = b.phase === 'lo-prerouting' || b.phase === 'lo-input';
    if (which === 'in') {
      if (hook === 'OUTPUT' || hook === 'POSTROUTING') return '';
      if (looped) return 'lo';
      return this.inIface;
    }
    if (hook === 'PREROUTING' || hook === 'INPUT') return '';
    if (this.from === 'node' && this.isLocal(b.pkt.dst)) return 'lo';
    return this.packet.outInterface ?? this.routeDev(b.pkt.dst);
  }

  /** The output interface of an ended branch as netfilter saw it, null when unknown or none. */
  outInterfaceOf(b: Branch): string | null {
    if (b.delivery === 'local' || b.verdict !== 'ACCEPT' && b.phase === 'prerouting') return null;
    if (this.from === 'node' && this.isLocal(b.pkt.dst)) return 'lo';
    return this.packet.outInterface ?? this.routeDev(b.pkt.dst);
  }

  /** An interface test: known, answered by an earlier assumption of this branch, or unknown. */
  private ifaceMatch(b: Branch, which: 'in' | 'out' | 'physin' | 'physout', name: string | null, pattern: string, flag: string): boolean | { unknown: Unknown } {
    const fits = (n: string, p: string) => (p.endsWith('+') ? n.startsWith(p.slice(0, -1)) : n === p);
    if (name !== null) return fits(name, pattern);
    const prefix = `${which}=`;
    for (const g of b.given) {
      if (!g.key.startsWith(prefix)) continue;
      const other = g.key.slice(prefix.length);
      if (other === pattern) return g.holds;
      // An exact interface assumed: every other test follows from it.
      if (g.holds && !other.endsWith('+')) return fits(other, pattern);
      if (g.holds && other.endsWith('+') && !pattern.endsWith('+') && !fits(pattern, other)) return false;
      if (!g.holds && other.endsWith('+') && fits(pattern.replace(/\+$/, ''), other) && !pattern.endsWith('+')) return false;
    }
    const verb = { in: 'arrives on', out: 'leaves by', physin: 'enters the bridge from port', physout: 'leaves the bridge by port' }[which];
    const what = pattern.endsWith('+') ? `an interface matching ${pattern}` : pattern;
    // The flag that asked is on the `given` entry's rule; the label names only the answer.
    void flag;
    const hint = which === 'in' || which === 'out' ? ` (unknown: give --${which}-interface or the node's routes)` : '';
    return {
      unknown: {
        code: which === 'in' || which === 'out' ? 'interface' : 'physdev',
        key: `${which}=${pattern}`,
        yes: `the packet ${verb} ${what}${hint}`,
        no: `the packet does not ${verb.replace(/^(\w+)s /, '$1 ')} ${what}${hint}`,
      },
    };
  }

  /** An answer an earlier fork of this branch assumed, else the unknown itself. */
  private ask(b: Branch, u: Unknown): boolean | { unknown: Unknown } {
    const g = b.given.find((x) => x.key === u.key);
    return g ? g.holds : { unknown: u };
  }

  /** The bridge the packet came in by (br_netfilter hands bridged-in packets to iptables), or null. */
  private bridgeIn(hook: Hook, b: Branch): string | null {
    if (!this.node || this.from === 'node' || b.phase.startsWith('lo-') || this.inIface === null) return null;
    if (bridgePorts(this.node, this.inIface).length === 0) return null;
    const sysctl = this.node.sysctls?.[this.family === 'IPv4' ? 'net.bridge.bridge-nf-call-iptables' : 'net.bridge.bridge-nf-call-ip6tables'];
    if (sysctl === '0') return null;
    // A capture that read the sysctls but found none: br_netfilter is not loaded.
    if (sysctl === undefined && this.node.sysctls !== undefined) return null;
    if (sysctl === undefined) this.usedBrNetfilter = true;
    void hook;
    return this.inIface;
  }

  /** xt_physdev (net/netfilter/xt_physdev.c physdev_mt) with the bridge ports from the node state. */
  private physdevMatch(m: Extract<Match, { kind: 'physdev' }>, b: Branch, hook: Hook): Tri {
    if (!this.node || this.node.interfaces.length === 0) return this.ask(b, unmodelled(m.text, "bridge ports are known only from the node's state (--ip-addr)"));
    const bridge = this.bridgeIn(hook, b);
    if (bridge === null) {
      // No bridge information: only fully inverted options match.
      const opts = [m.isBridged, m.isIn, m.isOut, m.in ? !m.in.negate : undefined, m.out ? !m.out.negate : undefined];
      return opts.every((x) => x === undefined || x === false);
    }
    const out = hook === 'FORWARD' || hook === 'POSTROUTING' ? this.interfaceOf('out', hook, b) : '';
    // Bridged (not routed): the destination is on the bridge's own link. A DNAT to such a destination
    // is bridged too (br_netfilter's br_nf_pre_routing_finish: "bridged_dnat" when the new route
    // leaves by the bridge the packet came in on).
    const r = lookupRoute(this.node, b.pkt.dst);
    const bridged = out === bridge && r !== null && r.gateway === null && r.type === 'unicast';
    if (m.isBridged !== undefined && bridged !== m.isBridged) return false;
    if (m.isIn !== undefined && !m.isIn) return false;
    if (m.isOut !== undefined && bridged !== m.isOut) return false;
    const ports = bridgePorts(this.node, bridge);
    const port = (which: 'physin' | 'physout', spec: { name: string; negate: boolean }): Tri => {
      const exact = !spec.name.endsWith('+');
      if (exact && !ports.includes(spec.name)) return spec.negate;
      const r2 = this.ifaceMatch(b, which, ports.length === 1 ? ports[0]! : null, spec.name, '');
      return typeof r2 === 'boolean' ? r2 !== spec.negate : r2;
    };
    let unknown: Tri | null = null;
    if (m.in) {
      const r1 = port('physin', m.in);
      if (r1 === false) return false;
      if (r1 !== true) unknown = r1;
    }
    if (m.out) {
      if (!bridged) return false;
      const r2 = port('physout', m.out);
      if (r2 === false) return false;
      if (r2 !== true) unknown ??= r2;
    }
    return unknown ?? true;
  }

  /** -m addrtype's type of an address: inet_addr_type (the local table), multicast and broadcast ranges. */
  private addrType(ip: Address): string | null {
    if (this.isLocal(ip)) return 'LOCAL';
    if (ip.family === 'IPv4') {
      if (ip.value >> 28n === 0xen) return 'MULTICAST';
      if (ip.value === 0xffffffffn || ip.value >> 24n === 0n) return 'BROADCAST';
    } else if (ip.value >> 120n === 0xffn) return 'MULTICAST';
    if (this.node && this.hasRoutes) {
      if (ip.family === 'IPv6') return 'UNICAST';
      const r = lookupRoute(this.node, ip);
      return r && r.table === 'local' ? r.type.toUpperCase() : 'UNICAST';
    }
    return null;
  }

  /** true / false / the probability of matching / unknown (the question to fork on). */
  private evalMatches(rule: ParsedRule, b: Branch, hook: Hook, ref: () => RuleRef): Tri | Probability {
    let unknown: Unknown | null = null;
    let prob: Probability | null = null;
    const affinity: AffinityUse[] = [];
    let result: Tri | Probability | null = null;
    for (const m of rule.matches) {
      if (m.kind === 'recent') {
        // Reached (every match before it held): remembered for the affinity explanation.
        affinity.push({ name: m.name, op: m.op, seconds: m.seconds, key: m.key, mask: m.mask, matched: m.op === 'set' ? !m.negate : m.negate, rule: ref() });
      }
      const r = this.evalMatch(m, b, hook);
      if (r === false) {
        result = false;
        break;
      }
      if (r === true) continue;
      if ('unknown' in r) unknown ??= r.unknown;
      else prob = prob ? mul(prob, r) : r;
    }
    // A fork re-evaluates the rule: its recent matches are recorded once the rule is decided.
    if (result === false || unknown === null) {
      if (affinity.length > 0) this.usedRecent = true;
      b.pkt.affinity.push(...affinity);
    }
    if (result === false) return false;
    if (unknown !== null) return { unknown };
    return prob ?? true;
  }

  private evalMatch(m: Match, b: Branch, hook: Hook): Tri | Probability {
    const pkt = b.pkt;
    const neg = (x: boolean, n: boolean) => (n ? !x : x);
    const negTri = (x: boolean | { unknown: Unknown }, n: boolean): Tri => (typeof x === 'boolean' ? neg(x, n) : x);
    switch (m.kind) {
      case 'address': {
        const ip = m.which === 'src' ? pkt.src : pkt.dst;
        const hits = m.nets.filter((n) => networkContains(n, ip)).length;
        // iptables expands `-s a,b` into one rule per network: two hits would apply the target twice.
        if (hits > 1) return this.ask(b, unmodelled(`-${m.which === 'src' ? 's' : 'd'} ${m.text}`, 'the packet is in more than one of its networks, and iptables applies such a rule once per network'));
        return neg(hits === 1, m.negate);
      }
      case 'protocol': {
        const p = this.packet.protocol;
        const num: Record<TraceProtocol, string> = { tcp: '6', udp: '17', sctp: '132' };
        return neg(m.proto === 'all' || m.proto === '0' || m.proto === p || m.proto === num[p], m.negate);
      }
      case 'interface': {
        const name = this.interfaceOf(m.which, hook, b);
        const flag = `${m.negate ? '! ' : ''}${m.which === 'in' ? '-i' : '-o'} ${m.name}`;
        return negTri(this.ifaceMatch(b, m.which, name, m.name, flag), m.negate);
      }
      case 'port': {
        const inRange = (x: number) => m.ranges.some(([lo, hi]) => x >= lo && x <= hi);
        const sport = this.packet.sport;
        if (m.which === 'dport') return neg(inRange(pkt.dport), m.negate);
        if (m.which === 'any' && inRange(pkt.dport)) return neg(true, m.negate);
        if (sport === undefined) {
          const opt = m.which === 'any' ? '--ports' : '--sport';
          return negTri(this.ask(b, { code: 'sport', key: `sport=${m.text}`, yes: `the source port is in ${m.text} (${opt}; give --sport)`, no: `the source port is not in ${m.text} (${opt}; give --sport)` }), m.negate);
        }
        return neg(inRange(sport), m.negate);
      }
      case 'comment':
      case 'nfacct':
        return true;
      case 'syn':
        // The first packet of a TCP connection is a SYN.
        return neg(true, m.negate);
      case 'tcpflags': {
        // ... with SYN alone set: (flags & mask) == comp.
        const set: string[] = m.mask.filter((f) => f === 'SYN');
        return neg(set.length === m.comp.length && m.comp.every((f) => set.includes(f)), m.negate);
      }
      case 'addrtype': {
        const ip = m.which === 'src' ? pkt.src : pkt.dst;
        let type = this.addrType(ip);
        if (type === null) {
          // Without the local table a subnet's broadcast address cannot be told from a unicast one
          // (which matters only when the rule asks for a type other than LOCAL).
          if (m.types.some((t) => t !== 'LOCAL')) this.usedUnicast = true;
          type = 'UNICAST';
        }
        return neg(m.types.includes(type), m.negate);
      }
      case 'mark':
        return neg(((pkt.mark & m.mask) >>> 0) === ((m.value & m.mask) >>> 0), m.negate);
      case 'connmark':
        return neg(((pkt.ctmark & m.mask) >>> 0) === ((m.value & m.mask) >>> 0), m.negate);
      case 'ctstate': {
        const known = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED', ...(m.option === '--ctstate' ? ['SNAT', 'DNAT'] : [])];
        const bad = m.states.find((s) => !known.includes(s));
        if (bad) return this.ask(b, unmodelled(`${m.option} ${m.states.join(',')}`, `unknown state ${bad}`));
        // The first packet of a connection: NEW, plus the DNAT/SNAT virtual states once translated.
        const states = new Set(pkt.untracked ? ['UNTRACKED'] : ['NEW']);
        if (pkt.dnat && !pkt.untracked) states.add('DNAT');
        if (pkt.masquerade) states.add('SNAT');
        return neg(m.states.some((s) => states.has(s)), m.negate);
      }
      case 'cttuple': {
        if (pkt.untracked) return m.negate;
        // The original tuple is the packet as it arrived; the reply comes from the DNAT destination.
        const ip = m.which === 'origsrc' ? pkt.src : m.which === 'origdst' ? this.origDst : pkt.dst;
        return neg(m.nets.some((n) => networkContains(n, ip)), m.negate);
      }
      case 'ctflag':
        return neg(m.holds && !pkt.untracked, m.negate);
      case 'statistic': {
        const p = m.negate ? complement(m.probability) : m.probability;
        if (p.num === 0n) return false;
        if (p.num === p.den) return true;
        return p;
      }
      case 'recent':
        // Nothing remembered for this source yet: --rcheck/--update/--remove find no entry, --set matches.
        return neg(m.op === 'set', m.negate);
      case 'limit':
        // A token bucket starts full: the first packet of a flow passes a rate limit.
        this.usedLimit = true;
        return m.matches;
      case 'owner':
        // Only locally generated packets carry their socket; others match only fully inverted options.
        if (this.from === 'node' && (hook === 'OUTPUT' || hook === 'POSTROUTING')) {
          return this.ask(b, { code: 'owner', key: `owner:${m.text}`, yes: `the sending process matches ${m.text}`, no: `the sending process does not match ${m.text}` });
        }
        return m.allInverted;
      case 'socket':
        return this.ask(b, { code: 'socket', key: `socket:${m.text}`, yes: `a local socket matches the packet (${m.text})`, no: `no local socket matches the packet (${m.text})` });
      case 'rpfilter': {
        const inIface = this.interfaceOf('in', hook, b);
        let ok: boolean | null;
        if (inIface === 'lo' || (m.acceptLocal && this.isLocal(pkt.src))) ok = true;
        else if (!this.node || !this.hasRoutes) ok = null;
        else {
          const r = lookupRoute(this.node, pkt.src);
          const usable = r !== null && (r.type === 'unicast' || r.type === 'local');
          ok = m.loose ? usable : usable && r!.dev === inIface;
        }
        if (ok === null) return this.ask(b, { code: 'rpfilter', key: `rpfilter:${m.loose}`, yes: `the source passes the reverse-path check (${m.text})`, no: `the source fails the reverse-path check (${m.text})` });
        return neg(ok, m.invert);
      }
      case 'set': {
        const sets = this.node?.ipsets;
        const set = sets?.get(m.name);
        const u: Unknown = {
          code: 'ipset',
          key: `set:${m.name}:${m.dirs.join(',')}`,
          yes: `the packet is in ipset ${m.name} (${m.dirs.join(',')})${sets ? '' : '; give --ipsets'}`,
          no: `the packet is not in ipset ${m.name} (${m.dirs.join(',')})${sets ? '' : '; give --ipsets'}`,
        };
        if (!sets || !set) return negTri(this.ask(b, sets && !set ? { ...u, yes: `${u.yes} (the set is not in the ipset dump)`, no: `${u.no} (the set is not in the ipset dump)` } : u), m.negate);
        const inIface = this.interfaceOf('in', hook, b);
        const outIface = this.interfaceOf('out', hook, b);
        const hit = setContains(sets, set, m.dirs, {
          src: pkt.src,
          dst: pkt.dst,
          protocol: this.packet.protocol,
          sport: this.packet.sport,
          dport: pkt.dport,
          inInterface: inIface,
          outInterface: outIface,
          mark: pkt.mark,
        });
        return negTri(hit === null ? this.ask(b, u) : hit, m.negate);
      }
      case 'physdev':
        return this.physdevMatch(m, b, hook);
      case 'policy':
        // Plain (non-IPsec) packets: `--pol none` holds, `--pol ipsec` does not.
        return neg(!m.ipsec, m.negate);
      case 'pkttype': {
        const t = this.addrType(pkt.dst);
        const type = t === 'MULTICAST' ? 'multicast' : t === 'BROADCAST' ? 'broadcast' : 'unicast';
        return neg(type === m.type, m.negate);
      }
      case 'iprange': {
        const ip = m.which === 'src' ? pkt.src : pkt.dst;
        return neg(ip.family === m.lo.family && ip.value >= m.lo.value && ip.value <= m.hi.value, m.negate);
      }
      case 'unsupported':
        return this.ask(b, unmodelled(m.text, m.why));
    }
  }
}

function formatNet(r: NodeRoute): string {
  let len = 0;
  for (let m = r.dst.mask; m > 0n; m >>= 1n) if (m & 1n) len++;
  return `${formatAddress({ family: r.dst.family, value: r.dst.value })}/${len}${r.table === 'main' ? '' : ` table ${r.table}`}`;
}

function outcomeOf(b: Branch, tracer: Tracer): TraceOutcome {
  const verdict = b.verdict ?? 'ACCEPT';
  const assumed = (which: 'in' | 'out') => {
    const g = b.given.find((x) => x.holds && x.key.startsWith(`${which}=`) && !x.key.endsWith('+'));
    return g ? g.key.slice(which.length + 1) : null;
  };
  return {
    probability: b.probability,
    verdict,
    delivery: verdict === 'ACCEPT' ? b.delivery : null,
    destination: formatEndpoint(b.pkt.dst, b.pkt.dport),
    dnat: b.pkt.dnat,
    masquerade: verdict === 'ACCEPT' ? b.pkt.masquerade : null,
    decidedBy: b.decided,
    reject: verdict === 'REJECT' ? b.reject : null,
    stoppedAt: b.stoppedAt,
    given: b.given,
    inInterface: tracer.inIface ?? assumed('in'),
    outInterface: tracer.outInterfaceOf(b) ?? assumed('out'),
    mark: b.pkt.mark,
    affinity: b.pkt.affinity,
    events: b.events,
  };
}

function refKey(r: RuleRef): string {
  return `${r.table}/${r.chain}/${r.index}`;
}

/** Outcomes are the same when the packet ends the same way: verdict, place, destination, SNAT, deciding rule. */
function outcomeKey(o: TraceOutcome): string {
  const decided =
    o.decidedBy === null
      ? ''
      : 'rule' in o.decidedBy
        ? refKey(o.decidedBy.rule)
        : 'policy' in o.decidedBy
          ? `policy ${o.decidedBy.policy.table}/${o.decidedBy.policy.chain}`
          : `routing ${o.decidedBy.routing}`;
  return [o.verdict, o.delivery ?? '', o.destination, o.masquerade ? refKey(o.masquerade.rule) : '', decided, ...o.given.map((g) => `${g.key}=${g.holds}`)].join('|');
}

// Tracing many packets through one ruleset reuses the hooked copy (and with it the index and parsed rules).
const hookedCache = new WeakMap<Ruleset, WeakMap<HookRules, HookedRuleset>>();

function hookedRuleset(ruleset: Ruleset, hooks: HookRules): HookedRuleset {
  let byHooks = hookedCache.get(ruleset);
  if (!byHooks) hookedCache.set(ruleset, (byHooks = new WeakMap()));
  let h = byHooks.get(hooks);
  if (!h) {
    h = withHookRules(ruleset, hooks.rules);
    byHooks.set(hooks, h);
  }
  return h;
}

function parsePacketAddress(text: string, what: string): Address {
  const a = parseAddress(text);
  if (!a) throw new TraceRefusal(`${what} "${text}" is not an IP address`, null);
  return a;
}

/**
 * Traces the first packet of a new connection through `ruleset`. Throws TraceRefusal when a rule
 * the packet would have to be checked against uses something the tracer does not model.
 */
export function tracePacket(ruleset: Ruleset, packet: TracePacket, options: TraceOptions): TraceResult {
  const src = parsePacketAddress(packet.src, 'source');
  const dst = parsePacketAddress(packet.dst, 'destination');
  if (src.family !== dst.family) throw new TraceRefusal(`source ${packet.src} and destination ${packet.dst} are of different IP families`, null);
  if (!Number.isInteger(packet.dport) || packet.dport < 1 || packet.dport > 65535) throw new TraceRefusal(`destination port ${packet.dport} is not in 1-65535`, null);
  const local = options.localAddresses.map((a) => parsePacketAddress(a, 'local address'));
  const hooked = options.hooks === undefined ? { ruleset, added: [] } : hookedRuleset(ruleset, options.hooks);
  const tracer = new Tracer(hooked.ruleset, packet, src.family, options.from, local, options.maxBranches ?? 100000, options.node, src, dst);
  const phase: Phase = options.from === 'node' ? 'output' : 'prerouting';
  const start: Branch = {
    probability: ONE,
    pkt: { src, dst, dport: packet.dport, mark: (packet.mark ?? 0) >>> 0, dnat: null, masquerade: null, affinity: [], ctmark: 0, untracked: false, redirected: false },
    events: [],
    phase,
    steps: [...PHASE_TABLES[phase]],
    table: null,
    stack: [],
    verdict: null,
    delivery: null,
    decided: null,
    reject: null,
    stoppedAt: null,
    given: [],
  };
  const finished = tracer.run(start);

  const outcomes: TraceOutcome[] = [];
  const byKey = new Map<string, number>();
  for (const b of finished) {
    const o = outcomeOf(b, tracer);
    const k = outcomeKey(o);
    const at = byKey.get(k);
    if (at === undefined) {
      byKey.set(k, outcomes.length);
      outcomes.push(o);
    } else {
      outcomes[at] = { ...outcomes[at]!, probability: add(outcomes[at]!.probability, o.probability) };
    }
  }

  const assumptions: TraceAssumption[] = [
    {
      code: 'new-connection',
      text: 'the packet is the first of a new connection (conntrack state NEW, plus DNAT once translated); nat rules are consulted only for such packets, later packets follow the same translation',
    },
  ];
  if (outcomes.some((o) => o.events.some((e) => e.probability))) {
    assumptions.push({ code: 'statistic-kernel', text: 'statistic --probability p is taken as the kernel applies it: round(p * 2^31) / 2^31' });
  }
  if (tracer.usedRecent) {
    assumptions.push({
      code: 'recent-empty',
      text: 'no earlier connection from this source is remembered (-m recent --rcheck finds no entry); later connections from the same source within the timeout go to the endpoint chosen first',
    });
  }
  if (tracer.usedLimit) {
    assumptions.push({ code: 'limit-fresh', text: "-m limit / -m hashlimit pass this packet: a rate limit's bucket starts full, so a new flow's first packet is within it" });
  }
  if (tracer.usedUnicast) {
    assumptions.push({ code: 'addrtype-unicast', text: "-m addrtype: a non-local address is taken as UNICAST (not a subnet broadcast address); the node's routes (--ip-route) would tell" });
  }
  if (tracer.usedBrNetfilter) {
    assumptions.push({ code: 'br-netfilter', text: 'packets arriving on a bridge are seen by iptables with their bridge port (net.bridge.bridge-nf-call-iptables = 1, as Kubernetes requires)' });
  }
  if (options.hooks && hooked.added.length > 0) {
    const who = options.hooks.installer;
    assumptions.push({ code: 'hooks-added', text: `${who}'s jump rules from the built-in chains were missing and were added as ${who} installs them (${hooked.added.length} rules)` });
  }
  return { packet, from: options.from, family: src.family, outcomes, addedHooks: hooked.added, assumptions };
}
