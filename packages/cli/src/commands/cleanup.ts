/**
 * `svcrules cleanup --mode nftables`: removes what `apply --mode nftables` loaded, the `kube-proxy`
 * table of each family, after switching a host back to iptables mode. Switching modes never does
 * this as a side effect. A table without the applier's canary set was not written by svcrules
 * (kube-proxy's own, most likely): refused unless --force. Nothing else is touched.
 */
import { Command, Option } from 'commander';
import { KUBE_PROXY_NFT_TABLE, removeStateFile, SVCRULES_NFT_CANARY, type Family } from '@svcrules/applier';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';
import { familyOption } from '../compile-input.js';
import { checkNetns, nftCall, nftStatePathFor, openNftApplier } from '../nft-host-run.js';

interface CleanupFlags {
  mode: 'nftables';
  family: Family | 'both';
  netns?: string;
  force?: boolean;
  dryRun?: boolean;
  state?: string | false;
}

export function registerCleanup(program: Command, io: CliIO): void {
  const cmd = new Command('cleanup')
    .description('remove the rules apply --mode nftables loaded (the kube-proxy tables)')
    .addOption(new Option('--mode <mode>', 'whose rules to remove').choices(['nftables']).makeOptionMandatory())
    .addOption(familyOption('IP family to clean up', ['both', 'ipv4', 'ipv6']))
    .option('--netns <name>', 'work inside this network namespace (ip netns exec NAME ...)')
    .option('--force', 'delete a kube-proxy table that svcrules did not write (a kube-proxy in nftables mode owns it)')
    .option('--dry-run', 'say what would be deleted; change nothing')
    .option('--state <file>', 'the state file apply --mode nftables kept, removed with the table (default: its default path)')
    .action(async (flags: CleanupFlags) => {
      checkNetns(flags.netns);
      const families: Family[] = flags.family === 'both' ? ['ipv4', 'ipv6'] : [flags.family];
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
