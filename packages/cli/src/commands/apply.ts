import { Command, Option } from 'commander';
import { compile, type Snapshot } from '@svcrules/core';
import type { Ruleset } from '@svcrules/iptables';
import {
  CommandNotFoundError,
  compileOptionsFromFacts,
  DEFAULT_STATE_DIR,
  createApplier,
  createExecNetfilter,
  deleteStaleUdpFlows,
  describeFlow,
  ensureNfacctCounters,
  explainHost,
  KubeProxyPresentError,
  NetfilterCommandError,
  probeHost,
  RestoreError,
  spawnRunner,
  XtablesLockError,
  type ApplyResult,
  type Backend,
  type Family,
  type HostFacts,
  type Netfilter,
  waitFlagsFor,
} from '@svcrules/applier';
import type { CliIO } from '../io.js';
import { ExitError, UserError } from '../errors.js';
import { addSnapshotFlags, compileOptionsFrom, familyOption, loadInputs, printDiagnostics, type CompileFlags } from '../compile-input.js';
import { refuseEmpty } from '../report.js';
import { forgetState, openState, saveState, statePathFor } from '../apply-state.js';

/** Flags shared by `apply` and `diff`: where the host is, and the compile flags the host does not decide. */
export interface HostFlags {
  family: 'ipv4' | 'ipv6' | 'both';
  netns?: string;
  backend: Backend;
  wait: string;
  node?: string;
  masqueradeMark?: string;
  interfaceAddress?: string[];
  nodeIp?: string[];
  skipInvalid?: boolean;
  verbose?: boolean;
  allowEmpty?: boolean;
}

export function addHostFlags(cmd: Command): Command {
  cmd
    .addOption(familyOption('IP family to work on', ['ipv4', 'ipv6', 'both']))
    .option('--netns <name>', 'work inside this network namespace (ip netns exec NAME ...)')
    .addOption(new Option('--backend <backend>', 'iptables binaries to run: the default iptables, or iptables-nft / iptables-legacy').choices(['default', 'nft', 'legacy']).default('default'))
    .option('--wait <seconds>', 'how long to wait for the xtables lock', '5')
    .option('--allow-empty', 'go on with an input without any Service (which deletes every service chain)');
  return addSnapshotFlags(cmd);
}

export function familiesOf(flags: HostFlags): Family[] {
  return flags.family === 'both' ? ['ipv4', 'ipv6'] : [flags.family];
}

export interface HostContext {
  readonly family: Family;
  readonly netfilter: Netfilter;
  readonly facts: HostFacts;
}

/** Probes one family of the host (or namespace): the facts feed the compile options and the wait flags. */
export async function openHost(io: CliIO, flags: HostFlags, family: Family): Promise<HostContext> {
  const wait = Number(flags.wait);
  if (!Number.isInteger(wait) || wait < 0 || wait > 3600) throw new UserError(`--wait: "${flags.wait}" is not a number of seconds`, 2);
  if (flags.netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(flags.netns)) throw new UserError(`--netns: "${flags.netns}" is not a network namespace name`, 2);
  if (flags.netns !== undefined) {
    const r = await spawnRunner('ip', ['netns', 'exec', flags.netns, 'true']).catch((e: unknown) => ({ code: 1, stderr: String(e) }));
    if (r.code !== 0) throw new UserError(`--netns ${flags.netns}: ${r.stderr.trim() || 'cannot enter the network namespace'}`);
  }
  const lockFile = io.env['XTABLES_LOCKFILE'];
  const base = { runner: spawnRunner, backend: flags.backend, ...(flags.netns !== undefined ? { netns: flags.netns } : {}) };
  const probeNf = createExecNetfilter({ ...base, waitSeconds: wait, ...(lockFile ? { lockFile } : {}) });
  const facts = await hostCall(() => probeHost({ ...base, family, netfilter: probeNf }));
  if (!facts.iptables) throw new UserError(`${family === 'ipv6' ? 'ip6tables' : 'iptables'}${flags.backend === 'default' ? '' : `-${flags.backend}`} not found${flags.netns ? ` in network namespace ${flags.netns}` : ''}`);
  const { waitFlags, restoreWaitFlags } = waitFlagsFor(facts.iptables, wait);
  const netfilter = createExecNetfilter({ ...base, waitSeconds: wait, waitFlags, restoreWaitFlags, ...(lockFile ? { lockFile } : {}) });
  return { family, netfilter, facts };
}

/** Compiles the snapshot for one family with the options the host's facts imply. */
export function compileForHost(io: CliIO, snapshot: Snapshot, flags: HostFlags, host: HostContext): Ruleset {
  const fromFacts = compileOptionsFromFacts(host.facts);
  const compileFlags: CompileFlags = {
    family: host.family,
    randomFully: fromFacts.randomFully,
    nfacct: fromFacts.nfacct,
    tcpBeLiberal: fromFacts.tcpBeLiberal,
    ...(flags.node !== undefined ? { node: flags.node } : {}),
    ...(flags.masqueradeMark !== undefined ? { masqueradeMark: flags.masqueradeMark } : {}),
    ...(flags.interfaceAddress !== undefined ? { interfaceAddress: flags.interfaceAddress } : {}),
    ...(flags.nodeIp !== undefined ? { nodeIp: flags.nodeIp } : {}),
  };
  const result = compile(snapshot, compileOptionsFrom(compileFlags));
  printDiagnostics(io, result.diagnostics);
  if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
  return result.ruleset;
}

/** Host failures are reported as plain messages (no stack): they are about the host, not a bug. */
export async function hostCall<T>(fn: () => Promise<T>, exitCode = 1): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof KubeProxyPresentError) throw new UserError(e.message.replace('pass force to override', 'pass --force to override'), exitCode);
    if (e instanceof RestoreError || e instanceof XtablesLockError || e instanceof NetfilterCommandError || e instanceof CommandNotFoundError) throw new UserError(e.message, exitCode);
    throw e;
  }
}

function summary(r: ApplyResult): string {
  const parts: string[] = [];
  parts.push(r.mode === 'full' ? `full sync (${r.reason})` : 'partial sync');
  // A stateful full sync may load our canary alone (its token): that changes nothing.
  if (!r.restored || (r.plan.written.length === 0 && r.plan.deleted.length === 0)) parts.push('nothing to change');
  else {
    parts.push(`${r.plan.written.length} chains written (${r.plan.changed.length} changed)`);
    if (r.plan.deleted.length > 0) parts.push(`${r.plan.deleted.length} stale chains deleted`);
  }
  if (r.hooks && r.hooks.inserted.length > 0) parts.push(`${r.hooks.inserted.length} jump rules inserted`);
  if (r.restored && r.load === 'replace') parts.push('tables replaced');
  return `${r.family}: ${parts.join('; ')}\n`;
}

export function registerApply(program: Command, io: CliIO): void {
  const cmd = new Command('apply')
    .description("load a snapshot's rules onto this host (or a network namespace): only the chains that differ, in one iptables-restore --noflush per family")
    .argument('[file...]', 'snapshot files (kubectl YAML/JSON; - = stdin)')
    .option('--dry-run', 'print the restore payload and check it with iptables-restore --test; change nothing')
    .option('--explain-host', 'print what was probed on the host (iptables version and backend, nfacct, conntrack sysctl, kube-proxy) and exit')
    .option('--force', "apply even though kube-proxy's KUBE-PROXY-CANARY chain says a live kube-proxy owns the chains")
    .option('--no-conntrack', 'do not delete stale UDP conntrack entries after the change')
    .option(
      '--replace-tables',
      'load the full sync by replacing the filter and nat tables (what was read, our chains substituted) instead of --noflush: linear instead of quadratic on large nft hosts, but a rule another program adds during the apply is lost',
    )
    .option('--state <file>', `where to keep what was applied, so the next apply is a partial sync (default ${DEFAULT_STATE_DIR}/host.FAMILY.state or netns-NAME.FAMILY.state; with --family both, FILE.ipv4 and FILE.ipv6)`)
    .option('--no-state', 'keep no state: every apply reads the host and does a full sync')
    .addOption(
      new Option('--top-level-chains <when>', "rewrite the top-level KUBE chains in every payload that touches their table (always: kube-proxy's partial sync), or only when they differ").choices(['always', 'when-changed']).default('always'),
    );
  addHostFlags(cmd).action(async (files: string[], flags: HostFlags & { dryRun?: boolean; explainHost?: boolean; force?: boolean; conntrack: boolean; replaceTables?: boolean; state?: string | false; topLevelChains: 'always' | 'when-changed' }) => {
    const families = familiesOf(flags);
    if (flags.explainHost) {
      for (const family of families) io.stdout(explainHost((await openHost(io, flags, family)).facts));
      return;
    }
    const snapshot = await loadInputs(io, files, flags);
    refuseEmpty(snapshot, flags.allowEmpty);
    for (const family of families) {
      const host = await openHost(io, flags, family);
      const ruleset = compileForHost(io, snapshot, flags, host);
      const nfacct = compileOptionsFromFacts(host.facts).nfacct;
      const netns = flags.netns !== undefined ? { netns: flags.netns } : {};
      const statePath = statePathFor(io, flags, family, families.length > 1);
      const state = await openState(statePath, flags, host.facts);
      const applier = createApplier({
        state: state.options,
        netfilter: host.netfilter,
        family,
        force: flags.force === true,
        fullSyncLoad: flags.replaceTables ? 'replace' : 'noflush',
        topLevelChains: flags.topLevelChains,
        ...(nfacct && !flags.dryRun ? { beforeFullSync: async () => void (await ensureNfacctCounters({ runner: spawnRunner, ...netns })) } : {}),
        ...(flags.conntrack && host.facts.conntrackTool ? { conntrack: (flows) => deleteStaleUdpFlows(flows, { family, runner: spawnRunner, ...netns }) } : {}),
      });
      const r = await hostCall(() => applier.apply(ruleset, { dryRun: flags.dryRun === true })).catch(async (e: unknown) => {
        if (!flags.dryRun) await forgetState(statePath);
        throw e;
      });
      if (!flags.dryRun) {
        await saveState(state.saveTo, r).catch((e: unknown) => {
          io.stderr(`svcrules: warning: could not save the state to ${statePath}: ${e instanceof Error ? e.message : String(e)}; the next apply will be a full sync\n`);
        });
      }
      for (const k of r.plan.kept) io.stderr(`svcrules: warning: ${family} ${k.table} ${k.chain} is stale but kept: ${k.referencedBy.join(', ')} still jump${k.referencedBy.length === 1 ? 's' : ''} to it\n`);
      if (flags.dryRun) {
        if (families.length > 1) io.stdout(`# ${family}\n`);
        io.stdout(r.payload);
        io.stderr(r.payload ? `${family}: payload checked with ${family === 'ipv6' ? 'ip6tables' : 'iptables'}-restore --test: ok\n` : `${family}: nothing to change\n`);
        for (const f of r.staleUdpFlows) io.stderr(`${family}: would delete conntrack entries for ${describeFlow(f)}\n`);
        continue;
      }
      io.stdout(summary(r));
      for (const c of r.conntrack) io.stdout(`${family}: conntrack: ${describeFlow(c.flow)}: ${c.deleted} entr${c.deleted === 1 ? 'y' : 'ies'} deleted${c.error ? ` (${c.error})` : ''}\n`);
      if (r.staleUdpFlows.length > 0 && r.conntrack.length === 0 && r.restored) {
        io.stderr(`svcrules: warning: ${r.staleUdpFlows.length} stale UDP flow(s) not cleared (${flags.conntrack ? 'conntrack tool not found' : '--no-conntrack'})\n`);
      }
    }
  });
  program.addCommand(cmd);
}
