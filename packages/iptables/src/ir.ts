/**
 * The typed ruleset: plain, readonly data for iptables-restore input and iptables-save output.
 * Only `render.ts` knows the text syntax; everything else (compiler, planner, tracer) works here.
 */

export type TableName = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

/** `:NAME POLICY [packets:bytes]`. In restore input, declaring a chain flushes it (even with --noflush). */
export interface ChainDecl {
  readonly name: string;
  /** `-` for user-defined chains, `ACCEPT`/`DROP` for built-in chains. */
  readonly policy: string;
  /** The bracketed counters without brackets, e.g. `0:0`. */
  readonly counters: string;
}

/** `-A CHAIN word...`: the words are as iptables sees them after unquoting (a comment with spaces is one word). */
export interface AppendCommand {
  readonly kind: 'append';
  readonly chain: string;
  readonly args: readonly string[];
  /** Counters printed by `iptables-save -c` as `[p:b] -A ...`; absent otherwise. */
  readonly counters?: string;
}

/** `-X CHAIN`: delete a (flushed, unreferenced) user chain. */
export interface DeleteChainCommand {
  readonly kind: 'delete';
  readonly chain: string;
}

export type Command = AppendCommand | DeleteChainCommand;

/** One `*table` ... `COMMIT` block; chain lines come first, then commands in order. */
export interface Table {
  readonly name: TableName;
  readonly chains: readonly ChainDecl[];
  readonly commands: readonly Command[];
}

export interface Ruleset {
  readonly tables: readonly Table[];
}

export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export function chainDecl(name: string): ChainDecl {
  return { name, policy: '-', counters: '0:0' };
}

export function append(chain: string, args: readonly string[]): AppendCommand {
  return { kind: 'append', chain, args };
}

/**
 * A rule whose builder has already checked every word once, where the words came from (words.ts'
 * rules: `wordProblem`, comments included, and `chainNameProblem`), so the renderer does not check
 * them again. Only builders that validate at the IR boundary use it (core's service rules); parsed
 * input and every other rule go through `append` and are checked word by word before rendering.
 */
class VettedAppend implements AppendCommand {
  readonly kind = 'append' as const;
  constructor(
    readonly chain: string,
    readonly args: readonly string[],
  ) {}
}

/** `append` for a rule whose words the caller has checked (see VettedAppend): the renderer trusts them. */
export function vettedAppend(chain: string, args: readonly string[]): AppendCommand {
  return new VettedAppend(chain, args);
}

/** A user chain's declaration whose name its builder has checked (see VettedAppend). */
class VettedChainDecl implements ChainDecl {
  readonly policy = '-';
  readonly counters = '0:0';
  constructor(readonly name: string) {}
}

/** `chainDecl` for a name the caller has checked with `chainNameProblem`: the renderer trusts it. */
export function vettedChainDecl(name: string): ChainDecl {
  return new VettedChainDecl(name);
}

/** True for a rule made by `vettedAppend` or a declaration made by `vettedChainDecl`. */
export function isVetted(x: Command | ChainDecl): boolean {
  return x instanceof VettedAppend || x instanceof VettedChainDecl;
}

/** True for the five tables iptables knows. */
export function isTableName(name: string): name is TableName {
  return Object.prototype.hasOwnProperty.call(BUILTIN_CHAINS, name);
}

/** True when `chain` is a built-in chain of `table`. */
export function isBuiltinChain(table: TableName, chain: string): boolean {
  return BUILTIN_CHAINS[table].includes(chain);
}
