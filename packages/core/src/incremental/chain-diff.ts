import { sameRule, sameRules } from '@svcrules/iptables';
import type { AppendCommand } from '@svcrules/iptables';
import type { ChainWrite } from '../iptables/assemble.js';
import { TOP_LEVEL_FILTER, TOP_LEVEL_NAT } from '../iptables/fixed-rules.js';
import type { ServicePortRules } from '../iptables/service-rules.js';
import { portKey } from '../endpoints.js';
import type { PortPiece, ServiceEntry } from './compiled-state.js';

/**
 * How two versions of a Service's compiled rules differ: whether their nat chains are equal, which
 * chains to write and which went, and in which top-level chains their rules differ. Equality is by
 * content, so a Service recompiled to the same rules is not "changed".
 */

/** The Service's nat chains, in order. */
export function* chainsOf(e: ServiceEntry | undefined): Generator<string> {
  for (const p of e?.ports ?? []) yield* p.rules.natChains;
}

/**
 * Whether two versions of a Service have the same nat chains (the list, and every rule in them: the
 * ports' rules after their top-level ones), walking the ports' arrays without concatenating them.
 */
export function sameChains(a: ServiceEntry | undefined, b: ServiceEntry | undefined): boolean {
  if (a === b) return true;
  return sameFlat(
    (a?.ports ?? []).map((p) => [p.rules.natChains, 0] as const),
    (b?.ports ?? []).map((p) => [p.rules.natChains, 0] as const),
    (x, y) => x === y,
  ) &&
    sameFlat(
      (a?.ports ?? []).map((p) => [p.rules.natRules, p.rules.topEnd] as const),
      (b?.ports ?? []).map((p) => [p.rules.natRules, p.rules.topEnd] as const),
      sameRule,
    );
}

/** Whether the concatenations of `a`'s and `b`'s `[array, from]` slices are equal under `eq`. */
function sameFlat<T>(a: readonly (readonly [readonly T[], number])[], b: readonly (readonly [readonly T[], number])[], eq: (x: T, y: T) => boolean): boolean {
  let ai = 0;
  let bi = 0;
  let ax = a[0]?.[1] ?? 0;
  let bx = b[0]?.[1] ?? 0;
  for (;;) {
    while (ai < a.length && ax >= a[ai]![0].length) if (++ai < a.length) ax = a[ai]![1];
    while (bi < b.length && bx >= b[bi]![0].length) if (++bi < b.length) bx = b[bi]![1];
    if (ai === a.length || bi === b.length) return ai === a.length && bi === b.length;
    if (!eq(a[ai]![0][ax++]!, b[bi]![0][bx++]!)) return false;
  }
}

export interface ChainDiff {
  readonly write: ReadonlyMap<PortPiece, ChainWrite>;
  readonly removed: readonly string[];
}

/**
 * The chains that differ between two versions of a Service: `write` (new or changed, with their
 * rules, per port of `next`) and `removed` (in `old` only). Ports are matched by name and protocol;
 * within a port, the SEP chains are matched by endpoint along the two sorted endpoint lists, so a
 * one-endpoint change in a 100k-endpoint Service costs one walk, not two 100k-entry sets.
 */
export function chainDiff(old: ServiceEntry | undefined, next: ServiceEntry | undefined): ChainDiff {
  const write = new Map<PortPiece, ChainWrite>();
  const removed: string[] = [];
  const olds = new Map((old?.ports ?? []).map((p) => [portKey(p.info.name, p.info.protocol), p]));
  for (const b of next?.ports ?? []) {
    const k = portKey(b.info.name, b.info.protocol);
    const a = olds.get(k);
    olds.delete(k);
    const w = pieceDiff(a, b, removed);
    if (w.chains.length > 0) write.set(b, w);
  }
  for (const a of olds.values()) for (const ch of a.rules.natChains) removed.push(ch);
  return { write, removed };
}

/** Per version of a port's rules, its head runs: made when it is diffed as the new version, read when it is the old one. */
const headRuns = new WeakMap<ServicePortRules, Map<string, number[]>>();

/**
 * Head chains (EXT/FW/SVC/SVL) of a port, in declaration order, each with where its rules are: runs
 * `[from, to)` of `natRules` (a chain's rules may be split: the SVC chain's masquerade rule comes
 * before the EXT chain's rules, its ladder after them). A 100k-rule ladder is one run, not copied.
 */
function headChains(r: ServicePortRules): Map<string, number[]> {
  let m = headRuns.get(r);
  if (m) return m;
  headRuns.set(r, (m = new Map()));
  for (let i = 0; i < r.sepChainStart; i++) m.set(r.natChains[i]!, []);
  for (let i = r.topEnd; i < r.sepStart; ) {
    const chain = r.natRules[i]!.chain;
    let end = i + 1;
    while (end < r.sepStart && r.natRules[end]!.chain === chain) end++;
    const runs = m.get(chain);
    if (runs) runs.push(i, end);
    else m.set(chain, [i, end]);
    i = end;
  }
  return m;
}

/** Whether the rules of `a` in runs `ra` equal those of `b` in runs `rb`, in order. */
function sameRuns(a: readonly AppendCommand[], ra: readonly number[], b: readonly AppendCommand[], rb: readonly number[]): boolean {
  const count = (runs: readonly number[]) => runs.reduce((n, x, k) => n + (k % 2 === 0 ? -x : x), 0);
  if (count(ra) !== count(rb)) return false;
  let ka = 0;
  let kb = 0;
  let i = ra[0] ?? 0;
  let j = rb[0] ?? 0;
  while (ka < ra.length && kb < rb.length) {
    if (!sameRule(a[i]!, b[j]!)) return false;
    if (++i === ra[ka + 1]) i = ra[(ka += 2)] ?? 0;
    if (++j === rb[kb + 1]) j = rb[(kb += 2)] ?? 0;
  }
  return true;
}

function pieceDiff(a: PortPiece | undefined, b: PortPiece, removed: string[]): { chains: string[]; rules: AppendCommand[] } {
  const rb = b.rules;
  const ra = a?.rules;
  const aligned = ra ? alignedDiff(ra, rb, removed) : undefined;
  if (aligned) return aligned;
  // No alignment to go by: everything of b is written, whatever of a is not in b goes.
  const chains = rb.natChains.slice();
  const rules = rb.natRules.slice(rb.topEnd);
  if (ra) {
    const keep = new Set(rb.natChains);
    for (const ch of ra.natChains) if (!keep.has(ch)) removed.push(ch);
  }
  return { chains, rules };
}

/**
 * pieceDiff along the two ports' endpoint lists (both sorted, as endpoint lists are). Were they not,
 * the walk would pair fewer endpoints: more chains written and listed as removed, and a chain that
 * is written is never deleted (see sync), so the result would be larger, never wrong.
 */
function alignedDiff(ra: ServicePortRules, rb: ServicePortRules, removed: string[]): { chains: string[]; rules: AppendCommand[] } | undefined {
  const ea = ra.reuse?.endpoints;
  const eb = rb.reuse?.endpoints;
  if (!ea || !eb) return undefined;
  // SEP chains first (they may reveal that the lists are not sorted).
  const sepChains: string[] = [];
  const sepRules: AppendCommand[] = [];
  const sepRemoved: string[] = [];
  const sa = ra.natChains;
  const sb = rb.natChains;
  const writeSep = (j: number) => {
    sepChains.push(sb[rb.sepChainStart + j]!);
    sepRules.push(rb.natRules[rb.sepStart + 2 * j]!, rb.natRules[rb.sepStart + 2 * j + 1]!);
  };
  const reusedAt = rb.reuse?.from === ra ? rb.reuse.reusedAt : undefined;
  if (reusedAt) {
    // b was built from a (service-rules.ts RuleReuse): a reused SEP is a's, name and rules alike.
    const kept = new Uint8Array(ea.length);
    for (let j = 0; j < reusedAt.length; j++) {
      const i = reusedAt[j]!;
      if (i >= 0) kept[i] = 1;
      else writeSep(j);
    }
    for (let i = 0; i < ea.length; i++) if (kept[i] === 0) sepRemoved.push(sa[ra.sepChainStart + i]!);
    // Used: let a go (a later diff of the same pair takes the walk below, with the same result).
    rb.reuse!.from = rb.reuse!.reusedAt = undefined;
  }
  let i = reusedAt ? ea.length : 0;
  let j = reusedAt ? eb.length : 0;
  while (i < ea.length || j < eb.length) {
    const x = ea[i];
    const y = eb[j];
    if (x !== undefined && x === y) {
      const nameA = sa[ra.sepChainStart + i]!;
      const nameB = sb[rb.sepChainStart + j]!;
      if (nameA !== nameB) sepRemoved.push(nameA);
      const pa = ra.sepStart + 2 * i;
      const pb = rb.sepStart + 2 * j;
      if (nameA !== nameB || !sameRule(ra.natRules[pa]!, rb.natRules[pb]!) || !sameRule(ra.natRules[pa + 1]!, rb.natRules[pb + 1]!)) writeSep(j);
      i++;
      j++;
    } else if (y === undefined || (x !== undefined && x < y)) sepRemoved.push(sa[ra.sepChainStart + i++]!);
    else writeSep(j++);
  }
  // Head chains (EXT/FW/SVC/SVL): compared chain by chain over their runs of rules.
  const ha = headChains(ra);
  const hb = headChains(rb);
  const headA = new Set(sa.slice(0, ra.sepChainStart));
  const chains: string[] = [];
  // The runs of the chains written, then sorted: their rules in b's order.
  const written: [number, number][] = [];
  for (const [ch, runs] of hb) {
    const was = ha.get(ch);
    if (was !== undefined && headA.has(ch) && sameRuns(ra.natRules, was, rb.natRules, runs)) continue;
    chains.push(ch);
    for (let k = 0; k < runs.length; k += 2) written.push([runs[k]!, runs[k + 1]!]);
  }
  written.sort((x, y) => x[0] - y[0]);
  for (const ch of headA) if (!hb.has(ch)) removed.push(ch);
  for (const ch of sepRemoved) removed.push(ch);
  for (const ch of sepChains) chains.push(ch);
  if (written.length === 0) return { chains, rules: sepRules };
  // One copy of the written runs (a 100k-rule ladder among them), not a slice of each then a concat.
  let total = sepRules.length;
  for (const [from, to] of written) total += to - from;
  const rules = new Array<AppendCommand>(total);
  let k = 0;
  for (const [from, to] of written) for (let i = from; i < to; i++) rules[k++] = rb.natRules[i]!;
  for (const r of sepRules) rules[k++] = r;
  return { chains, rules };
}

/** A Service's rules in one top-level chain, in order. */
function topRules(e: ServiceEntry | undefined, table: 'filter' | 'nat', chain: string): AppendCommand[] {
  const out: AppendCommand[] = [];
  for (const p of e?.ports ?? []) for (const r of table === 'filter' ? p.rules.filterRules : p.natTop) if (r.chain === chain) out.push(r);
  return out;
}


/** `table/chain` of each top-level chain in which a Service's rules differ between `before` and `entryOf`. */
export function changedTopChains(before: ReadonlyMap<string, ServiceEntry | undefined>, entryOf: (key: string) => ServiceEntry | undefined): Set<string> {
  const out = new Set<string>();
  for (const [k, old] of before) {
    const next = entryOf(k);
    if (old === next) continue;
    for (const chain of TOP_LEVEL_FILTER) {
      if (!sameRules(topRules(old, 'filter', chain), topRules(next, 'filter', chain))) out.add(`filter/${chain}`);
    }
    for (const chain of TOP_LEVEL_NAT) {
      if (!sameRules(topRules(old, 'nat', chain), topRules(next, 'nat', chain))) out.add(`nat/${chain}`);
    }
  }
  return out;
}
