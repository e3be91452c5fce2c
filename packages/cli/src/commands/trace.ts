import { Command, Option } from 'commander';
import { cidrContains, compile, explainTrace, KUBE_PROXY_HOOKS, parseCIDR, parseIP, type Snapshot } from '@svcrules/core';
import {
  formatAddress,
  nodeLocalAddresses,
  parseRuleset,
  tracePacket,
  TraceRefusal,
  type Ruleset,
  type TraceFrom,
  type TracePacket,
  type TraceProtocol,
  type TraceResult,
} from '@svcrules/iptables';
import type { CliIO } from '../io.js';
import { ExitError, UserError } from '../errors.js';
import { addCompileFlags, compileOptionsFrom, loadInputs, printDiagnostics, type CompileFlags } from '../compile-input.js';
import { traceJson, type TraceContext } from './trace-json.js';
import { traceText } from './trace-text.js';
import { loadNodeState, type NodeInputFlags } from './trace-node-input.js';

export { traceJson, type TraceJson } from './trace-json.js';
export { traceText } from './trace-text.js';

interface TraceFlags extends CompileFlags, NodeInputFlags {
  src: string;
  dst: string;
  from?: TraceFrom;
  rules?: string;
  json?: boolean;
  localAddress?: string[];
  inInterface?: string;
  outInterface?: string;
  sport?: string;
  mark?: string;
  hooks: boolean;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** `IP:PORT[/proto]`, IPv6 as `[IP]:PORT[/proto]`. */
export function parseDestination(text: string): { ip: string; port: number; protocol: TraceProtocol } {
  const m = /^(?:\[([^\]]+)\]|([^:/[\]]+)):([0-9]{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const ip = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || ip === undefined || !parseIP(ip) || port < 1 || port > 65535) {
    throw new UserError(`--dst: "${text}" is not IP:PORT[/tcp|udp|sctp] (IPv6 as [IP]:PORT)`, 2);
  }
  return { ip, port, protocol: (m[4]?.toLowerCase() ?? 'tcp') as TraceProtocol };
}

function checkIP(text: string, flag: string): string {
  if (!parseIP(text)) throw new UserError(`${flag}: "${text}" is not an IP address`, 2);
  return text;
}

function parseIntFlag(text: string | undefined, flag: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UserError(`${flag}: "${text}" is not a number in 0-${max}`, 2);
  return n;
}

async function readRules(io: CliIO, file: string): Promise<Ruleset> {
  let text: string;
  try {
    text = await io.readFile(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`--rules: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseRulesText(text, file === '-' ? '<stdin>' : file);
}

function parseRulesText(text: string, source: string): Ruleset {
  try {
    return parseRuleset(text, { source });
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

/** The node's own addresses from the snapshot: its Node's IP addresses. */
function nodeAddresses(snapshot: Snapshot | undefined, nodeName: string | null): string[] {
  if (!snapshot || nodeName === null) return [];
  const node = snapshot.nodes.find((n) => n.name === nodeName);
  return (node?.addresses ?? []).map((a) => a.address).filter((a) => parseIP(a) !== null);
}

/** A pod address: in the cluster or a node's pod CIDR, or a Pod's or endpoint's IP in the snapshot. */
function isPodAddress(snapshot: Snapshot | undefined, ip: string): boolean {
  const parsed = parseIP(ip);
  if (!snapshot || !parsed) return false;
  const cidrs = [...(snapshot.config?.clusterCIDRs ?? []), ...snapshot.nodes.flatMap((n) => n.podCIDRs)];
  if (cidrs.some((c) => {
    const net = parseCIDR(c);
    return net !== null && cidrContains(net, parsed);
  })) return true;
  if (snapshot.pods?.some((p) => p.podIPs.includes(ip))) return true;
  return snapshot.endpointSlices.some((s) => s.endpoints.some((e) => e.addresses[0] === ip));
}

// ---------------------------------------------------------------------------------------------

export function registerTrace(program: Command, io: CliIO): void {
  const cmd = new Command('trace')
    .description('follow a packet through the rules compiled from a snapshot (or any iptables-save/restore text) and explain where it goes')
    .argument('[file...]', 'snapshot files (compiled first; with --rules only used for node addresses and endpoint names)')
    .requiredOption('--src <ip>', 'source address of the packet')
    .requiredOption('--dst <ip:port[/proto]>', 'destination, e.g. 172.30.0.41:80, [fd00::1]:53/udp (default protocol tcp)')
    .addOption(
      new Option('--from <where>', 'where the packet starts: pod or external (nat PREROUTING first) or node (nat OUTPUT first); default: node for a local --src, pod for a pod address, else external').choices(['pod', 'node', 'external']),
    )
    .option('--rules <file>', 'trace this iptables-save or iptables-restore text instead of compiling (- = stdin)')
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
    const src = checkIP(flags.src, '--src');
    const dst = parseDestination(flags.dst);
    const srcFamily = parseIP(src)!.family;
    if (parseIP(dst.ip)!.family !== srcFamily) throw new UserError(`--src ${src} and --dst ${dst.ip} are of different IP families`, 2);
    const sport = parseIntFlag(flags.sport, '--sport', 65535);
    const mark = parseIntFlag(flags.mark, '--mark', 0xffffffff);
    const extraLocal = (flags.localAddress ?? []).map((a) => checkIP(a, '--local-address'));
    // The family follows the packet unless --family was given.
    const familyGiven = cmd.getOptionValueSource('family') === 'cli';
    const family = familyGiven ? flags.family : srcFamily === 'IPv6' ? 'ipv6' : 'ipv4';
    if ((family === 'ipv6') !== (srcFamily === 'IPv6')) throw new UserError(`--family ${family} does not match the packet's addresses (${srcFamily})`, 2);

    let ruleset: Ruleset;
    let snapshot: Snapshot | undefined;
    let node: string | null = null;
    let rulesFrom: string;
    const state = await loadNodeState(io, flags);
    if (files.length > 0) snapshot = await loadInputs(io, files, flags);
    const stateRules = state.rules?.[srcFamily];
    if (flags.rules !== undefined || (files.length === 0 && state.rules)) {
      if (flags.rules !== undefined) {
        ruleset = await readRules(io, flags.rules);
        rulesFrom = `read from ${flags.rules === '-' ? 'standard input' : flags.rules}`;
      } else {
        if (stateRules === null || stateRules === undefined) throw new UserError(`${flags.nodeState}: holds no ${srcFamily === 'IPv4' ? 'iptables-save' : 'ip6tables-save'} output for this ${srcFamily} packet`);
        ruleset = parseRulesText(stateRules, `${flags.nodeState}: ${srcFamily === 'IPv4' ? 'iptablesSave' : 'ip6tablesSave'}`);
        rulesFrom = `${srcFamily === 'IPv4' ? 'iptables-save' : 'ip6tables-save'} in ${flags.nodeState}`;
      }
      if (snapshot) node = flags.node ?? snapshot.config?.hostnameOverride ?? (snapshot.nodes.length === 1 ? snapshot.nodes[0]!.name : null);
    } else {
      if (!snapshot) throw new UserError('no input: give snapshot files to compile, --rules FILE, or --node-state FILE', 2);
      const result = compile(snapshot, compileOptionsFrom({ ...flags, family }));
      printDiagnostics(io, result.diagnostics);
      if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
      ruleset = result.ruleset;
      node = result.context.nodeName === '' ? null : result.context.nodeName;
      rulesFrom = `compiled from ${files.join(' ')}`;
    }
    const fromState = state.node ? nodeLocalAddresses(state.node).map(formatAddress).filter((a) => !/^127\./.test(a) && a !== '::1') : [];
    const local = [...new Set([...nodeAddresses(snapshot, node), ...(flags.interfaceAddress ?? []), ...(flags.nodeIp ?? []), ...extraLocal, ...fromState])];
    const isLocal = (ip: string) => local.includes(ip) || /^127\./.test(ip) || ip === '::1';
    const packet: TracePacket = {
      src,
      dst: dst.ip,
      protocol: dst.protocol,
      dport: dst.port,
      ...(sport !== undefined ? { sport } : {}),
      ...(flags.inInterface !== undefined ? { inInterface: flags.inInterface } : {}),
      ...(flags.outInterface !== undefined ? { outInterface: flags.outInterface } : {}),
      ...(mark !== undefined ? { mark } : {}),
    };
    let result: TraceResult;
    try {
      const from: TraceFrom = flags.from ?? (isLocal(src) ? 'node' : isPodAddress(snapshot, src) ? 'pod' : 'external');
      result = tracePacket(ruleset, packet, { from, localAddresses: local, ...(flags.hooks ? { hooks: KUBE_PROXY_HOOKS } : {}), ...(state.node ? { node: state.node } : {}) });
    } catch (err) {
      if (err instanceof TraceRefusal) throw new UserError(err.message);
      throw err;
    }
    const explanation = explainTrace(result, snapshot, { ruleset, localAddresses: local });
    const nodeState: TraceContext['nodeState'] = state.node
      ? { from: state.from!, interfaces: state.node.interfaces.length, routes: state.node.routes.length, ipsets: state.node.ipsets ? state.node.ipsets.size : null, sysctls: state.node.sysctls ?? {} }
      : null;
    const ctx: TraceContext = { rulesFrom, node, localAddresses: local, nodeState };
    if (flags.json) io.stdout(`${JSON.stringify(traceJson(result, explanation, ctx), null, 2)}\n`);
    else io.stdout(traceText(result, explanation, ctx));
  });
  program.addCommand(cmd);
}
