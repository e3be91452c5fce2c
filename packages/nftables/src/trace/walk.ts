/**
 * The walk. A branch is one possible history of the packet: where it is (phase, the base chains of
 * that hook still to run, the chain stack), what it has become (destination after DNAT, mark,
 * masquerade) and what it assumed. Forks copy the branch; each copy carries its probability.
 *
 * Kernel facts it follows: base chains of one hook run by priority and `accept` ends only the
 * current base chain; a NAT statement ends its chain with accept; once one nat chain has set up a
 * mapping, the other nat chains of that hook are skipped (nf_nat_inet_fn); nat chains see only the
 * first packet of a connection; a node's packet to itself loops back through prerouting/input of
 * lo with its NAT already settled.
 */
import {
  PROBABILITY_ONE,
  addProbability,
  isZeroProbability,
  lookupRoute,
  mulProbability,
  nodeLocalAddresses,
  rejectEffect,
  type NodeState,
  type Probability,
  type RejectEffect,
  nextPhase,
  deliveryAfter,
  type TracePhase,
} from '@svcrules/iptables';
import type { NftRuleset } from '../ir.js';
import { formatEndpoint, formatIp, isLoopback, isMulticast, parseIp, sameIp, type Ip } from './ip.js';
import {
  NftTraceRefusal,
  type NftAffinityUse,
  type NftHook,
  type NftRuleRef,
  type NftTraceAssumption,
  type NftTraceEvent,
  type NftTraceGiven,
  type NftTraceOptions,
  type NftTraceOutcome,
  type NftTracePacket,
  type NftTraceResult,
  type NftVerdict,
} from './result.js';
import { parseNumber, type Rhs, type Selector, type Stmt } from './rule.js';
import { applyOps, hex, keyMatches, literalMatches, parseNatTarget, rejectName, unquote, type Value } from './values.js';
import { baseChainsOf, indexTable, type BaseEntry, type IndexedTable, type ReadRule } from './tables.js';

type Phase = TracePhase;

const PHASE_HOOK: Record<Phase, NftHook> = {
  prerouting: 'prerouting',
  input: 'input',
  forward: 'forward',
  'postrouting-fwd': 'postrouting',
  output: 'output',
  'postrouting-out': 'postrouting',
  'lo-prerouting': 'prerouting',
  'lo-input': 'input',
};

const MAX_DEPTH = 64;

interface Frame {
  readonly table: IndexedTable;
  readonly chain: string;
  next: number;
}

interface PacketState {
  dst: Ip;
  dport: number;
  mark: number;
  ctmark: number;
  untracked: boolean;
  dnat: NftTraceOutcome['dnat'];
  masquerade: NftTraceOutcome['masquerade'];
  dnatDone: boolean;
  snatDone: boolean;
}

interface Branch {
  probability: Probability;
  pkt: PacketState;
  events: NftTraceEvent[];
  given: NftTraceGiven[];
  affinity: NftAffinityUse[];
  phase: Phase;
  queue: BaseEntry[];
  base: BaseEntry | null;
  frames: Frame[];
  /** A rule being evaluated when the branch forked: resume at statement `stmt`. */
  resume: { rule: ReadRule; stmt: number } | null;
  verdict: NftVerdict | null;
  delivery: NftTraceOutcome['delivery'];
  decided: NftTraceOutcome['decidedBy'];
  reject: RejectEffect | null;
  stoppedAt: NftTraceOutcome['stoppedAt'];
}

function fork(b: Branch, p: Probability): Branch {
  return {
    ...b,
    probability: mulProbability(b.probability, p),
    pkt: { ...b.pkt },
    events: [...b.events],
    given: [...b.given],
    affinity: [...b.affinity],
    queue: [...b.queue],
    frames: b.frames.map((f) => ({ ...f })),
    resume: b.resume ? { ...b.resume } : null,
  };
}

type Tri = boolean | { readonly ask: { readonly code: NftTraceGiven['code']; readonly key: string; readonly yes: string; readonly no: string } } | { readonly unknown: string };

class Walker {
  readonly finished: Branch[] = [];
  branches = 0;
  usedNumgen = false;
  usedAffinity = false;
  usedLimit = false;
  usedUnicast = false;
  usedRoutes = false;
  private readonly baseCache = new Map<NftHook, BaseEntry[]>();

  constructor(
    readonly tables: readonly IndexedTable[],
    readonly packet: NftTracePacket,
    readonly src: Ip,
    readonly family: 4 | 6,
    readonly local: readonly Ip[],
    readonly maxBranches: number,
    readonly node: NodeState | undefined,
    readonly from: NftTraceOptions['from'],
  ) {}

  /** The interface of the route to `ip` in the node's tables, when the node state is given. */
  routeDev(ip: Ip): string | null {
    if (!this.node) return null;
    const dev = lookupRoute(this.node, { family: ip.family === 4 ? 'IPv4' : 'IPv6', value: ip.value })?.dev ?? null;
    if (dev !== null) this.usedRoutes = true;
    return dev;
  }

  baseChains(hook: NftHook): BaseEntry[] {
    let list = this.baseCache.get(hook);
    if (!list) {
      list = baseChainsOf(this.tables, this.family, hook);
      this.baseCache.set(hook, list);
    }
    return list;
  }

  isLocal(ip: Ip): boolean {
    return isLoopback(ip) || this.local.some((l) => sameIp(l, ip));
  }

  run(start: Branch): void {
    const todo = [start];
    while (todo.length > 0) {
      const b = todo.pop()!;
      const more = this.advance(b);
      for (let i = more.length - 1; i >= 0; i--) todo.push(more[i]!);
    }
  }

  /** Runs `b` until it finishes (pushed to `finished`) or forks (the forks are returned, `b` among them). */
  private advance(b: Branch): Branch[] {
    for (;;) {
      if (b.verdict !== null) {
        this.finished.push(b);
        return [];
      }
      if (b.resume) {
        const r = b.resume;
        b.resume = null;
        const forks = this.evalRule(b, r.rule, r.stmt);
        if (forks) return forks;
        continue;
      }
      const top = b.frames[b.frames.length - 1];
      if (top === undefined) {
        const next = b.queue.shift();
        if (next === undefined) {
          this.route(b);
          continue;
        }
        if (next.type === 'nat' && this.skipNat(b, next)) continue;
        b.base = next;
        b.frames.push({ table: next.at, chain: next.chain, next: 0 });
        continue;
      }
      const chain = top.table.chains.get(top.chain);
      const rules = chain?.rules ?? [];
      if (top.next >= rules.length) {
        this.returnFrom(b, null);
        continue;
      }
      const rule = rules[top.next]!;
      top.next++;
      const forks = this.evalRule(b, rule, 0);
      if (forks) return forks;
    }
  }

  private skipNat(b: Branch, e: BaseEntry): boolean {
    if (b.pkt.untracked || (this.packet.ctState ?? 'new') !== 'new') return true;
    if (b.phase === 'lo-prerouting' || b.phase === 'lo-input') return true;
    const dnatHook = e.hook === 'prerouting' || e.hook === 'output';
    return dnatHook ? b.pkt.dnatDone : b.pkt.snatDone;
  }

  private event(b: Branch, e: Omit<NftTraceEvent, 'hook' | 'table' | 'chain' | 'priority'> & { chain?: string; table?: string }): void {
    const top = b.frames[b.frames.length - 1];
    b.events.push({
      hook: PHASE_HOOK[b.phase],
      table: e.table ?? top?.table.label ?? b.base!.table,
      chain: e.chain ?? top?.chain ?? b.base!.chain,
      priority: b.base!.priority,
      ...e,
    });
  }

  /** Leaves the current chain (end of chain or `return`); at the base chain its policy applies. */
  private returnFrom(b: Branch, rule: NftRuleRef | null): void {
    const top = b.frames.pop()!;
    if (rule) this.event(b, { table: top.table.label, chain: top.chain, rule, effect: 'return' });
    if (b.frames.length > 0) return;
    const base = b.base!;
    if (base.policy === 'drop') {
      b.events.push({ hook: PHASE_HOOK[b.phase], table: base.table, chain: base.chain, priority: base.priority, effect: 'policy', detail: 'policy drop' });
      b.verdict = 'DROP';
      b.decided = { policy: { table: base.table, chain: base.chain, policy: 'drop' } };
    }
  }

  private route(b: Branch): void {
    const local = this.isLocal(b.pkt.dst);
    const n = nextPhase(b.phase, local);
    if (n === null) {
      b.verdict = 'ACCEPT';
      b.delivery = deliveryAfter(b.phase);
      return;
    }
    b.phase = n;
    b.base = null;
    b.queue = [...this.baseChains(PHASE_HOOK[n])];
  }

  private stop(b: Branch, rule: NftRuleRef, why: string): void {
    this.event(b, { rule, effect: 'unknown', detail: why });
    b.verdict = 'UNKNOWN';
    b.decided = { rule };
    b.stoppedAt = { rule, why };
  }

  private grow(forks: Branch[]): Branch[] {
    this.branches += forks.length - 1;
    if (this.branches > this.maxBranches) throw new NftTraceRefusal(`the walk splits into more than ${this.maxBranches} branches`);
    return forks;
  }

  /**
   * Evaluates `rule` from statement `from`. Returns null when the branch goes on (rule done, or a
   * verdict set), or the branches it forked into (each resumes where it forked).
   */
  private evalRule(b: Branch, rule: ReadRule, from: number): Branch[] | null {
    const stmts = rule.stmts;
    for (let k = from; k < stmts.length; k++) {
      const s = stmts[k]!;
      switch (s.kind) {
        case 'match': {
          const r = this.match(b, s, rule.ref);
          if (r === true) continue;
          if (r === false) return null;
          if ('unknown' in r) {
            this.stop(b, rule.ref, r.unknown);
            return null;
          }
          if ('interfaces' in r) {
            const { dir, names, what } = r.interfaces;
            const forks = names.map((n) => {
              const f = fork(b, PROBABILITY_ONE);
              f.given.push({ code: 'interface', key: `${dir}=${n}`, holds: true, text: `${what} ${n}`, rule: rule.ref });
              f.resume = { rule, stmt: k };
              return f;
            });
            const not = what.replace('arrives on', 'does not arrive on').replace('leaves by', 'does not leave by');
            for (const n of names) b.given.push({ code: 'interface', key: `${dir}=${n}`, holds: false, text: `${not} ${n}`, rule: rule.ref });
            b.resume = { rule, stmt: k };
            return this.grow([...forks, b]);
          }
          if ('forks' in r) {
            return this.grow(
              r.forks.map(([p, holds, event]) => {
                const f = fork(b, p);
                if (event) f.events.push(event);
                if (holds) f.resume = { rule, stmt: k + 1 };
                return f;
              }),
            );
          }
          const yes = fork(b, PROBABILITY_ONE);
          yes.given.push({ code: r.ask.code, key: r.ask.key, holds: true, text: r.ask.yes, rule: rule.ref });
          yes.resume = { rule, stmt: k + 1 };
          const no = b;
          no.given.push({ code: r.ask.code, key: r.ask.key, holds: false, text: r.ask.no, rule: rule.ref });
          if (r.ask.code === 'affinity' || r.ask.code === 'dynamic-set') {
            // key `set:NAME:KEY[!]`: record the lookup and its assumed answer on both sides.
            const [, name, keyText] = /^set:([^:]+):(.*?)!?$/.exec(r.ask.key)!;
            const seconds = b.frames[b.frames.length - 1]!.table.sets.get(name!)?.timeout ?? null;
            const negated = r.ask.key.endsWith('!');
            yes.affinity.push({ name: name!, op: 'lookup', seconds, key: keyText!, matched: !negated, rule: rule.ref });
            no.affinity.push({ name: name!, op: 'lookup', seconds, key: keyText!, matched: negated, rule: rule.ref });
          }
          return this.grow([yes, no]);
        }
        case 'vmap': {
          const r = this.vmap(b, s);
          if (typeof r === 'string') {
            this.stop(b, rule.ref, r);
            return null;
          }
          if (r.length === 1 && isOne(r[0]![0])) {
            const [, verdict] = r[0]!;
            if (verdict === null) return null;
            this.applyVerdict(b, verdict, rule.ref, undefined);
            return null;
          }
          this.usedNumgen = true;
          return this.grow(
            r.map(([p, verdict]) => {
              const f = fork(b, p);
              if (verdict === null) {
                f.events.push(this.mkEvent(f, { rule: rule.ref, effect: 'not-taken', probability: p, detail: 'no numgen value maps here' }));
              } else this.applyVerdict(f, verdict, rule.ref, p);
              return f;
            }),
          );
        }
        case 'verdict':
        case 'jump':
        case 'goto':
          this.applyVerdict(b, s.kind === 'verdict' ? s.verdict : `${s.kind} ${s.target}`, rule.ref, undefined);
          return null;
        case 'reject': {
          const name = rejectName(s.with, this.family);
          if (s.with !== null && name === null) {
            this.stop(b, rule.ref, `reject with ${s.with} is not modelled`);
            return null;
          }
          this.event(b, { rule: rule.ref, effect: 'reject' });
          b.verdict = 'REJECT';
          b.reject = rejectEffect(name, this.family === 4 ? 'IPv4' : 'IPv6');
          b.decided = { rule: rule.ref };
          return null;
        }
        case 'dnat':
        case 'snat': {
          const base = b.base!;
          const t = parseNatTarget(s.to);
          if (base.type !== 'nat' || t === null || t.ip.family !== this.family) {
            this.stop(b, rule.ref, base.type !== 'nat' ? `${s.kind} outside a nat chain` : `${s.kind} to ${s.to} is not modelled`);
            return null;
          }
          if (s.kind === 'dnat') {
            const before = formatEndpoint(b.pkt.dst, b.pkt.dport);
            b.pkt.dst = t.ip;
            if (t.port !== null) b.pkt.dport = t.port;
            b.pkt.dnatDone = true;
            const to = formatEndpoint(b.pkt.dst, b.pkt.dport);
            b.pkt.dnat = { to, rule: rule.ref };
            this.event(b, { rule: rule.ref, effect: 'dnat', detail: `destination ${before} -> ${to}` });
          } else {
            b.pkt.snatDone = true;
            b.pkt.masquerade = { kind: 'SNAT', to: s.to, rule: rule.ref };
            this.event(b, { rule: rule.ref, effect: 'snat', detail: `source -> ${s.to}` });
          }
          this.endBase(b);
          return null;
        }
        case 'masquerade': {
          if (b.base!.type !== 'nat') {
            this.stop(b, rule.ref, 'masquerade outside a nat chain');
            return null;
          }
          b.pkt.snatDone = true;
          b.pkt.masquerade = { kind: 'MASQUERADE', to: null, rule: rule.ref };
          this.event(b, { rule: rule.ref, effect: 'masquerade' });
          this.endBase(b);
          return null;
        }
        case 'mangle': {
          if (s.target !== 'meta mark' && s.target !== 'ct mark') {
            this.stop(b, rule.ref, `${s.target} set is not modelled`);
            return null;
          }
          let v: number;
          if (typeof s.value === 'number') v = s.value;
          else {
            const src = s.value.key === 'meta mark' ? b.pkt.mark : s.value.key === 'ct mark' ? b.pkt.ctmark : null;
            if (src === null) {
              this.stop(b, rule.ref, `${s.target} set from ${s.value.text} is not modelled`);
              return null;
            }
            v = applyOps(src, s.value.ops);
          }
          if (s.target === 'meta mark') {
            const before = b.pkt.mark;
            b.pkt.mark = v;
            this.event(b, { rule: rule.ref, effect: 'mark', detail: `mark ${hex(before)} -> ${hex(v)}` });
          } else {
            const before = b.pkt.ctmark;
            b.pkt.ctmark = v;
            this.event(b, { rule: rule.ref, effect: 'mark', detail: `ct mark ${hex(before)} -> ${hex(v)}` });
          }
          continue;
        }
        case 'set-update': {
          const at = b.frames[b.frames.length - 1]!.table;
          const set = at.sets.get(s.set);
          if (!set) {
            this.stop(b, rule.ref, `set @${s.set} does not exist`);
            return null;
          }
          const key = s.key.map((k) => k.text).join(' . ');
          b.affinity.push({ name: s.set, op: s.op, seconds: set.timeout ?? null, key, matched: false, rule: rule.ref });
          this.event(b, { rule: rule.ref, effect: 'set-update', detail: `${s.op} @${s.set} { ${key} }` });
          continue;
        }
        case 'limit':
          this.usedLimit = true;
          continue;
        case 'ignored':
          continue;
        case 'notrack':
          b.pkt.untracked = true;
          this.event(b, { rule: rule.ref, effect: 'notrack' });
          continue;
        case 'unknown':
          this.stop(b, rule.ref, `${s.why}: ${s.text}`);
          return null;
      }
    }
    return null;
  }

  private mkEvent(b: Branch, e: Omit<NftTraceEvent, 'hook' | 'table' | 'chain' | 'priority'>): NftTraceEvent {
    const top = b.frames[b.frames.length - 1]!;
    return { hook: PHASE_HOOK[b.phase], table: top.table.label, chain: top.chain, priority: b.base!.priority, ...e };
  }

  /** Ends the base chain with accept (a NAT statement or `accept`). */
  private endBase(b: Branch): void {
    b.frames = [];
  }

  private applyVerdict(b: Branch, verdict: string, rule: NftRuleRef, p: Probability | undefined): void {
    const [v, target] = verdict.split(' ') as [string, string | undefined];
    const prob = p === undefined ? {} : { probability: p };
    switch (v) {
      case 'accept':
        this.event(b, { rule, effect: 'accept', ...prob });
        this.endBase(b);
        return;
      case 'drop':
        this.event(b, { rule, effect: 'drop', ...prob });
        b.verdict = 'DROP';
        b.decided = { rule };
        return;
      case 'continue':
        return;
      case 'return':
        this.returnFrom(b, rule);
        return;
      case 'jump':
      case 'goto': {
        const top = b.frames[b.frames.length - 1]!;
        if (target === undefined || !top.table.chains.has(target)) {
          this.stop(b, rule, `${v} to chain ${target ?? '(none)'}, which ${top.table.label} does not hold`);
          return;
        }
        this.event(b, { rule, effect: v, target, ...prob });
        if (v === 'goto') b.frames.pop();
        if (b.frames.length >= MAX_DEPTH) {
          this.stop(b, rule, `chains nest deeper than ${MAX_DEPTH}`);
          return;
        }
        b.frames.push({ table: top.table, chain: target, next: 0 });
        return;
      }
      default:
        this.stop(b, rule, `verdict ${verdict} is not modelled`);
    }
  }

  // ----- values and matches

  private iface(b: Branch, dir: 'in' | 'out'): Value {
    const hook = PHASE_HOOK[b.phase];
    const has = dir === 'in' ? hook === 'prerouting' || hook === 'input' || hook === 'forward' : hook === 'forward' || hook === 'output' || hook === 'postrouting';
    if (!has) return { kind: 'str', s: '' };
    const looped = b.phase === 'lo-prerouting' || b.phase === 'lo-input';
    if (looped) return { kind: 'str', s: 'lo' };
    if (dir === 'out' && (b.phase === 'output' || b.phase === 'postrouting-out') && this.isLocal(b.pkt.dst)) return { kind: 'str', s: 'lo' };
    const given = dir === 'in' ? this.packet.inInterface : this.packet.outInterface;
    if (given !== undefined) return { kind: 'str', s: given };
    const routed = dir === 'in' ? this.routeDev(this.src) : this.routeDev(b.pkt.dst);
    if (routed !== null) return { kind: 'str', s: routed };
    const known = b.given.find((g) => g.code === 'interface' && g.holds && g.key.startsWith(`${dir}=`));
    if (known) return { kind: 'str', s: known.key.slice(dir.length + 1) };
    return { kind: 'ask', code: 'interface', key: dir, what: dir === 'in' ? 'the packet arrives on' : 'the packet leaves by' };
  }

  private fibType(ip: Ip): string {
    if (this.isLocal(ip)) return 'local';
    if (isMulticast(ip)) return 'multicast';
    if (ip.family === 4 && ip.value === 0xffffffffn) return 'broadcast';
    this.usedUnicast = true;
    return 'unicast';
  }

  private value(b: Branch, sel: Selector): Value {
    const proto = this.packet.protocol;
    const fam = this.family;
    const v = ((): Value => {
      switch (sel.key) {
        case 'ip saddr':
          return fam === 4 ? { kind: 'ip', ip: this.src } : { kind: 'absent' };
        case 'ip daddr':
          return fam === 4 ? { kind: 'ip', ip: b.pkt.dst } : { kind: 'absent' };
        case 'ip6 saddr':
          return fam === 6 ? { kind: 'ip', ip: this.src } : { kind: 'absent' };
        case 'ip6 daddr':
          return fam === 6 ? { kind: 'ip', ip: b.pkt.dst } : { kind: 'absent' };
        case 'meta l4proto':
        case 'ct protocol':
          return { kind: 'str', s: proto };
        case 'ip protocol':
          return fam === 4 ? { kind: 'str', s: proto } : { kind: 'absent' };
        case 'ip6 nexthdr':
          return fam === 6 ? { kind: 'str', s: proto } : { kind: 'absent' };
        case 'th dport':
          return { kind: 'num', n: b.pkt.dport };
        case 'th sport':
          return this.packet.sport === undefined ? { kind: 'ask', code: 'sport', key: 'sport', what: 'the source port' } : { kind: 'num', n: this.packet.sport };
        case 'meta mark':
          return { kind: 'num', n: b.pkt.mark };
        case 'ct mark':
          return { kind: 'num', n: b.pkt.ctmark };
        case 'meta iifname':
        case 'meta iif':
          return this.iface(b, 'in');
        case 'meta oifname':
        case 'meta oif':
          return this.iface(b, 'out');
        case 'ct state':
          return { kind: 'flags', set: [b.pkt.untracked ? 'untracked' : (this.packet.ctState ?? 'new')] };
        case 'ct status':
          return { kind: 'flags', set: [...(b.pkt.dnat ? ['dnat'] : []), ...(b.pkt.masquerade ? ['snat'] : [])] };
        case 'ct direction':
          return { kind: 'str', s: 'original' };
        case 'meta nfproto':
          return { kind: 'str', s: fam === 4 ? 'ipv4' : 'ipv6' };
        case 'meta protocol':
          return { kind: 'str', s: fam === 4 ? 'ip' : 'ip6' };
        case 'meta pkttype':
          return { kind: 'str', s: isMulticast(b.pkt.dst) ? 'multicast' : 'host' };
        case 'fib daddr type':
        case 'fib daddr . iif type':
          return { kind: 'str', s: this.fibType(b.pkt.dst) };
        case 'fib saddr type':
        case 'fib saddr . iif type':
          return { kind: 'str', s: this.fibType(this.src) };
      }
      if (sel.key === 'tcp flags' || sel.key === 'tcp flags masked') {
        // The first packet of a new TCP connection is a bare SYN.
        if (proto !== 'tcp') return { kind: 'absent' };
        if ((this.packet.ctState ?? 'new') === 'new') return { kind: 'flags', set: ['syn'], exact: sel.key === 'tcp flags masked' };
      }
      const [l4, field] = sel.key.split(' ') as [string, string];
      if (['tcp', 'udp', 'sctp', 'udplite', 'dccp', 'icmp', 'icmpv6'].includes(l4)) {
        if (l4 !== proto) return { kind: 'absent' };
        if (field === 'dport') return { kind: 'num', n: b.pkt.dport };
        if (field === 'sport') return this.packet.sport === undefined ? { kind: 'ask', code: 'sport', key: 'sport', what: 'the source port' } : { kind: 'num', n: this.packet.sport };
      }
      return { kind: 'unmodelled', why: `${sel.text} is not modelled` };
    })();
    if (sel.ops.length > 0) {
      if (v.kind !== 'num') return v.kind === 'absent' ? v : { kind: 'unmodelled', why: `${sel.text} is not modelled` };
      return { kind: 'num', n: applyOps(v.n, sel.ops) };
    }
    return v;
  }

  private elementsOf(b: Branch, name: string): { set: { flags?: readonly string[]; timeout?: number; type: readonly string[] }; keys: readonly (readonly string[])[] ; values: readonly (string | null)[] } | null {
    const at = b.frames[b.frames.length - 1]!.table;
    const set = at.sets.get(name);
    if (!set) return null;
    const els = at.elements.get(name) ?? [];
    return { set, keys: els.map((e) => e.key), values: els.map((e) => (e.value ? e.value.join(' . ') : null)) };
  }

  private match(
    b: Branch,
    s: Extract<Stmt, { kind: 'match' }>,
    rule: NftRuleRef,
  ):
    | Tri
    | { readonly forks: readonly (readonly [Probability, boolean, NftTraceEvent | null])[] }
    | { readonly interfaces: { readonly dir: string; readonly names: readonly string[]; readonly what: string } } {
    if (s.left.length === 1 && s.left[0]!.mod !== undefined) {
      // `numgen random mod N == k` (or `{ … }`): the fraction of the N values that match.
      const sel = s.left[0]!;
      const items = s.right.kind === 'value' ? [s.right.parts] : s.right.kind === 'anon' ? s.right.items : null;
      if (items === null || s.op !== '==' && s.op !== '!=') return { unknown: `${s.text} is not modelled` };
      let hits = 0;
      for (let n = sel.offset!; n < sel.offset! + sel.mod!; n++) if (items.some((it) => literalMatches({ kind: 'num', n }, it[0]!, sel) === true)) hits++;
      if (s.op === '!=') hits = sel.mod! - hits;
      const p = { num: BigInt(hits), den: BigInt(sel.mod!) };
      const q = { num: BigInt(sel.mod! - hits), den: BigInt(sel.mod!) };
      this.usedNumgen = true;
      const out: [Probability, boolean, NftTraceEvent | null][] = [];
      if (hits > 0) out.push([mulProbability(PROBABILITY_ONE, p), true, null]);
      if (hits < sel.mod!) out.push([mulProbability(PROBABILITY_ONE, q), false, this.mkEvent(b, { rule, effect: 'not-taken', probability: mulProbability(PROBABILITY_ONE, q) })]);
      return { forks: out };
    }
    const values = s.left.map((sel) => this.value(b, sel));
    if (values.some((v) => v.kind === 'absent')) return false;
    const unmodelled = values.find((v) => v.kind === 'unmodelled');
    if (unmodelled && unmodelled.kind === 'unmodelled') {
      return { ask: { code: 'unmodelled', key: `match:${s.text}`, yes: `\`${s.text}\` holds (not modelled)`, no: `\`${s.text}\` does not hold (not modelled)` } };
    }
    const ask = values.find((v) => v.kind === 'ask');
    if (ask && ask.kind === 'ask' && ask.code === 'interface' && s.left.length === 1 && (s.op === '==' || s.op === '!=')) {
      // Fork on which interface it is: one branch per name the rule lists, one for none of them;
      // later rules then read the answer, so every branch stays consistent.
      const names = s.right.kind === 'value' ? [s.right.parts] : s.right.kind === 'anon' ? s.right.items : null;
      const lits = names?.map((n) => unquote(n[0]!));
      if (lits && lits.every((n) => !n.endsWith('*'))) {
        const dir = ask.key;
        // A packet from outside the node never arrives on lo (only the node's own packets loop back).
        const open = lits.filter((n) => !b.given.some((g) => g.key === `${dir}=${n}` && !g.holds) && !(dir === 'in' && n === 'lo'));
        if (open.length === 0) return s.op === '!=';
        return { interfaces: { dir, names: [...new Set(open)], what: ask.what } };
      }
    }
    if (ask && ask.kind === 'ask') {
      // One question per interface/port and literal: answers stay consistent across rules.
      const lit = s.right.kind === 'value' ? s.right.parts.map(unquote).join(' . ') : null;
      if (s.left.length === 1 && lit !== null && s.op !== '<' && s.op !== '>' && s.op !== '<=' && s.op !== '>=') {
        const key = `${ask.key}=${lit}`;
        const prior = b.given.find((g) => g.key === key);
        if (prior) return prior.holds === (s.op === '==');
        const eq = `${ask.what} ${lit}`;
        const yes = s.op === '==' ? eq : `not: ${eq}`;
        const no = s.op === '==' ? `not: ${eq}` : eq;
        return { ask: { code: ask.code, key: s.op === '==' ? key : `${key}!`, yes, no } };
      }
      return { ask: { code: ask.code, key: `match:${s.text}`, yes: `\`${s.text}\` holds (${ask.code === "interface" ? "the interface" : ask.what} is not given)`, no: `\`${s.text}\` does not hold (${ask.code === "interface" ? "the interface" : ask.what} is not given)` } };
    }
    const neg = s.op === '!=';
    const rhs: Rhs = s.right;
    if (s.op !== '==' && s.op !== '!=') {
      if (values.length !== 1 || values[0]!.kind !== 'num' || rhs.kind !== 'value') return { unknown: `${s.text} is not modelled` };
      const n = parseNumber(rhs.parts[0]!);
      if (n === null) return { unknown: `${s.text} is not modelled` };
      const x = values[0]!.n;
      return s.op === '<' ? x < n : s.op === '>' ? x > n : s.op === '<=' ? x <= n : x >= n;
    }
    let hit: boolean | null;
    if (rhs.kind === 'value') hit = keyMatches(values, rhs.parts, s.left);
    else if (rhs.kind === 'anon') {
      hit = false;
      for (const it of rhs.items) {
        const r = keyMatches(values, it, s.left);
        if (r === null) return { unknown: `${s.text}: cannot compare with ${it.join(' . ')}` };
        if (r) {
          hit = true;
          break;
        }
      }
    } else {
      const set = this.elementsOf(b, rhs.name);
      if (set === null) return { unknown: `set @${rhs.name} does not exist` };
      const dynamic = set.set.flags?.includes('dynamic') === true || set.set.flags?.includes('timeout') === true || set.set.timeout !== undefined;
      if (dynamic) {
        // A set the datapath fills (kube-proxy's session affinity): whether this source is in it
        // depends on earlier connections, so both answers are followed.
        this.usedAffinity = true;
        const keyText = s.left.map((l) => l.text).join(' . ');
        const key = `set:${rhs.name}:${keyText}`;
        const prior = b.given.find((g) => g.key === key);
        if (prior) return prior.holds !== neg;
        const what = `${keyText} ${s.left.length === 1 && values[0]!.kind === 'ip' ? `(${formatIp(values[0]!.ip)}) ` : ''}has an entry in @${rhs.name}`;
        return {
          ask: {
            code: rhs.name.startsWith('affinity-') ? 'affinity' : 'dynamic-set',
            key: neg ? `${key}!` : key,
            yes: neg ? `no entry: not (${what})` : `${what} (an earlier connection chose this endpoint)`,
            no: neg ? `${what}` : `no entry: not (${what})`,
          },
        };
      }
      hit = false;
      for (const k of set.keys) {
        const r = keyMatches(values, k, s.left);
        if (r === null) return { unknown: `${s.text}: cannot compare with element ${k.join(' . ')} of @${rhs.name}` };
        if (r) {
          hit = true;
          break;
        }
      }
    }
    if (hit === null) return { unknown: `${s.text} is not modelled` };
    return hit !== neg;
  }

  /** A vmap's branches: [probability, verdict or null when no element matches]. A string is why it cannot be evaluated. */
  private vmap(b: Branch, s: Extract<Stmt, { kind: 'vmap' }>): [Probability, string | null][] | string {
    let keys: readonly (readonly string[])[];
    let verdicts: readonly (string | null)[];
    if (s.named !== null) {
      const m = this.elementsOf(b, s.named);
      if (m === null) return `map @${s.named} does not exist`;
      keys = m.keys;
      verdicts = m.values;
    } else {
      keys = s.entries.map((e) => e.key);
      verdicts = s.entries.map((e) => e.verdict);
    }
    if (s.left.length === 1 && s.left[0]!.mod !== undefined) {
      const sel = s.left[0]!;
      if (sel.key !== 'numgen random') return `${sel.text} is not modelled`;
      const counts = new Map<number, number>();
      let none = 0;
      for (let n = sel.offset!; n < sel.offset! + sel.mod!; n++) {
        const i = keys.findIndex((k) => k.length === 1 && literalMatches({ kind: 'num', n }, k[0]!, sel) === true);
        if (i < 0) none++;
        else counts.set(i, (counts.get(i) ?? 0) + 1);
      }
      const den = BigInt(sel.mod!);
      const out: [Probability, string | null][] = [...counts.entries()].sort((a, b2) => a[0] - b2[0]).map(([i, c]) => [mulProbability(PROBABILITY_ONE, { num: BigInt(c), den }), verdicts[i] ?? null]);
      if (none > 0) out.push([mulProbability(PROBABILITY_ONE, { num: BigInt(none), den }), null]);
      return out;
    }
    const values = s.left.map((sel) => this.value(b, sel));
    if (values.some((v) => v.kind === 'absent')) return [[PROBABILITY_ONE, null]];
    const bad = values.find((v) => v.kind === 'ask' || v.kind === 'unmodelled');
    if (bad) return `the key ${s.left.map((l) => l.text).join(' . ')} needs ${bad.kind === 'ask' ? bad.what : 'a selector the tracer does not model'}`;
    for (let i = 0; i < keys.length; i++) {
      const r = keyMatches(values, keys[i]!, s.left);
      if (r === null) return `cannot compare ${s.left.map((l) => l.text).join(' . ')} with element ${keys[i]!.join(' . ')}`;
      if (r) return [[PROBABILITY_ONE, verdicts[i] ?? null]];
    }
    return [[PROBABILITY_ONE, null]];
  }
}

function isOne(p: Probability): boolean {
  return p.num === p.den;
}

function outcomeOf(b: Branch, w: Walker): NftTraceOutcome {
  const verdict = b.verdict ?? 'ACCEPT';
  const assumed = (dir: 'in' | 'out') => b.given.find((g) => g.code === 'interface' && g.holds && g.key.startsWith(`${dir}=`) && !g.key.endsWith('!'))?.key.slice(dir.length + 1) ?? null;
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
    inInterface: w.packet.inInterface ?? (w.from === 'node' ? null : w.routeDev(w.src)) ?? assumed('in'),
    outInterface: w.packet.outInterface ?? (verdict === 'ACCEPT' && b.delivery !== 'local' ? w.routeDev(b.pkt.dst) : null) ?? assumed('out'),
    mark: b.pkt.mark,
    affinity: b.affinity,
    events: b.events,
  };
}

function refKey(r: NftRuleRef): string {
  return `${r.table}/${r.chain}/${r.index}`;
}

function outcomeKey(o: NftTraceOutcome): string {
  const d = o.decidedBy;
  const decided = d === null ? '' : 'rule' in d ? refKey(d.rule) : 'policy' in d ? `policy ${d.policy.table}/${d.policy.chain}` : `routing ${d.routing}`;
  return [o.verdict, o.delivery ?? '', o.destination, o.masquerade ? refKey(o.masquerade.rule) : '', decided, ...o.given.map((g) => `${g.key}=${g.holds}`)].join('|');
}

function address(text: string, what: string): Ip {
  const ip = parseIp(text);
  if (!ip) throw new NftTraceRefusal(`${what} "${text}" is not an IP address`);
  return ip;
}

/**
 * Traces the first packet of a connection (or one in `packet.ctState`) through `rulesets` (every
 * table of a host, or kube-proxy's one). Throws NftTraceRefusal for a packet it cannot take.
 */
export function tracePacketNft(rulesets: NftRuleset | readonly NftRuleset[], packet: NftTracePacket, options: NftTraceOptions): NftTraceResult {
  const list: readonly NftRuleset[] = Array.isArray(rulesets) ? rulesets : [rulesets as NftRuleset];
  const src = address(packet.src, 'source');
  const dst = address(packet.dst, 'destination');
  if (src.family !== dst.family) throw new NftTraceRefusal(`source ${packet.src} and destination ${packet.dst} are of different IP families`);
  if (!Number.isInteger(packet.dport) || packet.dport < 1 || packet.dport > 65535) throw new NftTraceRefusal(`destination port ${packet.dport} is not in 1-65535`);
  if (packet.sport !== undefined && (!Number.isInteger(packet.sport) || packet.sport < 1 || packet.sport > 65535)) throw new NftTraceRefusal(`source port ${packet.sport} is not in 1-65535`);
  const local = options.localAddresses.map((a) => address(a, 'local address'));
  if (options.node) for (const a of nodeLocalAddresses(options.node)) local.push({ family: a.family === 'IPv4' ? 4 : 6, value: a.value });
  const tables = list.map(indexTable);
  const w = new Walker(tables, packet, src, src.family, local, options.maxBranches ?? 100000, options.node, options.from);
  const phase: Phase = options.from === 'node' ? 'output' : 'prerouting';
  const start: Branch = {
    probability: PROBABILITY_ONE,
    pkt: { dst, dport: packet.dport, mark: (packet.mark ?? 0) >>> 0, ctmark: 0, untracked: packet.ctState === 'untracked', dnat: null, masquerade: null, dnatDone: false, snatDone: false },
    events: [],
    given: [],
    affinity: [],
    phase,
    queue: [...w.baseChains(PHASE_HOOK[phase])],
    base: null,
    frames: [],
    resume: null,
    verdict: null,
    delivery: null,
    decided: null,
    reject: null,
    stoppedAt: null,
  };
  w.run(start);

  const outcomes: NftTraceOutcome[] = [];
  const byKey = new Map<string, number>();
  for (const b of w.finished) {
    if (isZeroProbability(b.probability)) continue;
    const o = outcomeOf(b, w);
    const k = outcomeKey(o);
    const at = byKey.get(k);
    if (at === undefined) {
      byKey.set(k, outcomes.length);
      outcomes.push(o);
    } else outcomes[at] = { ...outcomes[at]!, probability: addProbability(outcomes[at]!.probability, o.probability) };
  }

  const assumptions: NftTraceAssumption[] = [];
  if ((packet.ctState ?? 'new') === 'new') {
    assumptions.push({ code: 'new-connection', text: 'the packet is the first of a new connection (ct state new); nat chains see only such packets, later packets follow the same translation' });
  } else {
    assumptions.push({ code: 'ct-state', text: `the packet is in conntrack state ${packet.ctState}: nat chains are not consulted (an existing connection keeps the translation it has)` });
  }
  if (w.usedNumgen) assumptions.push({ code: 'numgen-uniform', text: 'numgen random mod N picks each of its N values with probability exactly 1/N' });
  if (w.usedAffinity) {
    assumptions.push({ code: 'affinity-both', text: 'a dynamic set (session affinity) may or may not hold an entry for this packet: both cases are traced, each under its condition' });
  }
  if (w.usedLimit) assumptions.push({ code: 'limit-fresh', text: "limit rate passes this packet: a limit's bucket starts full" });
  if (w.usedRoutes) {
    assumptions.push({ code: 'routes', text: "interfaces from the node's routes: out by the route to the destination, in by the route back to the source" });
  }
  if (w.usedUnicast) assumptions.push({ code: 'fib-unicast', text: 'fib … type: an address the node does not own is taken as unicast (not a subnet broadcast address)' });
  const baseChains = (['prerouting', 'input', 'forward', 'output', 'postrouting'] as const).flatMap((h) => w.baseChains(h).map(({ at: _at, ...rest }) => rest));
  return { packet, from: options.from, family: src.family === 4 ? 'IPv4' : 'IPv6', outcomes, baseChains, addedHooks: [], assumptions };
}
