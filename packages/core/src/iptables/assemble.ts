import type { AppendCommand, ChainDecl, Command, Ruleset, Table } from '@svcrules/iptables';
import { chainDecl, vettedChainDecl } from '@svcrules/iptables';
import type { CompileContext } from '../context.js';
import { NAT_FIXED_CHAINS, filterPrologue, natPrologue, nodePortsTail } from './fixed-rules.js';
import type { ServicePortRules } from './service-rules.js';
import { KUBE_SERVICES } from '../kube-proxy/index.js';

/**
 * Rulesets from the fixed rules and the service ports' rules, in kube-proxy's buffer order
 * (proxier.go `syncProxyRules`: filter chains, filter rules, nat chains, nat rules, the node-ports
 * jump last). `assembleRuleset` is the one full assembly (compile() and the incremental compiler's
 * full syncs); the partial payloads of the incremental compiler are assembled beside it.
 */

/** One service port's rules, with their chain declarations made once, when a ruleset needs them. */
export class RenderedPort {
  private decls: readonly ChainDecl[] | undefined;
  /** The previous version's declarations this one may take (see reuseDecls), until asked for. */
  private reused: { readonly decls: readonly ChainDecl[]; readonly names: readonly string[]; readonly sepChainStart: number; readonly at: Int32Array } | undefined;
  constructor(readonly rules: ServicePortRules) {}
  /** The port's nat rules in the top-level chains (KUBE-SERVICES, KUBE-NODEPORTS): they come first. */
  get natTop(): readonly AppendCommand[] {
    return this.rules.natRules.slice(0, this.rules.topEnd);
  }
  get chainDecls(): readonly ChainDecl[] {
    if (this.decls) return this.decls;
    const r = this.rules;
    const make = r.vetted ? vettedChainDecl : chainDecl;
    const reused = this.reused;
    this.reused = undefined;
    if (!reused) return (this.decls = r.natChains.map(make));
    const { decls: was, names, sepChainStart, at } = reused;
    const decls = new Array<ChainDecl>(r.natChains.length);
    for (let i = 0; i < r.sepChainStart; i++) decls[i] = make(r.natChains[i]!);
    for (let i = 0; i < at.length; i++) {
      const k = r.sepChainStart + i;
      const j = sepChainStart + at[i]!;
      decls[k] = at[i]! >= 0 && names[j] === r.natChains[k] ? was[j]! : make(r.natChains[k]!);
    }
    return (this.decls = decls);
  }
  /**
   * Lets this port take the declarations of the SEP chains its rules reused from `prev`
   * (service-rules.ts RuleReuse) once asked for them, if `prev` had made its own: a one-endpoint
   * change of a 100k-endpoint port then declares one new chain, not 100k. Only made declarations
   * are held (not `prev`'s rules), and a version whose declarations were never made passes none on.
   */
  reuseDecls(prev: RenderedPort): void {
    const r = this.rules;
    const at = r.reuse?.reusedAt;
    if (!prev.decls || !at || r.reuse?.from !== prev.rules || r.vetted !== prev.rules.vetted || r.natChains.length !== r.sepChainStart + at.length) return;
    this.reused = { decls: prev.decls, names: prev.rules.natChains, sepChainStart: prev.rules.sepChainStart, at };
  }
}

/** `:CHAIN` + `-X CHAIN` for each stale chain (declaring flushes it, so it can be deleted). */
function deleteStale(stale: readonly string[], natChains: ChainDecl[], natCommands: Command[]) {
  for (const ch of stale) {
    natChains.push(chainDecl(ch));
    natCommands.push({ kind: 'delete', chain: ch });
  }
}

/** The full ruleset of a sync, with `stale` service chains declared and deleted. */
export function assembleRuleset(ctx: CompileContext, ports: readonly RenderedPort[], stale: readonly string[]): Ruleset {
  const filter = filterPrologue(ctx);
  const filterCommands: Command[] = [...filter.head];
  const natChains: ChainDecl[] = NAT_FIXED_CHAINS.map(chainDecl);
  const prologue = natPrologue(ctx);
  // Sized once: ~430k rules at 10k Services are otherwise copied each time the array grows.
  let size = prologue.length;
  for (const port of ports) size += port.rules.natRules.length;
  const natCommands: Command[] = new Array<Command>(size);
  let n = 0;
  for (const r of prologue) natCommands[n++] = r;
  for (const port of ports) {
    for (const r of port.rules.filterRules) filterCommands.push(r);
    for (const d of port.chainDecls) natChains.push(d);
    for (const r of port.rules.natRules) natCommands[n++] = r;
  }
  for (const r of filter.tail) filterCommands.push(r);
  deleteStale(stale, natChains, natCommands);
  for (const r of nodePortsTail(ctx)) natCommands.push(r);
  return {
    tables: [
      { name: 'filter', chains: filter.chains.map(chainDecl), commands: filterCommands },
      { name: 'nat', chains: natChains, commands: natCommands },
    ],
  };
}

/** Every service port's rules in the top-level chains, flattened in order, with each port's nat offset. */
export interface TopLevelRules {
  readonly filter: readonly AppendCommand[];
  readonly nat: readonly AppendCommand[];
  /** `nat` index of the first top-level nat rule of port i; `natOffsets[ports.length]` = nat.length. */
  readonly natOffsets: Int32Array;
}

export function topLevelRules(ports: readonly RenderedPort[]): TopLevelRules {
  const filter: AppendCommand[] = [];
  const nat: AppendCommand[] = [];
  const natOffsets = new Int32Array(ports.length + 1);
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i]!;
    natOffsets[i] = nat.length;
    for (const r of port.rules.filterRules) filter.push(r);
    for (const r of port.natTop) nat.push(r);
  }
  natOffsets[ports.length] = nat.length;
  return { filter, nat, natOffsets };
}

/**
 * The partial payload kube-proxy writes (every top-level chain, the changed ports' chains), in
 * its buffer order, from the cached top-level rules: unchanged ports' rules are copied as slices,
 * a changed port (index into `ports`, ascending) contributes all its nat rules (its top-level ones
 * are equal to the cached ones).
 */
export function assemblePartial(ctx: CompileContext, ports: readonly RenderedPort[], top: TopLevelRules, changed: readonly number[], stale: readonly string[]): Ruleset {
  const filter = filterPrologue(ctx);
  const prologue = natPrologue(ctx);
  const tail = nodePortsTail(ctx);
  // Both lists sized once and written by index: a changed giant port is 300k rules and 100k chains.
  let rules = prologue.length + top.nat.length + stale.length + tail.length;
  let chains = NAT_FIXED_CHAINS.length + stale.length;
  for (const i of changed) {
    rules += ports[i]!.rules.natRules.length - (top.natOffsets[i + 1]! - top.natOffsets[i]!);
    chains += ports[i]!.rules.natChains.length;
  }
  const natCommands = new Array<Command>(rules);
  const natChains = new Array<ChainDecl>(chains);
  let r = 0;
  let c = 0;
  const copy = (src: readonly Command[], from: number, to: number) => {
    for (let k = from; k < to; k++) natCommands[r++] = src[k]!;
  };
  for (const ch of NAT_FIXED_CHAINS) natChains[c++] = chainDecl(ch);
  copy(prologue, 0, prologue.length);
  let from = 0;
  for (const i of changed) {
    const port = ports[i]!;
    copy(top.nat, from, top.natOffsets[i]!);
    copy(port.rules.natRules, 0, port.rules.natRules.length);
    from = top.natOffsets[i + 1]!;
    for (const d of port.chainDecls) natChains[c++] = d;
  }
  copy(top.nat, from, top.nat.length);
  // As deleteStale: `:CHAIN` + `-X CHAIN`.
  for (const ch of stale) {
    natChains[c++] = chainDecl(ch);
    natCommands[r++] = { kind: 'delete', chain: ch };
  }
  copy(tail, 0, tail.length);
  if (r !== rules || c !== chains) throw new Error(`assemblePartial: ${r} of ${rules} rules, ${c} of ${chains} chains written`);
  return {
    tables: [
      { name: 'filter', chains: filter.chains.map(chainDecl), commands: ([] as Command[]).concat(filter.head, top.filter, filter.tail) },
      { name: 'nat', chains: natChains, commands: natCommands },
    ],
  };
}

/** Of one port, the chains to write and their rules (the others stay as the kernel has them). */
export interface ChainWrite {
  readonly chains: readonly string[];
  readonly rules: readonly AppendCommand[];
}

/**
 * The minimal partial payload: the chains in `writes`, `-X` for stale ones, and only the top-level
 * chains in `top` (`table/chain`), each rewritten whole. Tables with nothing to write are left out.
 */
export function assembleMinimal(ctx: CompileContext, ports: readonly RenderedPort[], writes: ReadonlyMap<RenderedPort, ChainWrite>, stale: readonly string[], top: ReadonlySet<string>): Ruleset {
  const filterChains: ChainDecl[] = [];
  const filterCommands: Command[] = [];
  const natChains: ChainDecl[] = [];
  const natCommands: Command[] = [];
  const filterTop = filterPrologue(ctx).chains.filter((ch) => top.has(`filter/${ch}`));
  const natTop = NAT_FIXED_CHAINS.filter((ch) => top.has(`nat/${ch}`));
  for (const ch of filterTop) filterChains.push(chainDecl(ch));
  for (const ch of natTop) natChains.push(chainDecl(ch));
  const wantFilter = new Set(filterTop);
  const wantNat = new Set(natTop);
  for (const port of ports) {
    if (wantFilter.size > 0) for (const r of port.rules.filterRules) if (wantFilter.has(r.chain)) filterCommands.push(r);
    if (wantNat.size > 0) for (const r of port.natTop) if (wantNat.has(r.chain)) natCommands.push(r);
    const w = writes.get(port);
    if (w) {
      for (const ch of w.chains) natChains.push(chainDecl(ch));
      // Grown once, then written by index: a written ladder is 100k rules.
      let k = natCommands.length;
      natCommands.length += w.rules.length;
      for (const r of w.rules) natCommands[k++] = r;
    }
  }
  deleteStale(stale, natChains, natCommands);
  if (wantNat.has(KUBE_SERVICES)) for (const r of nodePortsTail(ctx)) natCommands.push(r);
  const tables: Table[] = [];
  if (filterChains.length > 0) tables.push({ name: 'filter', chains: filterChains, commands: filterCommands });
  if (natChains.length > 0) tables.push({ name: 'nat', chains: natChains, commands: natCommands });
  return { tables };
}
