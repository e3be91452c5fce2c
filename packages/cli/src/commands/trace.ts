/**
 * `svcrules trace`: follows one packet through the rules (compiled from a snapshot, or given) and prints
 * where it goes, as text (trace-text.ts) or JSON (trace-json.ts). This module holds the options and the
 * order of the steps; the packet (trace-packet.ts), the rules (trace-rules.ts) and the node state
 * (trace-node-input.ts) are read beside it.
 */
import { Command, Option } from 'commander';
import { explainTrace, KUBE_PROXY_HOOKS, type Snapshot, type TraceExplanation } from '@svcrules/core';
import { tracePacket, TraceRefusal, type NodeState, type Ruleset, type TraceFrom, type TracePacket, type TraceResult } from '@svcrules/iptables';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';
import { addCompileFlags, loadInputs } from '../compile-input.js';
import { traceJson, type AnyTraceResult, type TraceContext } from './trace-json.js';
import { explainNftTrace, followNft } from './trace-nft.js';
import { traceText } from './trace-text.js';
import { loadNodeState, type NodeInputFlags } from './trace-node-input.js';
import { localAddressesOf, packetFrom, startOf, type PacketFlags } from './trace-packet.js';
import { traceRules, type RulesFlags } from './trace-rules.js';

export { traceJson, type TraceJson } from './trace-json.js';
export { traceText } from './trace-text.js';
export { parseDestination } from './trace-packet.js';

interface TraceFlags extends RulesFlags, NodeInputFlags, PacketFlags {
  from?: TraceFrom;
  json?: boolean;
  hooks: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** The one call into the iptables tracer; its refusals (a packet it cannot follow) are the user's to fix. */
function follow(ruleset: Ruleset, packet: TracePacket, from: TraceFrom, localAddresses: readonly string[], hooks: boolean, node: NodeState | undefined): TraceResult {
  try {
    return tracePacket(ruleset, packet, { from, localAddresses, ...(hooks ? { hooks: KUBE_PROXY_HOOKS } : {}), ...(node ? { node } : {}) });
  } catch (err) {
    if (err instanceof TraceRefusal) throw new UserError(err.message);
    throw err;
  }
}

export function registerTrace(program: Command, io: CliIO): void {
  const cmd = new Command('trace')
    .description('follow a packet through the rules compiled from a snapshot (or any iptables or nft ruleset text) and explain where it goes')
    .argument('[file...]', 'snapshot files (compiled first; with --rules only used for node addresses and endpoint names)')
    .requiredOption('--src <ip>', 'source address of the packet')
    .requiredOption('--dst <ip:port[/proto]>', 'destination, e.g. 172.30.0.41:80, [fd00::1]:53/udp (default protocol tcp)')
    .addOption(
      new Option('--from <where>', 'where the packet starts: pod or external (nat PREROUTING first) or node (nat OUTPUT first); default: node for a local --src, pod for a pod address, else external').choices(['pod', 'node', 'external']),
    )
    .addOption(new Option('--mode <mode>', "the proxy mode of the compiled rules (and of --node-state's): iptables, or kube-proxy's nftables table").choices(['iptables', 'nftables']).default('iptables'))
    .option('--rules <file>', 'trace this iptables-save/iptables-restore text, or nft list ruleset text, nft -j list ruleset JSON or a knftables dump (told apart by their text), instead of compiling (- = stdin)')
    .option('--local-address <ip>', "an address the node owns (addrtype LOCAL, local delivery); repeatable; added to the Node's addresses", collect)
    .option('--in-interface <name>', 'the interface the packet arrives on (needed only by rules matching -i)')
    .option('--out-interface <name>', 'the interface the packet leaves by (needed only by rules matching -o)')
    .option('--sport <port>', 'the source port (needed only by rules matching it)')
    .option('--mark <value>', "the packet's initial mark (default 0)")
    .option('--node-state <file>', "the node's rules, addresses, routes, ipsets and sysctls as `svcrules node-state` captured them")
    .option('--ip-addr <file>', "the node's `ip -j address show` output: local addresses and bridge ports")
    .option('--ip-route <file>', "the node's `ip -j route show table all` output (and/or `ip -6 -j ...`); repeatable", collect)
    .option('--ipsets <file>', "the node's `ipset save` output: decides -m set matches")
    .option('--no-hooks', "do not add kube-proxy's jump rules from the built-in chains when they are missing")
    .option('--json', 'print the trace as JSON (documented in packages/cli/README-trace.md)');
  addCompileFlags(cmd).action(async (files: string[], flags: TraceFlags) => {
    const { packet, srcFamily, family, extraLocal } = packetFrom(flags, cmd.getOptionValueSource('family') === 'cli');
    const state = await loadNodeState(io, flags);
    const snapshot: Snapshot | undefined = files.length > 0 ? await loadInputs(io, files, flags) : undefined;
    const rules = await traceRules(io, files, snapshot, flags, state, srcFamily, family);
    const { node, rulesFrom } = rules;
    const local = localAddressesOf(snapshot, node, [...(flags.interfaceAddress ?? []), ...(flags.nodeIp ?? []), ...extraLocal], state.node);
    const from = flags.from ?? startOf(packet.src, local, snapshot);
    let result: AnyTraceResult;
    let explanation: TraceExplanation;
    if (rules.mode === 'nftables') {
      result = followNft(rules.rulesets, packet, from, local, state.node);
      explanation = explainNftTrace(result, snapshot);
    } else {
      result = follow(rules.ruleset, packet, from, local, flags.hooks, state.node);
      explanation = explainTrace(result, snapshot, { ruleset: rules.ruleset, localAddresses: local });
    }
    const nodeState: TraceContext['nodeState'] = state.node
      ? { from: state.from!, interfaces: state.node.interfaces.length, routes: state.node.routes.length, ipsets: state.node.ipsets ? state.node.ipsets.size : null, sysctls: state.node.sysctls ?? {} }
      : null;
    const ctx: TraceContext = { rulesFrom, node, localAddresses: local, nodeState };
    if (flags.json) io.stdout(`${JSON.stringify(traceJson(result, explanation, ctx), null, 2)}\n`);
    else io.stdout(traceText(result, explanation, ctx));
  });
  program.addCommand(cmd);
}
