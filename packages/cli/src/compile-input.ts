import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { CompileOptions, CompileResult, Diagnostic, IPFamily, Origin, Snapshot } from '@svcrules/core';
import { compile, formatDiagnostic, parseIP } from '@svcrules/core';
import { parseRuleset } from '@svcrules/iptables';
import { loadSnapshot } from '@svcrules/snapshot';
import type { LoadResult } from '@svcrules/snapshot';
import type { CliIO } from './io.js';
import { ExitError, UserError } from './errors.js';
import { decodeInput } from './decode.js';

/** The flags every command that compiles a snapshot shares. */
export interface CompileFlags {
  family: 'ipv4' | 'ipv6';
  node?: string;
  existing?: string;
  randomFully: boolean;
  nfacct: boolean;
  tcpBeLiberal?: boolean;
  masqueradeMark?: string;
  interfaceAddress?: string[];
  nodeIp?: string[];
  skipInvalid?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  endpointsAsMirrored?: boolean;
}

/** The flags that decide how the input is read and what is said about it. */
export type InputFlags = Pick<CompileFlags, 'skipInvalid' | 'verbose' | 'quiet' | 'endpointsAsMirrored'>;

/** The flags of `addSnapshotFlags`: the snapshot's point of view, which no host fact decides. */
export type SnapshotFlags = InputFlags & Pick<CompileFlags, 'node' | 'masqueradeMark' | 'interfaceAddress' | 'nodeIp'>;

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Flags about the snapshot's point of view, shared by every command that compiles (host facts aside). */
export function addSnapshotFlags(cmd: Command): Command {
  cmd
    .option('--node <name>', 'the node the rules are for (default: hostnameOverride, else the only Node); lower-cased, as kube-proxy does', nodeName)
    .option('--masquerade-mark <hex>', "the mark text instead of one derived from masqueradeBit (kube-proxy's test fake: 0x4000)")
    .option('--interface-address <ip>', "a local interface address, for per-IP nodePortAddresses (repeatable; default: the Node's addresses and loopback)", collect)
    .option('--node-ip <ip>', "the node IP (repeatable, one per family; default: the Node's InternalIP)", collect)
    .option('--skip-invalid', 'compile everything valid and report invalid objects as warnings');
  return addInputFlags(cmd);
}

/** How the input is read and reported: shared by every command that reads a snapshot. */
export function addInputFlags(cmd: Command): Command {
  return cmd
    .option(
      '--endpoints-as-mirrored',
      'read v1 Endpoints only as the EndpointSlice mirroring controller does (selectorless Services without the skip-mirror label); by default Endpoints stand in for the EndpointSlices an input lacks',
    )
    .option('--verbose', 'say why each ignored object and each Service without rules is left out, and print statistics, on stderr')
    .option('--quiet', 'print no notes on stderr (warnings and errors still)');
}

/** kube-proxy's GetHostname: trimmed and lower-cased (node names are DNS subdomains). */
function nodeName(value: string): string {
  const name = value.trim().toLowerCase();
  if (name === '') throw new InvalidArgumentError('expected a node name');
  return name;
}

/** `--family ipv4|ipv6`, in any case (`IPv6`, as Kubernetes writes it). */
export function familyOption(description: string, families: readonly string[]): Option {
  return new Option('--family <family>', description)
    .choices(families)
    .default(families[0])
    .argParser((v: string) => {
      const f = v.toLowerCase();
      if (!families.includes(f)) throw new InvalidArgumentError(`Allowed choices are ${families.join(', ')}.`);
      return f;
    });
}

/** The snapshot flags plus the host facts kube-proxy probes at run time, given by hand. */
export function addCompileFlags(cmd: Command): Command {
  cmd
    .addOption(familyOption('IP family of the rules (dual-stack is two runs)', ['ipv4', 'ipv6']))
    .option('--existing <file>', "an iptables-save dump of the host: its stale service chains get '-X'")
    .option('--no-random-fully', 'the host iptables lacks --random-fully (< 1.6.2)')
    .option('--no-nfacct', 'the host has no nfacct counters (no -m nfacct matches)')
    .option('--tcp-be-liberal', 'net.netfilter.nf_conntrack_tcp_be_liberal is set (no INVALID drop rule)');
  return addSnapshotFlags(cmd);
}

function checkIPs(values: string[] | undefined, flag: string): string[] | undefined {
  if (!values) return undefined;
  return values.map((v) => {
    const ip = parseIP(v);
    if (!ip) throw new UserError(`${flag}: "${v}" is not an IP address`, 2);
    return v;
  });
}

/** A node has one node IP per family: a second of one family is a mistake, not a choice. */
function checkNodeIPs(values: string[] | undefined): string[] | undefined {
  const ips = checkIPs(values, '--node-ip');
  const seen = new Map<string, string>();
  for (const ip of ips ?? []) {
    const family = parseIP(ip)!.family;
    const first = seen.get(family);
    if (first !== undefined) throw new UserError(`--node-ip: "${first}" and "${ip}" are both ${family}; give at most one node IP per family`, 2);
    seen.set(family, ip);
  }
  return ips;
}

/** The compile options of the snapshot flags, checked (a bad value is a usage error, exit 2). */
export function snapshotOptionsFrom(flags: SnapshotFlags): CompileOptions {
  if (flags.masqueradeMark !== undefined && !/^0x[0-9a-fA-F]{1,8}$/.test(flags.masqueradeMark)) {
    throw new UserError(`--masquerade-mark: "${flags.masqueradeMark}" is not a hex mark like 0x4000`, 2);
  }
  const interfaceAddresses = checkIPs(flags.interfaceAddress, '--interface-address');
  const nodeIPs = checkNodeIPs(flags.nodeIp);
  return {
    ...(flags.node !== undefined ? { nodeName: flags.node } : {}),
    ...(flags.masqueradeMark !== undefined ? { masqueradeMark: flags.masqueradeMark } : {}),
    ...(interfaceAddresses ? { interfaceAddresses } : {}),
    ...(nodeIPs ? { nodeIPs } : {}),
  };
}

/** The compile options of `addCompileFlags`: the host facts as given by hand, and the snapshot flags. */
export function compileOptionsFrom(flags: CompileFlags, existingNatChains?: string[]): CompileOptions & { readonly family: IPFamily } {
  return {
    family: flags.family === 'ipv6' ? 'IPv6' : 'IPv4',
    randomFully: flags.randomFully,
    nfacct: flags.nfacct,
    tcpBeLiberal: flags.tcpBeLiberal === true,
    ...snapshotOptionsFrom(flags),
    ...(existingNatChains ? { existingNatChains } : {}),
  };
}

/** Compiles, prints the diagnostics, and ends the command (exit 1) when one is an error. */
export function compileOrExit(io: CliIO, snapshot: Snapshot, options: CompileOptions): CompileResult {
  const result = compile(snapshot, options);
  printDiagnostics(io, result.diagnostics);
  if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
  return result;
}

async function readInput(io: CliIO, file: string, flags: Pick<InputFlags, 'quiet'> = {}): Promise<string> {
  const name = file === '-' ? 'standard input' : file;
  try {
    if (!io.readBytes) return await io.readFile(file);
    const decoded = decodeInput(await io.readBytes(file));
    if ('error' in decoded) throw new UserError(`${name}: ${decoded.error}`);
    if (decoded.note) note(io, flags, `${name}: ${decoded.note}`);
    return decoded.text;
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as { code?: string }).code;
    throw new UserError(`cannot read ${name}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
}

export function printDiagnostics(io: CliIO, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
}

/** A note: what svcrules did on the user's behalf that is not a problem. `--quiet` silences it. */
export function note(io: CliIO, flags: Pick<InputFlags, 'quiet'>, text: string): void {
  if (flags.quiet !== true) io.stderr(`svcrules: note: ${text}\n`);
}

export const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** `file:line:column: ` before a message about an object, or nothing for an object without a place. */
export const placeOf = (o: Origin | undefined): string => (o ? `${o.file}:${o.line}:${o.column}: ` : '');

/**
 * Reads and validates the snapshot files. Invalid objects stop the command (exit 1, nothing on stdout)
 * unless --skip-invalid, which reports them as warnings and goes on without them. Says which v1
 * Endpoints stood in for missing EndpointSlices (a note; per Service under --verbose) and, under
 * --verbose, why each ignored object was left out.
 */
export async function readSnapshot(io: CliIO, files: readonly string[], flags: InputFlags): Promise<LoadResult> {
  if (files.length === 0) throw new UserError('no input files (give one or more files, or - for standard input)', 2);
  const sources = [];
  for (const file of files) sources.push({ name: file === '-' ? '<stdin>' : file, text: await readInput(io, file, flags) });
  const result = loadSnapshot(sources, { skipInvalid: flags.skipInvalid === true, endpointsAsMirrored: flags.endpointsAsMirrored === true });
  printDiagnostics(io, result.diagnostics);
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) {
    io.stderr(`svcrules: ${errors} error${errors === 1 ? '' : 's'} in the input; nothing compiled (--skip-invalid compiles the valid objects)\n`);
    throw new ExitError(1);
  }
  if (result.standIns.length > 0) {
    note(
      io,
      flags,
      `${plural(result.standIns.length, 'Service has', 'Services have')} no EndpointSlices in the input: ${result.standIns.length === 1 ? 'its' : 'their'} v1 Endpoints stand in, as the EndpointSlice controller publishes the same addresses ` +
        `(${flags.verbose ? '' : '--verbose lists them; '}--endpoints-as-mirrored reads Endpoints only as the mirroring controller does)`,
    );
  }
  if (flags.verbose) {
    for (const s of result.standIns) {
      io.stderr(`${placeOf(s.origin)}Endpoints ${s.object} stands in for the ${s.families.join(' and ')} EndpointSlices of its Service (${s.ready} ready, ${s.notReady} not ready; mirroring would skip it: ${s.because})\n`);
    }
    for (const i of result.ignored) io.stderr(`${placeOf(i.origin)}ignored ${i.kind} ${i.object}: ${i.reason}\n`);
  }
  return result;
}

/** `readSnapshot` for commands that only need the snapshot; the ignored objects are counted in a note. */
export async function loadInputs(io: CliIO, files: readonly string[], flags: InputFlags): Promise<Snapshot> {
  const result = await readSnapshot(io, files, flags);
  if (!flags.verbose && result.ignored.length > 0) note(io, flags, `${plural(result.ignored.length, 'object was', 'objects were')} ignored (--verbose says why)`);
  return result.snapshot;
}

/** Nat chain names of an iptables-save dump, for stale-chain deletion. */
export async function existingNatChains(io: CliIO, file: string | undefined): Promise<string[] | undefined> {
  if (file === undefined) return undefined;
  const text = await readInput(io, file);
  try {
    const dump = parseRuleset(text, { source: file });
    return dump.tables.filter((t) => t.name === 'nat').flatMap((t) => t.chains.map((c) => c.name));
  } catch (err) {
    throw new UserError(`--existing: ${(err as Error).message}`);
  }
}
