/**
 * The host's nftables as the nftables applier sees it: run one `nft -f -` transaction (or check it with
 * `nft -c`), and list one named set. Listing one set is cheap on any table; listing a chain, the
 * tables or a whole table makes nft 1.0 fetch every set with its elements first (seconds on a
 * kube-proxy table of 10k Services, whose service chains each hold an anonymous map; measured in
 * packages/bench/src/nft-apply-bench.ts), so the applier lists nothing else.
 */
import { inNetns, spawnRunner, type Runner } from '../exec.js';
import { payloadExcerpt } from '../errors.js';
import type { Family } from '../netfilter.js';

/** The nft family of an applier family. */
export const nftFamily = (f: Family): 'ip' | 'ip6' => (f === 'ipv6' ? 'ip6' : 'ip');

export interface NftHost {
  /** `nft -f -` with `text` on stdin (`nft -c -f -` when `check`): all of it or nothing. Rejects with NftTransactionError. */
  run(text: string, options?: { readonly check?: boolean }): Promise<void>;
  /** `nft list set FAMILY TABLE SET`: its text, or which of the two does not exist. */
  listSet(family: 'ip' | 'ip6', table: string, set: string): Promise<ListedSet>;
}

export type ListedSet = { readonly text: string } | { readonly missing: 'table' | 'set' };

/**
 * Which name nft's "No such file or directory" points at: it repeats the command and underlines the
 * missing object with carets. Anything else (another message, no carets) counts as the set: the
 * caller then treats the table as present, the safe reading.
 */
export function missingObject(stderr: string, table: string): 'table' | 'set' {
  const lines = stderr.split('\n');
  const carets = lines.findIndex((l) => /^\s*\^+\s*$/.test(l));
  if (carets < 1) return 'set';
  const at = lines[carets]!.indexOf('^');
  const command = lines[carets - 1]!;
  const words = [...command.matchAll(/\S+/g)];
  const word = words.find((w) => w.index! <= at && at < w.index! + w[0].length)?.[0];
  return word === table && words.filter((w) => w[0] === table).length === 1 ? 'table' : 'set';
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
    async listSet(family, table, set) {
      const r = await run('nft', ['list', 'set', family, table, set]);
      if (r.code === 0) return { text: r.stdout };
      if (/No such file or directory/.test(r.stderr)) return { missing: missingObject(r.stderr, table) };
      throw new Error(`nft list set ${family} ${table} ${set} exited ${r.code}: ${r.stderr.trim()}`);
    },
  };
}

/** `nft --version` (e.g. `nftables v1.0.6 (Lester Gooch #5)`), for a state file's host identity. */
export async function nftVersion(options: ExecNftHostOptions = {}): Promise<string> {
  const r = await (options.runner ?? spawnRunner)('nft', ['--version']);
  if (r.code !== 0) throw new Error(`nft --version exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
