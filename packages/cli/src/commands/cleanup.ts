/**
 * `svcrules cleanup --mode nftables|iptables`: removes what `apply` in that mode loaded, after switching
 * a host to the other mode; switching modes never does this as a side effect. nftables: the
 * `kube-proxy` table of each family; a table without the applier's canary set was not written by
 * svcrules (kube-proxy's own, most likely): refused unless --force. iptables: the jump rules and KUBE-*
 * chains the applier owns (@svcrules/applier cleanupIptables); refused while kube-proxy's canary
 * exists unless --force. Nothing else is touched.
 */
import { Command, Option } from 'commander';
import { cleanupIptables, hookLine, KUBE_PROXY_NFT_TABLE, KubeProxyOwnsChainsError, removeStateFile, SVCRULES_NFT_CANARY, type Backend, type Family } from '@svcrules/applier';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';
import { familyOption } from '../compile-input.js';
import { statePathFor } from '../apply-state.js';
import { hostCall, openHostFor, warnKept } from '../host-run.js';
import { refuseIptablesFlags, checkNetns, nftCall, nftStatePathFor, openNftApplier } from '../nft-host-run.js';

interface CleanupFlags {
  mode: 'nftables' | 'iptables';
  family: Family | 'both';
  netns?: string;
  force?: boolean;
  dryRun?: boolean;
  state?: string | false;
  backend: Backend;
}

export function registerCleanup(program: Command, io: CliIO): void {
  const cmd = new Command('cleanup')
    .description("remove the rules apply loaded in one mode (nftables: the kube-proxy tables; iptables: the jump rules and KUBE-* chains)")
    .addOption(new Option('--mode <mode>', 'whose rules to remove').choices(['nftables', 'iptables']).makeOptionMandatory())
    .addOption(familyOption('IP family to clean up', ['both', 'ipv4', 'ipv6']))
    .option('--netns <name>', 'work inside this network namespace (ip netns exec NAME ...)')
    .option('--force', 'delete rules svcrules did not write (a kube-proxy table without our canary, or chains under KUBE-PROXY-CANARY)')
    .addOption(new Option('--backend <backend>', 'iptables mode: the iptables binaries apply used').choices(['default', 'nft', 'legacy']).default('default'))
    .option('--dry-run', 'say what would be deleted; change nothing')
    .option('--state <file>', 'the state file apply kept in that mode, removed with the rules (default: its default path)')
    .action(async (flags: CleanupFlags) => {
      if (flags.mode === 'nftables') refuseIptablesFlags(cmd, ['backend']);
      checkNetns(flags.netns);
      const families: Family[] = flags.family === 'both' ? ['ipv4', 'ipv6'] : [flags.family];
      if (flags.mode === 'iptables') {
        for (const family of families) await cleanupIptablesFamily(io, flags, family, families.length > 1);
        return;
      }
      for (const family of families) {
        const nft = family === 'ipv6' ? 'ip6' : 'ip';
        const { host } = await openNftApplier({ ...flags, conntrack: false }, family, undefined);
        const listed = await nftCall(() => host.listSet(nft, KUBE_PROXY_NFT_TABLE, SVCRULES_NFT_CANARY));
        if ('missing' in listed && listed.missing === 'table') {
          io.stdout(`${family}: no ${nft} ${KUBE_PROXY_NFT_TABLE} table: nothing to remove\n`);
          continue;
        }
        if ('missing' in listed && !flags.force) {
          throw new UserError(`refusing to delete the ${nft} ${KUBE_PROXY_NFT_TABLE} table: it has no ${SVCRULES_NFT_CANARY} set, so svcrules did not write it (a kube-proxy in nftables mode owns it); pass --force to delete it anyway`);
        }
        const statePath = nftStatePathFor(io, flags, family, families.length > 1 && flags.state !== undefined);
        if (flags.dryRun) {
          io.stdout(`${family}: would delete table ${nft} ${KUBE_PROXY_NFT_TABLE}\n`);
          continue;
        }
        await nftCall(() => host.run(`delete table ${nft} ${KUBE_PROXY_NFT_TABLE}\n`));
        if (statePath !== undefined) await removeStateFile(statePath).catch(() => undefined);
        io.stdout(`${family}: deleted table ${nft} ${KUBE_PROXY_NFT_TABLE}\n`);
      }
    });
  program.addCommand(cmd);
}

async function cleanupIptablesFamily(io: CliIO, flags: CleanupFlags, family: Family, bothFamilies: boolean): Promise<void> {
  const host = await openHostFor(io, { ...flags, wait: '5' }, family);
  const r = await hostCall(async () => {
    try {
      return await cleanupIptables({ netfilter: host.netfilter, family, force: flags.force === true, dryRun: flags.dryRun === true });
    } catch (e) {
      if (e instanceof KubeProxyOwnsChainsError) throw new UserError(e.message.replace('pass force', 'pass --force'));
      throw e;
    }
  });
  const verb = flags.dryRun ? 'would delete' : 'deleted';
  for (const h of r.hooks) io.stdout(`${family}: ${verb} rule -t ${h.table} ${hookLine(h)}\n`);
  for (const c of r.chains) io.stdout(`${family}: ${verb} chain ${c.table} ${c.chain}\n`);
  warnKept(io, family, r.kept);
  if (r.hooks.length === 0 && r.chains.length === 0) io.stdout(`${family}: no svcrules iptables rules: nothing to remove\n`);
  const statePath = statePathFor(io, flags, family, bothFamilies);
  if (!flags.dryRun && statePath !== undefined) await removeStateFile(statePath).catch(() => undefined);
}
