/**
 * The host's nftables as the nftables applier sees it: run one `nft -f -` transaction (or check it with
 * `nft -c`), list one chain, ask whether a table exists. Listing one chain is cheap on any table;
 * anything that makes nft fill its chain cache (every `add rule`/`add element`) costs time linear in
 * the table's chain count (measured: packages/bench/src/nft-apply-bench.ts), so the applier never
 * lists more than that.
 */
import { inNetns, spawnRunner, type Runner } from '../exec.js';
import { payloadExcerpt } from '../errors.js';
import type { Family } from '../netfilter.js';

/** The nft family of an applier family. */
export const nftFamily = (f: Family): 'ip' | 'ip6' => (f === 'ipv6' ? 'ip6' : 'ip');

export interface NftHost {
  /** `nft -f -` with `text` on stdin (`nft -c -f -` when `check`): all of it or nothing. Rejects with NftTransactionError. */
  run(text: string, options?: { readonly check?: boolean }): Promise<void>;
  /** What `nft list chain FAMILY TABLE CHAIN` prints, or undefined when the table or the chain does not exist. */
  listChain(family: 'ip' | 'ip6', table: string, chain: string): Promise<string | undefined>;
  /** Whether `nft list tables FAMILY` names `table`. */
  tableExists(family: 'ip' | 'ip6', table: string): Promise<boolean>;
}

/** nft refused a transaction; nothing of it was applied (nft commits a batch as a whole). */
export class NftTransactionError extends Error {
  constructor(
    readonly command: string,
    /** The transaction line nft blamed (1-based), when it named one. */
    readonly line: number | undefined,
    readonly reason: string,
    readonly excerpt: string,
    readonly stderr: string,
  ) {
    super(`${command} failed${line === undefined ? '' : ` at transaction line ${line}`}: ${reason}${excerpt ? `\n${excerpt}` : ''}`);
    this.name = 'NftTransactionError';
  }
}

/** The first `/dev/stdin:LINE:COL: Error: reason` of nft's complaint. */
export function parseNftFailure(stderr: string): { line: number | undefined; reason: string } {
  const m = /^\/dev\/stdin:(\d+):[\d-]+: Error: (.*)$/m.exec(stderr) ?? /^(?:.*?:)?(\d+)?:?.*?Error: (.*)$/m.exec(stderr);
  if (m) return { line: m[1] === undefined ? undefined : Number(m[1]), reason: m[2]!.trim() };
  return { line: undefined, reason: stderr.trim().split('\n')[0] || 'no message' };
}

export interface ExecNftHostOptions {
  /** Spawns processes; default: the real spawner. */
  readonly runner?: Runner;
  /** Run everything inside this network namespace (`ip netns exec NAME nft ...`). */
  readonly netns?: string;
}

/** The real NftHost: spawns `nft` with argument arrays, the transaction on stdin. */
export function createExecNftHost(options: ExecNftHostOptions = {}): NftHost {
  const base = options.runner ?? spawnRunner;
  const run = options.netns ? inNetns(base, options.netns) : base;
  return {
    async run(text, opts = {}) {
      const args = opts.check ? ['-c', '-f', '-'] : ['-f', '-'];
      const r = await run('nft', args, { stdin: text });
      if (r.code === 0) return;
      const { line, reason } = parseNftFailure(r.stderr);
      throw new NftTransactionError(`nft ${args.join(' ')}`, line, reason, line === undefined ? '' : payloadExcerpt(text, line), r.stderr);
    },
    async listChain(family, table, chain) {
      const r = await run('nft', ['list', 'chain', family, table, chain]);
      if (r.code === 0) return r.stdout;
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw new Error(`nft list chain ${family} ${table} ${chain} exited ${r.code}: ${r.stderr.trim()}`);
    },
    async tableExists(family, table) {
      const r = await run('nft', ['list', 'tables', family]);
      if (r.code !== 0) throw new Error(`nft list tables ${family} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout.split('\n').some((l) => l.trim() === `table ${family} ${table}`);
    },
  };
}

/** `nft --version` (e.g. `nftables v1.0.6 (Lester Gooch #5)`), for a state file's host identity. */
export async function nftVersion(options: ExecNftHostOptions = {}): Promise<string> {
  const r = await (options.runner ?? spawnRunner)('nft', ['--version']);
  if (r.code !== 0) throw new Error(`nft --version exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
