import type { Command } from 'commander';
import { Option } from 'commander';
import type { CompileOptions, Diagnostic, Snapshot } from '@svcrules/core';
import { formatDiagnostic, parseIP } from '@svcrules/core';
import { parseRuleset } from '@svcrules/iptables';
import { loadSnapshot } from '@svcrules/snapshot';
import type { CliIO } from './io.js';
import { ExitError, UserError } from './errors.js';

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
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Flags about the snapshot's point of view, shared by every command that compiles (host facts aside). */
export function addSnapshotFlags(cmd: Command): Command {
  return cmd
    .option('--node <name>', 'the node the rules are for (default: hostnameOverride, else the only Node)')
    .option('--masquerade-mark <hex>', "the mark text instead of one derived from masqueradeBit (kube-proxy's test fake: 0x4000)")
    .option('--interface-address <ip>', "a local interface address, for per-IP nodePortAddresses (repeatable; default: the Node's addresses and loopback)", collect)
    .option('--node-ip <ip>', "the node IP (repeatable, one per family; default: the Node's InternalIP)", collect)
    .option('--skip-invalid', 'compile everything valid and report invalid objects as warnings')
    .option('--verbose', 'report ignored objects and statistics on stderr');
}

/** The snapshot flags plus the host facts kube-proxy probes at run time, given by hand. */
export function addCompileFlags(cmd: Command): Command {
  cmd
    .addOption(new Option('--family <family>', 'IP family of the rules (dual-stack is two runs)').choices(['ipv4', 'ipv6']).default('ipv4'))
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

export function compileOptionsFrom(flags: CompileFlags, existingNatChains?: string[]): CompileOptions {
  if (flags.masqueradeMark !== undefined && !/^0x[0-9a-fA-F]{1,8}$/.test(flags.masqueradeMark)) {
    throw new UserError(`--masquerade-mark: "${flags.masqueradeMark}" is not a hex mark like 0x4000`, 2);
  }
  const interfaceAddresses = checkIPs(flags.interfaceAddress, '--interface-address');
  const nodeIPs = checkIPs(flags.nodeIp, '--node-ip');
  return {
    family: flags.family === 'ipv6' ? 'IPv6' : 'IPv4',
    randomFully: flags.randomFully,
    nfacct: flags.nfacct,
    tcpBeLiberal: flags.tcpBeLiberal === true,
    ...(flags.node !== undefined ? { nodeName: flags.node } : {}),
    ...(flags.masqueradeMark !== undefined ? { masqueradeMark: flags.masqueradeMark } : {}),
    ...(interfaceAddresses ? { interfaceAddresses } : {}),
    ...(nodeIPs ? { nodeIPs } : {}),
    ...(existingNatChains ? { existingNatChains } : {}),
  };
}

async function readInput(io: CliIO, file: string): Promise<string> {
  try {
    return await io.readFile(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`cannot read ${file === '-' ? 'standard input' : file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
}

export function printDiagnostics(io: CliIO, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
}

/**
 * Reads and validates the snapshot files. Invalid objects stop the command (exit 1, nothing on stdout)
 * unless --skip-invalid, which reports them as warnings and goes on without them.
 */
export async function loadInputs(io: CliIO, files: readonly string[], flags: Pick<CompileFlags, 'skipInvalid' | 'verbose'>): Promise<Snapshot> {
  if (files.length === 0) throw new UserError('no input files (give one or more files, or - for standard input)', 2);
  const sources = [];
  for (const file of files) sources.push({ name: file === '-' ? '<stdin>' : file, text: await readInput(io, file) });
  const result = loadSnapshot(sources, { skipInvalid: flags.skipInvalid === true });
  printDiagnostics(io, result.diagnostics);
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0) {
    io.stderr(`svcrules: ${errors} error${errors === 1 ? '' : 's'} in the input; nothing compiled (--skip-invalid compiles the valid objects)\n`);
    throw new ExitError(1);
  }
  if (flags.verbose) {
    for (const i of result.ignored) io.stderr(`${i.origin.file}:${i.origin.line}:${i.origin.column}: ignored ${i.kind} ${i.object}\n`);
  }
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
