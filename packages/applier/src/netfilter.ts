import type { TableName } from '@svcrules/iptables';
import type { RunResult } from './exec.js';

export type Family = 'ipv4' | 'ipv6';

export interface RestoreOptions {
  /** `--noflush`: keep every chain the payload does not declare. The applier always sets it. */
  readonly noflush: boolean;
  /** `--counters` (default true): `[0:0]` on a chain line resets its counters, as kube-proxy does. */
  readonly counters?: boolean;
  /** `--test`: parse and check only, change nothing. */
  readonly test?: boolean;
}

/**
 * The host's netfilter as the applier sees it: a deliberately small runner interface in the spirit of
 * knftables' execer. `createExecNetfilter` spawns the binaries; `FakeNetfilter` is an in-memory model
 * for unit tests. Both speak iptables text, so the applier is the same code against either.
 */
export interface Netfilter {
  /** What `iptables-save [-t table]` prints (`ip6tables-save` for ipv6). */
  save(family: Family, table?: TableName): Promise<string>;
  /**
   * Loads a payload with one `iptables-restore` run. Rejects with RestoreError (the host keeps its
   * previous rules for the failing table) or XtablesLockError.
   */
  restore(family: Family, payload: string, options: RestoreOptions): Promise<void>;
  /**
   * One `iptables` command, e.g. `['-t', 'nat', '-C', 'OUTPUT', ...]`; the implementation adds the
   * wait flags. A non-zero exit is returned, not thrown (`-C` answers "absent" with exit 1); a lock
   * timeout rejects with XtablesLockError.
   */
  run(family: Family, args: readonly string[]): Promise<RunResult>;
}

/** Whether `chain` exists in `table`: `iptables -t T -S CHAIN 1` (prints at most one rule, cheap on big tables). */
export async function chainExists(nf: Netfilter, family: Family, table: TableName, chain: string): Promise<boolean> {
  const r = await nf.run(family, ['-t', table, '-S', chain, '1']);
  return r.code === 0;
}

/** `iptables -t T -S CHAIN`: the chain's lines in save form, or undefined when the chain does not exist. */
export async function listChain(nf: Netfilter, family: Family, table: TableName, chain: string): Promise<string[] | undefined> {
  const r = await nf.run(family, ['-t', table, '-S', chain]);
  if (r.code !== 0) return undefined;
  return r.stdout.split('\n').filter((l) => l !== '');
}
