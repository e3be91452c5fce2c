import { Command, Option } from 'commander';
import { plan } from '@svcrules/iptables';
import { diffChains, formatDiff, missingHooks, readHost } from '@svcrules/applier';
import { KUBE_PROXY_POLICY } from '@svcrules/core';
import type { CliIO } from '../io.js';
import { ExitError, UserError } from '../errors.js';
import { loadInputs } from '../compile-input.js';
import { EmptyInputError, refuseEmpty } from '../report.js';
import type { ProxyMode } from './compile-nft.js';
import { diffNftMode } from './apply-nft.js';
import { checkNetns, refuseIptablesFlags } from '../nft-host-run.js';
import { addHostFlags, compileForHost, familiesOf, hostCall, openHostFor, warnKept, type HostFlags } from '../host-run.js';

/**
 * `svcrules diff`: what `svcrules apply` would change, per chain (rules added and removed, missing
 * jump rules, stale chains). Exit 0: nothing would change; 1: something would; 2: trouble (like diff).
 */
export function registerDiff(program: Command, io: CliIO): void {
  const cmd = new Command('diff')
    .description('show, per chain, the rules apply would add and remove on this host (exit 0: none, 1: some, 2: trouble)')
    .argument('[file...]', 'snapshot files (kubectl YAML/JSON; - = stdin)')
    .addOption(new Option('--mode <mode>', "the proxy mode: kube-proxy's iptables chains, or its nftables kube-proxy table (object by object against apply's --state record)").choices(['iptables', 'nftables']).default('iptables'))
    .option('--state <file>', 'nftables mode: the state file apply keeps (default: the one apply --mode nftables uses)')
    .option('--no-state', 'nftables mode: compare with no record (every object shows as new)');
  addHostFlags(cmd).action(async (files: string[], flags: HostFlags & { mode: ProxyMode; state?: string | false }) => {
    let changes = 0;
    try {
      if (flags.mode === 'nftables') {
        refuseIptablesFlags(cmd, ['backend', 'wait']);
        checkNetns(flags.netns);
      } else if (cmd.getOptionValueSource('state') === 'cli') throw new UserError('--state and --no-state are for --mode nftables (iptables diff reads the host)', 2);
      const snapshot = await loadInputs(io, files, flags);
      refuseEmpty(snapshot, flags.allowEmpty);
      if (flags.mode === 'nftables') changes = await diffNftMode(io, snapshot, flags, familiesOf(flags));
      else for (const family of familiesOf(flags)) {
        const host = await openHostFor(io, flags, family);
        if (host.facts.kubeProxyCanary.length > 0) io.stderr(`svcrules: warning: a live kube-proxy owns the ${family} chains (KUBE-PROXY-CANARY); apply would refuse without --force\n`);
        const desired = compileForHost(io, snapshot, flags, host);
        const view = await hostCall(() => readHost(host.netfilter, family));
        const p = plan(view, desired, KUBE_PROXY_POLICY);
        const hooks = await hostCall(() => missingHooks(host.netfilter, family));
        const diffs = diffChains(view, desired, p, hooks);
        warnKept(io, family, p.kept);
        changes += diffs.length;
        io.stdout(formatDiff(diffs, family, io.stdoutIsTTY));
        if (diffs.length === 0) io.stderr(`${family}: no changes\n`);
      }
    } catch (e) {
      if (e instanceof EmptyInputError) throw e;
      // Bad input or a host problem is trouble (2), never "differs" (1).
      if (e instanceof ExitError && e.exitCode === 1) throw new ExitError(2);
      if (e instanceof UserError && e.exitCode === 1) throw new UserError(e.message, 2);
      throw e;
    }
    if (changes > 0) throw new ExitError(1);
  });
  program.addCommand(cmd);
}
