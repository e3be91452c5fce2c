/**
 * The rules `trace` follows a packet through: `--rules FILE`, the node's own rules in `--node-state`,
 * or the rules compiled from the snapshot files; in either mode: iptables rules, or nft tables
 * (`--mode nftables`, or a `--rules` file in one of nft's forms).
 */
import type { IPFamily, Snapshot } from '@svcrules/core';
import { parseRuleset, type Ruleset } from '@svcrules/iptables';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';
import { compileOptionsFrom, compileOrExit, type CompileFlags } from '../compile-input.js';
import type { NftRuleset } from '@svcrules/nftables';
import type { LoadedNodeState } from './trace-node-input.js';
import type { ProxyMode } from './compile-nft.js';
import { compileNftRules, isIptablesText, parseNftRules } from './trace-nft.js';

export interface RulesFlags extends CompileFlags {
  rules?: string;
  nodeState?: string;
  mode: ProxyMode;
}

/** iptables rules for the iptables tracer, or nft tables for the nftables one. */
export type TracedRules = { readonly mode: 'iptables'; readonly ruleset: Ruleset } | { readonly mode: 'nftables'; readonly rulesets: readonly NftRuleset[] };

export type TraceRules = TracedRules & {
  /** The node the rules are for, when known: it names the node's own addresses in the snapshot. */
  readonly node: string | null;
  /** For the header: where the rules came from. */
  readonly rulesFrom: string;
};

async function readRules(io: CliIO, file: string): Promise<TracedRules> {
  let text: string;
  try {
    text = await io.readFile(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`--rules: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const source = file === '-' ? '<stdin>' : file;
  // The text says which it is: iptables-save/restore, or nft's list text, JSON or Dump.
  return isIptablesText(text) ? { mode: 'iptables', ruleset: parseRulesText(text, source) } : { mode: 'nftables', rulesets: parseNftRules(text, source) };
}

function parseRulesText(text: string, source: string): Ruleset {
  try {
    return parseRuleset(text, { source });
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

/** The rules given as text (--rules, else the node state's save output), or undefined when there are none. */
async function givenRules(io: CliIO, flags: RulesFlags, state: LoadedNodeState, srcFamily: IPFamily): Promise<(TracedRules & { rulesFrom: string }) | undefined> {
  if (flags.rules !== undefined) {
    return { ...(await readRules(io, flags.rules)), rulesFrom: `read from ${flags.rules === '-' ? 'standard input' : flags.rules}` };
  }
  if (!state.rules) return undefined;
  if (flags.mode === 'nftables') {
    if (state.nftRuleset === null) throw new UserError(`${flags.nodeState}: holds no nft -j list ruleset output (captured by an older svcrules node-state, or nft failed: see its "missing")`);
    return { mode: 'nftables', rulesets: parseNftRules(state.nftRuleset, `${flags.nodeState}: nftRuleset`), rulesFrom: `nft -j list ruleset in ${flags.nodeState}` };
  }
  const stateRules = state.rules[srcFamily];
  const save = srcFamily === 'IPv4' ? 'iptables-save' : 'ip6tables-save';
  if (stateRules === null) throw new UserError(`${flags.nodeState}: holds no ${save} output for this ${srcFamily} packet`);
  return { mode: 'iptables', ruleset: parseRulesText(stateRules, `${flags.nodeState}: ${srcFamily === 'IPv4' ? 'iptablesSave' : 'ip6tablesSave'}`), rulesFrom: `${save} in ${flags.nodeState}` };
}

/**
 * The rules to trace: given ones (--rules, or the node state's when no snapshot file is given; the
 * snapshot then only names the node), else the snapshot compiled for `family`.
 */
export async function traceRules(
  io: CliIO,
  files: readonly string[],
  snapshot: Snapshot | undefined,
  flags: RulesFlags,
  state: LoadedNodeState,
  srcFamily: IPFamily,
  family: 'ipv4' | 'ipv6',
): Promise<TraceRules> {
  const given = flags.rules !== undefined || files.length === 0 ? await givenRules(io, flags, state, srcFamily) : undefined;
  if (given) {
    const node = snapshot ? (flags.node ?? snapshot.config?.hostnameOverride ?? (snapshot.nodes.length === 1 ? snapshot.nodes[0]!.name : null)) : null;
    return { ...given, node };
  }
  if (!snapshot) throw new UserError('no input: give snapshot files to compile, --rules FILE, or --node-state FILE', 2);
  if (flags.mode === 'nftables') {
    const { ruleset, node } = compileNftRules(io, snapshot, flags, family);
    return { mode: 'nftables', rulesets: [ruleset], node, rulesFrom: `compiled (nftables mode) from ${files.join(' ')}` };
  }
  const result = compileOrExit(io, snapshot, compileOptionsFrom({ ...flags, family }));
  return { mode: 'iptables', ruleset: result.ruleset, node: result.context.nodeName === '' ? null : result.context.nodeName, rulesFrom: `compiled from ${files.join(' ')}` };
}
