import { Command, Option } from 'commander';
import { sortLikeKubeProxyTests } from '@svcrules/core';
import { renderChunks } from '@svcrules/iptables';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';
import { addCompileFlags, compileOptionsFrom, compileOrExit, existingNatChains, readSnapshot } from '../compile-input.js';
import { reportLeftOut, warnIfEmpty } from '../report.js';
import type { CompileFlags } from '../compile-input.js';
import { nftFormatFrom, printNFTables, serviceCIDRsFrom } from './compile-nft.js';
import type { NftFormat, ProxyMode } from './compile-nft.js';

export function registerCompile(program: Command, io: CliIO): void {
  const cmd = new Command('compile')
    .description('print the iptables-restore input kube-proxy would write for a snapshot (kubectl YAML/JSON; - = stdin)')
    .argument('[file...]', 'snapshot files: Services, EndpointSlices, Endpoints, Pods, Node, KubeProxyConfiguration')
    .option('--sort', "print in the normalised order kube-proxy's unit tests compare with")
    .addOption(new Option('--mode <mode>', 'the proxy mode: iptables-restore input, or the nftables kube-proxy table').choices(['iptables', 'nftables']).default('iptables'))
    .addOption(new Option('--format <format>', "nftables mode's text: knftables' Dump() lines (default: dump), or one nft table block as `nft -f` reads it").choices(['dump', 'nft']))
    .option('--service-cidr <cidr>', 'a service CIDR, instead of the ServiceCIDR objects (repeatable; nftables mode drops traffic to unallocated addresses in them)', (v: string, p: string[] | undefined) => [...(p ?? []), v]);
  addCompileFlags(cmd).action(async (files: string[], flags: CompileFlags & { sort?: boolean; mode: ProxyMode; format?: NftFormat; serviceCidr?: string[] }) => {
    compileOptionsFrom(flags); // usage errors first (exit 2), before any input is read
    const serviceCIDRs = serviceCIDRsFrom(flags.serviceCidr);
    nftFormatFrom(flags);
    if (flags.mode === 'nftables' && flags.existing !== undefined) throw new UserError('--existing reads an iptables-save dump; it has no meaning with --mode nftables', 2);
    const loaded = await readSnapshot(io, files, flags);
    const snapshot = loaded.snapshot;
    if (flags.mode === 'nftables') {
      printNFTables(io, loaded, { ...compileOptionsFrom(flags), proxyMode: 'nftables', ...(serviceCIDRs ? { serviceCIDRs } : {}) }, flags);
      return;
    }
    const options = compileOptionsFrom(flags, await existingNatChains(io, flags.existing));
    reportLeftOut(io, flags, loaded, options.family);
    warnIfEmpty(io, snapshot);
    const result = compileOrExit(io, snapshot, options);
    const ruleset = flags.sort ? sortLikeKubeProxyTests(result.ruleset) : result.ruleset;
    for (const chunk of renderChunks(ruleset)) io.stdout(chunk);
    if (flags.verbose) {
      const s = result.stats;
      io.stderr(
        `svcrules: ${s.servicePorts} service ports, ${s.endpoints} endpoints${s.largeClusterMode ? ' (large-cluster mode: endpoint comments dropped)' : ''}, ` +
          `${s.filterRules} filter rules, ${s.natRules} nat rules, ${s.natChains} nat chains\n`,
      );
    }
  });
  program.addCommand(cmd);
}
