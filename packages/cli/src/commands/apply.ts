import { Command, Option } from 'commander';
import { createApplier, DEFAULT_STATE_DIR, deleteStaleUdpFlows, describeFlow, ensureNfacctCounters, explainHost, ScopeRefusedError, type ApplyResult, type InputRecord } from '@svcrules/applier';
import { CANARY_TABLES, compileRecorded } from '@svcrules/core';
import type { CliIO } from '../io.js';
import { ExitError } from '../errors.js';
import { loadInputs, note, plural, printDiagnostics, readSnapshot, snapshotOptionsFrom } from '../compile-input.js';
import { readBytes, recordInputs, scopedChange, type InputContext } from '../apply-inputs.js';
import type { LoadResult } from '@svcrules/snapshot';
import { refuseEmpty } from '../report.js';
import { forgetState, openState, saveState, statePathFor } from '../apply-state.js';
import type { ProxyMode } from './compile-nft.js';
import { applyNft } from './apply-nft.js';
import { checkNetns, refuseIptablesFlags } from '../nft-host-run.js';
import { addHostFlags, familiesOf, hostCall, openHostFor, warnKept, type HostFlags } from '../host-run.js';

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
    .option('--dry-run', 'print the restore payload and check it with iptables-restore --test (nftables mode: the transaction, with nft -c); change nothing')
    .option('--explain-host', 'print what was probed on the host (iptables version and backend, nfacct, conntrack sysctl, kube-proxy) and exit')
    .option('--force', "apply even though kube-proxy's KUBE-PROXY-CANARY chain says a live kube-proxy owns the chains (nftables mode: replace a kube-proxy table svcrules did not write)")
    .option('--no-conntrack', 'do not delete stale UDP conntrack entries after the change')
    .option(
      '--replace-tables',
      'load the full sync by replacing the filter and nat tables (what was read, our chains substituted) instead of --noflush: linear instead of quadratic on large nft hosts, but a rule another program adds during the apply is lost',
    )
    .addOption(new Option('--mode <mode>', "the proxy mode: kube-proxy's iptables chains, or its nftables kube-proxy table (never removes the other mode's rules: svcrules cleanup does)").choices(['iptables', 'nftables']).default('iptables'))
    .option('--state <file>', `where to keep what was applied, so the next apply is a partial sync (default ${DEFAULT_STATE_DIR}/host.FAMILY.state or netns-NAME.FAMILY.state, .nft.state in nftables mode; with --family both, FILE.ipv4 and FILE.ipv6)`)
    .option('--no-state', 'keep no state: every apply reads the host and does a full sync')
    .addOption(
      new Option(
        '--top-level-chains <when>',
        "rewrite the top-level KUBE chains in every payload that touches their table (always: kube-proxy's partial sync), or only when they differ (with a state file and one JSON list as input, then only the Services whose objects changed are loaded and compiled)",
      )
        .choices(['always', 'when-changed'])
        .default('always'),
    );
  addHostFlags(cmd).action(async (files: string[], flags: HostFlags & { dryRun?: boolean; explainHost?: boolean; force?: boolean; conntrack: boolean; replaceTables?: boolean; state?: string | false; topLevelChains: 'always' | 'when-changed'; mode: ProxyMode }) => {
    const families = familiesOf(flags);
    if (flags.mode === 'nftables') {
      refuseIptablesFlags(cmd, ['explainHost', 'replaceTables', 'topLevelChains', 'backend', 'wait']);
      checkNetns(flags.netns);
      const snapshot = await loadInputs(io, files, flags);
      refuseEmpty(snapshot, flags.allowEmpty);
      await applyNft(io, snapshot, flags, families);
      return;
    }
    if (flags.explainHost) {
      for (const family of families) io.stdout(explainHost((await openHostFor(io, flags, family)).facts));
      return;
    }
    // Read once; loaded whole only when some family must compile every Service.
    const recorded = files.length === 1 && files[0] !== '-' && flags.state !== false && !flags.dryRun && flags.topLevelChains === 'when-changed';
    const bytes = recorded ? await readBytes(io, files[0]!) : undefined;
    let loaded: LoadResult | undefined;
    const loadAll = async () => {
      if (!loaded) {
        loaded = await readSnapshot(io, files, flags);
        if (!flags.verbose && loaded.ignored.length > 0) note(io, flags, `${plural(loaded.ignored.length, 'object was', 'objects were')} ignored (--verbose says why)`);
        refuseEmpty(loaded.snapshot, flags.allowEmpty);
      }
      return loaded;
    };
    if (bytes === undefined) await loadAll();
    for (const family of families) {
      const host = await openHostFor(io, flags, family);
      const statePath = statePathFor(io, flags, family, families.length > 1);
      const state = await openState(statePath, flags, host.facts);
      const context: InputContext = { family, options: { ...host.compileOptions, ...snapshotOptionsFrom(flags) }, flags };
      const applier = createApplier({
        state: state.options,
        netfilter: host.netfilter,
        family,
        force: flags.force === true,
        kubeProxyAbsent: CANARY_TABLES.filter((t) => !host.facts.kubeProxyCanary.includes(t)),
        fullSyncLoad: flags.replaceTables ? 'replace' : 'noflush',
        topLevelChains: flags.topLevelChains,
        ...(host.compileOptions.nfacct && !flags.dryRun ? { beforeFullSync: async () => void (await ensureNfacctCounters({ runner: host.runner })) } : {}),
        ...(flags.conntrack && host.facts.conntrackTool ? { conntrack: (flows) => deleteStaleUdpFlows(flows, { family, runner: host.runner }) } : {}),
      });
      const failed = async (e: unknown): Promise<never> => {
        if (!flags.dryRun) await forgetState(statePath);
        throw e;
      };
      // The changed Services alone when the state's record of the input allows it (apply-inputs.ts).
      let r: ApplyResult | undefined;
      let inputs: InputRecord | undefined;
      if (state.saveTo !== undefined && flags.topLevelChains === 'when-changed') {
        const change = scopedChange(bytes, state.options.saved.state, context, files[0] ?? '-');
        if ('scope' in change) {
          r = await hostCall(() => applier.apply(change.desired, { scope: change.scope })).catch((e: unknown) => (e instanceof ScopeRefusedError ? undefined : failed(e)));
          if (r) {
            inputs = change.inputs;
            if (flags.verbose) io.stderr(`${family}: ${plural(change.compiled, 'Service', 'Services')} compiled (changed since the state was saved); the rest as recorded\n`);
          }
        } else if (state.options.saved.state?.inputs) note(io, flags, `${family}: compiling every Service: ${change.reason}`);
      }
      if (!r) {
        const load = await loadAll();
        const compiled = compileRecorded(load.snapshot, context.options);
        printDiagnostics(io, compiled.result.diagnostics);
        if (compiled.result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
        r = await hostCall(() => applier.apply(compiled.result.ruleset, { dryRun: flags.dryRun === true })).catch(failed);
        // Recorded for --top-level-chains when-changed only: the other mode compiles every Service anyway.
        if (r.state && flags.topLevelChains === 'when-changed') inputs = recordInputs(bytes, load, compiled, context, r.state.seed);
      }
      const result = r;
      if (!flags.dryRun) {
        await saveState(state.saveTo, result, inputs, state.options.saved.state).catch((e: unknown) => {
          io.stderr(`svcrules: warning: could not save the state to ${statePath}: ${e instanceof Error ? e.message : String(e)}; the next apply will be a full sync\n`);
        });
      }
      warnKept(io, family, result.plan.kept);
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
