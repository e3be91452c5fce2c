/**
 * The packet tracer: follows one packet (the first of a new connection) through the netfilter hooks
 * of a ruleset the way the kernel does, and returns every possible outcome with its exact
 * probability. Statistic matches fork the walk (each branch carries its probability); everything
 * else is deterministic given the packet and the node's local addresses. A match or target the
 * tracer does not model makes it refuse (TraceRefusal), naming the rule, unless a modelled match of
 * the same rule already fails (then the rule cannot match whatever the unknown part says).
 */
import type { AppendCommand, Ruleset, TableName } from './ir.js';
import { formatAddress, formatEndpoint, isLoopback, networkContains, parseAddress, sameAddress, type Address, type Family } from './trace-ip.js';
import { ONE, complement, isZero, mul, add, type Probability } from './trace-probability.js';
import { parseRuleSafe, ruleText, type Match, type ParsedRule, type Target } from './trace-rule.js';
import { withKubeProxyHooks, type HookRule, type HookedRuleset } from './trace-hooks.js';

export type { Probability } from './trace-probability.js';
export { formatExact, formatPercent, toNumber as probabilityValue, statisticProbability } from './trace-probability.js';
export { KUBE_PROXY_HOOK_RULES, hookRuleArgs, withKubeProxyHooks, type HookRule, type HookedRuleset } from './trace-hooks.js';
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
  /** Insert kube-proxy's hook rules where the ruleset lacks them (compiled restore text has none). Default true. */
  readonly addKubeProxyHooks?: boolean;
  /** Refuse when the walk splits into more branches than this (default 100000). */
  readonly maxBranches?: number;
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

export type Verdict = 'ACCEPT' | 'DROP' | 'REJECT';

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
  /** The rule that gave the verdict, or the built-in chain whose policy did; null when no chain decided (accepted by default). */
  readonly decidedBy: { readonly rule: RuleRef } | { readonly policy: { readonly table: TableName; readonly chain: string; readonly policy: string } } | null;
  /** The nfmark when the packet left the last hook. */
  readonly mark: number;
  /** `-m recent` matches the walk reached (session affinity), matched or not. */
  readonly affinity: readonly AffinityUse[];
  readonly events: readonly TraceEvent[];
}

export interface TraceAssumption {
  readonly code: 'new-connection' | 'recent-empty' | 'statistic-kernel' | 'hooks-added';
  readonly text: string;
}

export interface TraceResult {
  readonly packet: TracePacket;
  readonly from: TraceFrom;
  readonly family: Family;
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

const BUILTIN: Record<TableName, readonly string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

function isBuiltin(table: TableName, chain: string): boolean {
  return BUILTIN[table].includes(chain);
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
}

type Phase = 'prerouting' | 'input' | 'forward' | 'postrouting-fwd' | 'output' | 'postrouting-out' | 'lo-prerouting' | 'lo-input';

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
    steps: [...b.steps],
    stack: b.stack.map((f) => ({ ...f })),
  };
}

type Tri = true | false | { readonly unknown: string };
type TableStep = 'continue' | 'table-done' | 'final';

class Tracer {
  private readonly index: RulesetIndex;
  private branches = 1;
  usedRecent = false;

  constructor(
    ruleset: Ruleset,
    private readonly packet: TracePacket,
    private readonly family: Family,
    private readonly from: TraceFrom,
    private readonly local: readonly Address[],
    private readonly maxBranches: number,
  ) {
    this.index = indexRuleset(ruleset);
  }

  isLocal(a: Address): boolean {
    return isLoopback(a) || this.local.some((l) => sameAddress(l, a));
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
      if (m !== true && 'unknown' in m) throw new TraceRefusal(m.unknown, ref());
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
      case 'REJECT':
        ev(t.kind === 'DROP' ? 'drop' : 'reject');
        b.verdict = t.kind;
        b.decided = { rule: ref };
        return 'final';
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
        if (table !== 'nat' || (hook !== 'PREROUTING' && hook !== 'OUTPUT')) throw new TraceRefusal('uses DNAT outside nat PREROUTING/OUTPUT', ref);
        if (t.ip && t.ip.family !== this.family) throw new TraceRefusal('uses DNAT to an address of the other IP family', ref);
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
        if (table !== 'nat' || (hook !== 'POSTROUTING' && hook !== 'INPUT')) throw new TraceRefusal(`uses ${t.kind} outside nat POSTROUTING/INPUT`, ref);
        const to = t.kind === 'SNAT' ? formatAddress(t.ip) : null;
        b.pkt.masquerade = { kind: t.kind, to, rule: ref };
        ev(t.kind === 'SNAT' ? 'snat' : 'masquerade', to !== null ? `source -> ${to}` : 'source -> the address of the outgoing interface');
        return 'table-done';
      }
      case 'unsupported':
        throw new TraceRefusal(`uses ${t.text}: ${t.why}`, ref);
    }
  }

  /** Routing between phases; ends the branch (accepted) when the packet leaves the path. */
  private route(b: Branch): void {
    const local = this.isLocal(b.pkt.dst);
    const next: Record<Phase, Phase | null> = {
      prerouting: local ? 'input' : 'forward',
      forward: 'postrouting-fwd',
      output: 'postrouting-out',
      'postrouting-out': local ? 'lo-prerouting' : null,
      'lo-prerouting': 'lo-input',
      input: null,
      'lo-input': null,
      'postrouting-fwd': null,
    };
    const n = next[b.phase];
    if (n === null) {
      b.verdict = 'ACCEPT';
      b.delivery = b.phase === 'input' || b.phase === 'lo-input' ? 'local' : b.phase === 'postrouting-fwd' ? 'forward' : 'output';
      return;
    }
    b.phase = n;
    b.steps = [...PHASE_TABLES[n]];
  }

  // -------------------------------------------------------------------------------------------
  // Matches

  /** The interface name netfilter sees at this hook ('' for none), or null when unknown. */
  private interfaceOf(which: 'in' | 'out', hook: Hook, b: Branch): string | null {
    const looped = b.phase === 'lo-prerouting' || b.phase === 'lo-input';
    if (which === 'in') {
      if (hook === 'OUTPUT' || hook === 'POSTROUTING') return '';
      if (looped) return 'lo';
      return this.packet.inInterface ?? null;
    }
    if (hook === 'PREROUTING' || hook === 'INPUT') return '';
    if (this.from === 'node' && this.isLocal(b.pkt.dst)) return 'lo';
    return this.packet.outInterface ?? null;
  }

  /** true / false / the probability of matching / unknown (with the reason). */
  private evalMatches(rule: ParsedRule, b: Branch, hook: Hook, ref: () => RuleRef): Tri | Probability {
    let unknown: string | null = null;
    let prob: Probability | null = null;
    for (const m of rule.matches) {
      if (m.kind === 'recent') {
        // Reached (every match before it held): remembered for the affinity explanation.
        this.usedRecent = true;
        b.pkt.affinity.push({ name: m.name, op: m.op, seconds: m.seconds, key: m.key, mask: m.mask, matched: m.op === 'set' ? !m.negate : m.negate, rule: ref() });
      }
      const r = this.evalMatch(m, b, hook);
      if (r === false) return false;
      if (r === true) continue;
      if ('unknown' in r) unknown ??= r.unknown;
      else prob = prob ? mul(prob, r) : r;
    }
    if (unknown !== null) return { unknown };
    return prob ?? true;
  }

  private evalMatch(m: Match, b: Branch, hook: Hook): Tri | Probability {
    const pkt = b.pkt;
    const neg = (x: boolean, n: boolean) => (n ? !x : x);
    switch (m.kind) {
      case 'address': {
        const ip = m.which === 'src' ? pkt.src : pkt.dst;
        const hits = m.nets.filter((n) => networkContains(n, ip)).length;
        // iptables expands `-s a,b` into one rule per network: two hits would apply the target twice.
        if (hits > 1) return { unknown: `uses -${m.which === 'src' ? 's' : 'd'} ${m.text}: the packet is in more than one of its networks (iptables applies such a rule once per network)` };
        return neg(hits === 1, m.negate);
      }
      case 'protocol': {
        const p = this.packet.protocol;
        const num: Record<TraceProtocol, string> = { tcp: '6', udp: '17', sctp: '132' };
        return neg(m.proto === 'all' || m.proto === '0' || m.proto === p || m.proto === num[p], m.negate);
      }
      case 'interface': {
        const name = this.interfaceOf(m.which, hook, b);
        if (name === null) {
          const flag = m.which === 'in' ? '-i' : '-o';
          return {
            unknown: `needs the packet's ${m.which === 'in' ? 'input' : 'output'} interface (${m.negate ? '! ' : ''}${flag} ${m.name}); give it with ${m.which === 'in' ? '--in-interface' : '--out-interface'}`,
          };
        }
        return neg(m.name.endsWith('+') ? name.startsWith(m.name.slice(0, -1)) : name === m.name, m.negate);
      }
      case 'port': {
        const inRange = (x: number) => m.ranges.some(([lo, hi]) => x >= lo && x <= hi);
        const sport = this.packet.sport;
        if (m.which === 'dport') return neg(inRange(pkt.dport), m.negate);
        if (m.which === 'any' && inRange(pkt.dport)) return neg(true, m.negate);
        if (sport === undefined) return { unknown: `needs the packet's source port (${m.negate ? '! ' : ''}${m.which === 'any' ? '--ports' : '--sport'} ${m.text}); give it with --sport` };
        return neg(inRange(sport), m.negate);
      }
      case 'comment':
      case 'nfacct':
        return true;
      case 'syn':
        // The first packet of a TCP connection is a SYN.
        return neg(true, m.negate);
      case 'addrtype': {
        const ip = m.which === 'src' ? pkt.src : pkt.dst;
        if (this.isLocal(ip)) return neg(m.types.includes('LOCAL'), m.negate);
        if (m.types.every((t) => t === 'LOCAL')) return neg(false, m.negate);
        return { unknown: `uses -m addrtype --${m.which}-type ${m.types.join(',')}: only LOCAL is known (from the node's local addresses)` };
      }
      case 'mark':
        return neg(((pkt.mark & m.mask) >>> 0) === ((m.value & m.mask) >>> 0), m.negate);
      case 'ctstate': {
        const known = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED', ...(m.option === '--ctstate' ? ['SNAT', 'DNAT'] : [])];
        const bad = m.states.find((s) => !known.includes(s));
        if (bad) return { unknown: `uses ${m.option} ${m.states.join(',')}: unknown state ${bad}` };
        // The first packet of a connection: NEW, plus the DNAT/SNAT virtual states once translated.
        const states = new Set(['NEW']);
        if (pkt.dnat) states.add('DNAT');
        if (pkt.masquerade) states.add('SNAT');
        return neg(m.states.some((s) => states.has(s)), m.negate);
      }
      case 'statistic': {
        const p = m.negate ? complement(m.probability) : m.probability;
        if (p.num === 0n) return false;
        if (p.num === p.den) return true;
        return p;
      }
      case 'recent':
        // Nothing remembered for this source yet: --rcheck/--update/--remove find no entry, --set matches.
        return neg(m.op === 'set', m.negate);
      case 'unsupported':
        return { unknown: `uses ${m.text}: ${m.why}` };
    }
  }
}

function outcomeOf(b: Branch): TraceOutcome {
  const verdict = b.verdict ?? 'ACCEPT';
  return {
    probability: b.probability,
    verdict,
    delivery: verdict === 'ACCEPT' ? b.delivery : null,
    destination: formatEndpoint(b.pkt.dst, b.pkt.dport),
    dnat: b.pkt.dnat,
    masquerade: verdict === 'ACCEPT' ? b.pkt.masquerade : null,
    decidedBy: b.decided,
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
  const decided = o.decidedBy === null ? '' : 'rule' in o.decidedBy ? refKey(o.decidedBy.rule) : `policy ${o.decidedBy.policy.table}/${o.decidedBy.policy.chain}`;
  return [o.verdict, o.delivery ?? '', o.destination, o.masquerade ? refKey(o.masquerade.rule) : '', decided].join('|');
}

// Tracing many packets through one ruleset reuses the hooked copy (and with it the index and parsed rules).
const hookedCache = new WeakMap<Ruleset, HookedRuleset>();

function hookedRuleset(ruleset: Ruleset): HookedRuleset {
  let h = hookedCache.get(ruleset);
  if (!h) {
    h = withKubeProxyHooks(ruleset);
    hookedCache.set(ruleset, h);
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
  const hooked = options.addKubeProxyHooks === false ? { ruleset, added: [] } : hookedRuleset(ruleset);
  const tracer = new Tracer(hooked.ruleset, packet, src.family, options.from, local, options.maxBranches ?? 100000);
  const phase: Phase = options.from === 'node' ? 'output' : 'prerouting';
  const start: Branch = {
    probability: ONE,
    pkt: { src, dst, dport: packet.dport, mark: (packet.mark ?? 0) >>> 0, dnat: null, masquerade: null, affinity: [] },
    events: [],
    phase,
    steps: [...PHASE_TABLES[phase]],
    table: null,
    stack: [],
    verdict: null,
    delivery: null,
    decided: null,
  };
  const finished = tracer.run(start);

  const outcomes: TraceOutcome[] = [];
  const byKey = new Map<string, number>();
  for (const b of finished) {
    const o = outcomeOf(b);
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
  if (hooked.added.length > 0) {
    assumptions.push({ code: 'hooks-added', text: `kube-proxy's jump rules from the built-in chains were missing and were added as kube-proxy installs them (${hooked.added.length} rules)` });
  }
  return { packet, from: options.from, family: src.family, outcomes, addedHooks: hooked.added, assumptions };
}
