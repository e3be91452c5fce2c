import { compileNFTables, parseCIDR } from '@svcrules/core';
import type { CompileOptions } from '@svcrules/core';
import { renderDump, renderNative } from '@svcrules/nftables';
import { sortNFTablesTransaction } from '@svcrules/core';
import type { LoadResult } from '@svcrules/snapshot';
import type { CliIO } from '../io.js';
import { ExitError, UserError } from '../errors.js';
import { printDiagnostics } from '../compile-input.js';
import { reportLeftOut, warnIfEmpty } from '../report.js';
import type { InputFlags } from '../compile-input.js';

export type ProxyMode = 'iptables' | 'nftables';
/** `--format`: knftables' Dump() lines (kube-proxy's test form), or nft's own block syntax. */
export type NftFormat = 'dump' | 'nft';

/** `--format` is nftables-only, and `--sort` orders Dump() lines: usage errors (exit 2) before any input is read. */
export function nftFormatFrom(flags: { mode: ProxyMode; format?: NftFormat; sort?: boolean }): NftFormat {
  if (flags.format === undefined) return 'dump';
  if (flags.mode !== 'nftables') throw new UserError('--format chooses the text of --mode nftables; iptables mode prints iptables-restore input only', 2);
  if (flags.format === 'nft' && flags.sort) throw new UserError("--sort orders Dump() lines as kube-proxy's tests do; it has no meaning with --format nft", 2);
  return flags.format;
}

/** `--service-cidr` values, checked before any input is read (usage error, exit 2). */
export function serviceCIDRsFrom(values: readonly string[] | undefined): string[] | undefined {
  return values?.map((v) => {
    if (parseCIDR(v) === null) throw new UserError(`--service-cidr: "${v}" is not a CIDR`, 2);
    return v;
  });
}

/**
 * `compile --mode nftables`: the `kube-proxy` table after a full sync, in knftables' `Dump()` form
 * (every object before the rules and elements naming it, so `nft -f` loads it as it is), or with
 * `--format nft` as one `table … { … }` block.
 */
export function printNFTables(io: CliIO, loaded: LoadResult, options: CompileOptions, flags: InputFlags & { sort?: boolean; mode: ProxyMode; format?: NftFormat }): void {
  const result = compileNFTables(loaded.snapshot, options);
  reportLeftOut(io, flags, loaded, result.context.family);
  warnIfEmpty(io, loaded.snapshot);
  printDiagnostics(io, result.diagnostics);
  if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
  if (nftFormatFrom(flags) === 'nft') io.stdout(renderNative(result.ruleset));
  else {
    const dump = renderDump(result.ruleset);
    io.stdout(flags.sort ? `${sortNFTablesTransaction(dump)}\n` : dump);
  }
  if (flags.verbose) {
    const s = result.stats;
    io.stderr(`svcrules: ${s.servicePorts} service ports, ${s.endpoints} endpoints, ${s.chains} chains, ${s.sets} sets, ${s.maps} maps, ${s.rules} rules, ${s.elements} elements\n`);
  }
}
