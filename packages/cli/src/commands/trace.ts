import { Command, Option } from 'commander';
import { cidrContains, compile, explainTrace, parseCIDR, parseIP, type Snapshot, type TraceExplanation } from '@svcrules/core';
import {
  formatExact,
  formatPercent,
  parseRuleset,
  probabilityValue,
  tracePacket,
  TraceRefusal,
  type Probability,
  type Ruleset,
  type RuleRef,
  type TraceEvent,
  type TraceFrom,
  type TraceOutcome,
  type TracePacket,
  type TraceProtocol,
  type TraceResult,
} from '@svcrules/iptables';
import type { CliIO } from '../io.js';
import { ExitError, UserError } from '../errors.js';
import { addCompileFlags, compileOptionsFrom, loadInputs, printDiagnostics, type CompileFlags } from '../compile-input.js';

interface TraceFlags extends CompileFlags {
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
  try {
    return parseRuleset(text, { source: file === '-' ? '<stdin>' : file });
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
// Output. The JSON shape is documented in packages/cli/README-trace.md; change it only with `version`.

export interface ProbabilityJson {
  readonly exact: string;
  readonly value: number;
  readonly percent: string;
}

export interface RuleJson {
  readonly table: string;
  readonly chain: string;
  readonly index: number;
  readonly text: string;
  readonly comment: string | null;
}

export interface EventJson {
  readonly hook: string;
  readonly table: string;
  readonly chain: string;
  readonly rule: RuleJson | null;
  readonly effect: string;
  readonly target?: string;
  readonly probability?: ProbabilityJson;
  readonly detail?: string;
}

export interface OutcomeJson {
  readonly destination: string;
  readonly verdict: 'ACCEPT' | 'DROP' | 'REJECT';
  readonly delivery: 'local' | 'forward' | 'output' | null;
  readonly probability: ProbabilityJson;
  readonly dnat: { readonly to: string; readonly rule: RuleJson } | null;
  readonly masquerade: { readonly kind: 'MASQUERADE' | 'SNAT'; readonly to: string | null; readonly rule: RuleJson; readonly markedBy: RuleJson | null } | null;
  readonly decidedBy: { readonly rule: RuleJson } | { readonly policy: { readonly table: string; readonly chain: string; readonly policy: string } } | null;
  readonly mark: string;
  readonly affinity: readonly { readonly name: string; readonly op: string; readonly seconds: number | null; readonly matched: boolean; readonly rule: RuleJson }[];
  readonly path: readonly EventJson[];
  readonly reasons: readonly string[];
}

export interface TraceJson {
  readonly version: 1;
  readonly packet: TracePacket;
  readonly from: TraceFrom;
  readonly family: 'IPv4' | 'IPv6';
  readonly localAddresses: readonly string[];
  readonly rules: { readonly from: string; readonly node: string | null; readonly addedHooks: readonly string[] };
  readonly outcomes: readonly OutcomeJson[];
  readonly summary: readonly string[];
  readonly assumptions: readonly { readonly code: string; readonly text: string }[];
}

function probabilityJson(p: Probability): ProbabilityJson {
  return { exact: formatExact(p), value: probabilityValue(p), percent: formatPercent(p) };
}

function ruleJson(r: RuleRef): RuleJson {
  return { table: r.table, chain: r.chain, index: r.index, text: r.text, comment: r.comment };
}

/** The rule that set the masquerade mark: the last mark change before POSTROUTING. */
function markedBy(o: TraceOutcome): RuleRef | null {
  let by: RuleRef | null = null;
  for (const e of o.events) {
    if (e.hook === 'POSTROUTING') break;
    if (e.effect === 'jump' && e.target === 'KUBE-MARK-MASQ' && e.rule) by = e.rule;
    else if (e.effect === 'mark' && e.rule && e.chain !== 'KUBE-MARK-MASQ') by = e.rule;
  }
  return by;
}

/** The rule in nat POSTROUTING that let the packet through without SNAT (KUBE-POSTROUTING's RETURN), if any. */
function notMasqueradedBy(o: TraceOutcome): RuleRef | null {
  const ret = [...o.events].reverse().find((e) => e.hook === 'POSTROUTING' && e.table === 'nat' && e.effect === 'return' && e.rule);
  return ret?.rule ?? null;
}

function eventJson(e: TraceEvent): EventJson {
  return {
    hook: e.hook,
    table: e.table,
    chain: e.chain,
    rule: e.rule ? ruleJson(e.rule) : null,
    effect: e.effect,
    ...(e.target !== undefined ? { target: e.target } : {}),
    ...(e.probability ? { probability: probabilityJson(e.probability) } : {}),
    ...(e.detail !== undefined ? { detail: e.detail } : {}),
  };
}

interface TraceContext {
  readonly rulesFrom: string;
  readonly node: string | null;
  readonly localAddresses: readonly string[];
}

export function traceJson(result: TraceResult, explanation: TraceExplanation, ctx: TraceContext): TraceJson {
  return {
    version: 1,
    packet: result.packet,
    from: result.from,
    family: result.family,
    localAddresses: ctx.localAddresses,
    rules: { from: ctx.rulesFrom, node: ctx.node, addedHooks: result.addedHooks.map((h) => `${h.table} ${h.chain} -> ${h.target}`) },
    outcomes: result.outcomes.map((o, i) => ({
      destination: o.destination,
      verdict: o.verdict,
      delivery: o.delivery,
      probability: probabilityJson(o.probability),
      dnat: o.dnat ? { to: o.dnat.to, rule: ruleJson(o.dnat.rule) } : null,
      masquerade: o.masquerade ? { kind: o.masquerade.kind, to: o.masquerade.to, rule: ruleJson(o.masquerade.rule), markedBy: markedBy(o) ? ruleJson(markedBy(o)!) : null } : null,
      decidedBy: o.decidedBy === null ? null : 'rule' in o.decidedBy ? { rule: ruleJson(o.decidedBy.rule) } : { policy: o.decidedBy.policy },
      mark: `0x${o.mark.toString(16)}`,
      affinity: o.affinity.map((a) => ({ name: a.name, op: a.op, seconds: a.seconds, matched: a.matched, rule: ruleJson(a.rule) })),
      path: o.events.map(eventJson),
      reasons: explanation.outcomes[i] ?? [],
    })),
    summary: explanation.summary,
    assumptions: result.assumptions,
  };
}

function outcomeLabel(o: TraceOutcome): string {
  if (o.verdict !== 'ACCEPT') return o.verdict;
  if (o.dnat) return o.destination;
  return `ACCEPT ${o.destination}`;
}

function deliveryText(o: TraceOutcome): string {
  if (o.verdict !== 'ACCEPT') return '';
  return o.delivery === 'local' ? 'delivered on the node' : o.delivery === 'forward' ? 'forwarded' : 'sent by the node';
}

function masqueradeText(o: TraceOutcome): string {
  if (o.verdict !== 'ACCEPT') return 'masquerade: n/a (the packet is not delivered)';
  if (o.masquerade) {
    const m = markedBy(o);
    return `masquerade: yes, by ${o.masquerade.rule.text}${m ? `\n    (mark set by ${m.text})` : ''}`;
  }
  const ret = notMasqueradedBy(o);
  return `masquerade: no${ret ? `, by ${ret.text}` : ''}`;
}

function sameEvent(a: TraceEvent, b: TraceEvent): boolean {
  return a.table === b.table && a.chain === b.chain && a.effect === b.effect && a.rule?.index === b.rule?.index && a.probability === b.probability;
}

/** The matched rules, under a `table chain` header whenever the chain changes. */
function printPath(lines: string[], events: readonly TraceEvent[]): void {
  let header = '';
  for (const e of events) {
    const h = `${e.table} ${e.chain}`;
    if (h !== header) {
      lines.push(`  ${h}`);
      header = h;
    }
    const notes: string[] = [];
    if (e.probability) notes.push(`${e.effect === 'not-taken' ? 'not taken' : 'taken'} with ${formatPercent(e.probability)}`);
    if (e.detail !== undefined && e.effect !== 'policy') notes.push(e.detail);
    lines.push(`    ${e.rule ? e.rule.text : e.detail}${notes.length > 0 ? `   [${notes.join('; ')}]` : ''}`);
  }
}

export function traceText(result: TraceResult, explanation: TraceExplanation, ctx: TraceContext): string {
  const p = result.packet;
  const lines: string[] = [];
  const dst = p.dst.includes(':') ? `[${p.dst}]:${p.dport}` : `${p.dst}:${p.dport}`;
  const fromText = result.from === 'node' ? 'from the node itself (nat OUTPUT first)' : `from ${result.from === 'pod' ? 'a pod' : 'outside the node'} (nat PREROUTING first)`;
  lines.push(`packet  ${p.protocol} ${p.src} -> ${dst}, ${fromText}`);
  lines.push(`rules   ${ctx.rulesFrom}${ctx.node ? ` for node ${ctx.node}` : ''}${result.addedHooks.length > 0 ? ` (+ ${result.addedHooks.length} kube-proxy hook rules)` : ''}`);
  lines.push(`local   ${[...ctx.localAddresses, 'loopback'].join(', ')}`);
  const n = result.outcomes.length;
  result.outcomes.forEach((o, i) => {
    lines.push('');
    lines.push(`outcome ${i + 1}/${n}  ${outcomeLabel(o)}  ${formatPercent(o.probability)}${deliveryText(o) ? `  ${deliveryText(o)}` : ''}`);
    // Later outcomes share a prefix with an earlier one: print only where they part.
    let shared = 0;
    let with_ = -1;
    for (let j = 0; j < i; j++) {
      const other = result.outcomes[j]!.events;
      let k = 0;
      while (k < other.length && k < o.events.length && sameEvent(other[k]!, o.events[k]!)) k++;
      if (k > shared) {
        shared = k;
        with_ = j;
      }
    }
    // Keep the event that splits (the statistic rule taken here) in view.
    while (shared > 0 && o.events[shared - 1]!.effect === 'policy') shared--;
    if (with_ >= 0 && shared > 1) {
      const last = o.events[shared - 1]!;
      lines.push(`  (same as outcome ${with_ + 1} through ${last.table} ${last.chain}${last.rule ? ` rule ${last.rule.index}` : ''}, then:)`);
      printPath(lines, o.events.slice(shared));
    } else printPath(lines, o.events);
    lines.push(`  ${masqueradeText(o)}`);
    const why = explanation.outcomes[i] ?? [];
    if (why.length > 0) {
      lines.push('  why:');
      for (const w of why) lines.push(`    ${w}`);
    }
  });
  lines.push('');
  lines.push('result');
  const width = Math.max(...result.outcomes.map((o) => outcomeLabel(o).length));
  for (const o of result.outcomes) {
    const masq = o.verdict !== 'ACCEPT' ? '' : o.masquerade ? '  masquerade: yes' : '  masquerade: no';
    lines.push(`  ${outcomeLabel(o).padEnd(width)}  ${formatPercent(o.probability).padStart(6)}${masq}`);
  }
  for (const s of explanation.summary) lines.push(`  ${s}`);
  lines.push('assumptions');
  for (const a of result.assumptions) lines.push(`  - ${a.text}`);
  return `${lines.join('\n')}\n`;
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
    if (files.length > 0) snapshot = await loadInputs(io, files, flags);
    if (flags.rules !== undefined) {
      ruleset = await readRules(io, flags.rules);
      rulesFrom = `read from ${flags.rules === '-' ? 'standard input' : flags.rules}`;
      if (snapshot) node = flags.node ?? snapshot.config?.hostnameOverride ?? (snapshot.nodes.length === 1 ? snapshot.nodes[0]!.name : null);
    } else {
      if (!snapshot) throw new UserError('no input: give snapshot files to compile, or --rules FILE', 2);
      const result = compile(snapshot, compileOptionsFrom({ ...flags, family }));
      printDiagnostics(io, result.diagnostics);
      if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
      ruleset = result.ruleset;
      node = result.context.nodeName === '' ? null : result.context.nodeName;
      rulesFrom = `compiled from ${files.join(' ')}`;
    }
    const local = [...new Set([...nodeAddresses(snapshot, node), ...(flags.interfaceAddress ?? []), ...(flags.nodeIp ?? []), ...extraLocal])];
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
      result = tracePacket(ruleset, packet, { from, localAddresses: local, addKubeProxyHooks: flags.hooks });
    } catch (err) {
      if (err instanceof TraceRefusal) throw new UserError(err.message);
      throw err;
    }
    const explanation = explainTrace(result, snapshot);
    const ctx: TraceContext = { rulesFrom, node, localAddresses: local };
    if (flags.json) io.stdout(`${JSON.stringify(traceJson(result, explanation, ctx), null, 2)}\n`);
    else io.stdout(traceText(result, explanation, ctx));
  });
  program.addCommand(cmd);
}
