/**
 * A pure model of the kernel's tables and of what `iptables-restore` does to them, checked against
 * the real tool (nft and legacy backends, iptables 1.8.9) in a network namespace:
 *
 * - Each `*table` ... `COMMIT` block is one transaction: an error leaves that table as it was, but
 *   tables committed earlier in the same run STAY committed (both backends), and later blocks are
 *   not run. A one-table payload is therefore all or nothing.
 * - Without `--noflush`, a mentioned table is emptied first: rules flushed, user chains deleted.
 *   nft also resets built-in policies to ACCEPT (the table is recreated); legacy keeps them.
 * - `:CHAIN - [p:b]` creates a user chain, or flushes it if it exists (also with `--noflush`, also
 *   after rules of the same payload; legacy without `--noflush` refuses a second declaration). A built-in chain's declaration never flushes it; a policy
 *   other than `-` sets its policy.
 * - `-A` to a missing chain fails; a jump to something that is neither a target extension nor a
 *   user chain of the table fails; `-X` fails for a built-in, missing, non-empty or referenced chain.
 * - A jump loop reachable from a built-in chain fails ("Too many links"); unreachable loops load.
 * - nft: a table appears when a block declares or changes something in it (with all its built-in
 *   chains), and a block without `--noflush` deletes it first (an empty block removes it). legacy:
 *   a table exists, empty, as soon as a block names it, even when that block fails.
 *
 * Not modelled: whether match and target options are valid or allowed in the table (the kernel and
 * the extensions decide that), and the legacy backend's table order in iptables-save.
 */
import type { Ruleset, Table, TableName } from './ir.js';
import { BUILTIN_CHAINS, isBuiltinChain } from './ir.js';
import { BUILTIN_TARGETS, VERDICTS, chainTarget, findJump } from './targets.js';
import { MAX_CHAIN_NAME_LENGTH } from './words.js';

export interface RuleState {
  readonly args: readonly string[];
  /** `packets:bytes`, when restored with counters. */
  readonly counters?: string;
}

export interface ChainState {
  readonly name: string;
  readonly builtin: boolean;
  /** `ACCEPT`/`DROP` for built-in chains, `-` for user chains. */
  readonly policy: string;
  /** Built-in chains' policy counters, `packets:bytes`; `0:0` for user chains. */
  readonly counters: string;
  readonly rules: readonly RuleState[];
}

export interface TableState {
  readonly name: TableName;
  readonly chains: ReadonlyMap<string, ChainState>;
}

export interface NetfilterState {
  readonly tables: ReadonlyMap<TableName, TableState>;
}

export type Backend = 'nft' | 'legacy';

export interface RestoreOptions {
  /** `--noflush`. */
  readonly noflush: boolean;
  /** `--counters`: restore chain and rule counters. Default false. */
  readonly counters?: boolean;
  /** Default `nft`, Debian's and kube-proxy's usual backend. */
  readonly backend?: Backend;
}

export interface RestoreError {
  readonly table: TableName;
  /** Index of the failing table block in the payload. */
  readonly tableIndex: number;
  /** Index of the failing command in the table's commands (absent for chain lines and COMMIT). */
  readonly command?: number;
  readonly chain?: string;
  /** 1-based line in `render(payload)`, as iptables-restore reports it. */
  readonly line: number;
  readonly message: string;
}

export type RestoreResult =
  | { readonly ok: true; readonly state: NetfilterState }
  /** `state` holds the tables committed before the failing block (unchanged if it was the first). */
  | { readonly ok: false; readonly error: RestoreError; readonly state: NetfilterState };

/** iptables-save's table order on the nft backend (its `nft_table_type` enum). */
export const SAVE_TABLE_ORDER: readonly TableName[] = ['mangle', 'security', 'raw', 'filter', 'nat'];

export function emptyState(): NetfilterState {
  return { tables: new Map() };
}

function builtinChain(name: string): ChainState {
  return { name, builtin: true, policy: 'ACCEPT', counters: '0:0', rules: [] };
}

function freshTable(name: TableName): Map<string, ChainState> {
  return new Map(BUILTIN_CHAINS[name].map((c) => [c, builtinChain(c)]));
}

class RestoreFailure extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly command?: number,
    readonly chain?: string,
  ) {
    super(message);
  }
}

/** One table's working copy: chains are copied before their first change, so `state` is never mutated. */
class WorkTable {
  readonly chains: Map<string, ChainState>;
  private readonly owned = new Set<string>();
  private refs: Map<string, number> | undefined;
  exists: boolean;

  constructor(
    readonly name: TableName,
    original: TableState | undefined,
  ) {
    this.chains = new Map(original?.chains ?? []);
    this.exists = original !== undefined;
  }

  ensureExists(): void {
    if (this.exists) return;
    for (const [n, c] of freshTable(this.name)) if (!this.chains.has(n)) this.chains.set(n, c);
    this.exists = true;
  }

  private mutableRules(name: string): RuleState[] {
    const c = this.chains.get(name)!;
    if (!this.owned.has(name)) {
      this.chains.set(name, { ...c, rules: c.rules.slice() });
      this.owned.add(name);
    }
    return this.chains.get(name)!.rules as RuleState[];
  }

  private references(): Map<string, number> {
    if (this.refs === undefined) {
      this.refs = new Map();
      for (const c of this.chains.values()) for (const r of c.rules) this.countRef(r.args, 1);
    }
    return this.refs;
  }

  private countRef(args: readonly string[], delta: number): void {
    const target = chainTarget(args);
    if (target !== undefined && this.refs !== undefined) this.refs.set(target, (this.refs.get(target) ?? 0) + delta);
  }

  /** Legacy without --noflush: rules flushed, user chains deleted, policies kept. */
  flushKeepingPolicies(): void {
    for (const [n, c] of [...this.chains]) {
      if (!c.builtin) this.chains.delete(n);
      else if (c.rules.length > 0) this.chains.set(n, { ...c, rules: [] });
    }
    this.owned.clear();
    this.refs = undefined;
  }

  /** nft without --noflush: the table is deleted (and recreated if the block uses it). */
  remove(): void {
    this.chains.clear();
    this.owned.clear();
    this.refs = undefined;
    this.exists = false;
  }

  setPolicy(name: string, policy: string, counters: string): void {
    const c = this.chains.get(name)!;
    this.chains.set(name, { ...c, policy, counters });
  }

  setChain(c: ChainState): void {
    const old = this.chains.get(c.name);
    if (old !== undefined && this.refs !== undefined) for (const r of old.rules) this.countRef(r.args, -1);
    this.chains.set(c.name, c);
    this.owned.delete(c.name);
  }

  append(chain: string, rule: RuleState): void {
    this.mutableRules(chain).push(rule);
    this.countRef(rule.args, 1);
  }

  referenceCount(chain: string): number {
    return this.references().get(chain) ?? 0;
  }

  delete(chain: string): void {
    this.chains.delete(chain);
    this.owned.delete(chain);
  }

  /** A chain on a jump loop reachable from a built-in chain, or undefined. */
  findLoop(): string | undefined {
    const state = new Map<string, 1 | 2>(); // 1 = on the DFS path, 2 = done
    const visit = (name: string): string | undefined => {
      state.set(name, 1);
      for (const r of this.chains.get(name)?.rules ?? []) {
        const t = chainTarget(r.args);
        if (t === undefined || !this.chains.has(t)) continue;
        const s = state.get(t);
        if (s === 1) return t;
        if (s === undefined) {
          const found = visit(t);
          if (found !== undefined) return found;
        }
      }
      state.set(name, 2);
      return undefined;
    };
    for (const c of this.chains.values()) {
      if (!c.builtin || state.has(c.name)) continue;
      const found = visit(c.name);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  result(): TableState {
    return { name: this.name, chains: this.chains };
  }
}

function chainNameError(name: string, backend: Backend): string | undefined {
  if (name.length > MAX_CHAIN_NAME_LENGTH) return `chain name ${name} is longer than ${MAX_CHAIN_NAME_LENGTH} characters`;
  if (VERDICTS.has(name)) return `chain name ${name} is a standard target`;
  if (backend === 'nft' && (name[0] === '-' || name[0] === '!')) return `chain name ${name} starts with - or !`;
  return undefined;
}

function applyTable(work: WorkTable, table: Table, firstLine: number, opts: RestoreOptions): void {
  const backend = opts.backend ?? 'nft';
  const legacy = backend === 'legacy';
  if (!opts.noflush) {
    if (legacy) work.flushKeepingPolicies();
    else work.remove();
  }
  if (legacy || table.chains.length > 0 || table.commands.length > 0) work.ensureExists();

  table.chains.forEach((decl, k) => {
    const line = firstLine + 1 + k;
    if (isBuiltinChain(table.name, decl.name)) {
      if (decl.policy === '-') return;
      if (decl.policy !== 'ACCEPT' && decl.policy !== 'DROP') {
        throw new RestoreFailure(`Can't set policy ${decl.policy} on ${decl.name}`, line, undefined, decl.name);
      }
      const old = work.chains.get(decl.name)!;
      work.setPolicy(decl.name, decl.policy, opts.counters ? decl.counters : old.counters);
      return;
    }
    const bad = chainNameError(decl.name, backend);
    if (bad !== undefined) throw new RestoreFailure(bad, line, undefined, decl.name);
    if (decl.policy !== '-' && legacy) {
      throw new RestoreFailure(`Can't set policy ${decl.policy} on user chain ${decl.name}`, line, undefined, decl.name);
    }
    // legacy without --noflush creates without looking (only --noflush flushes an existing chain).
    if (legacy && !opts.noflush && work.chains.has(decl.name)) {
      throw new RestoreFailure(`error creating chain ${decl.name}: File exists`, line, undefined, decl.name);
    }
    work.setChain({ name: decl.name, builtin: false, policy: '-', counters: '0:0', rules: [] });
  });

  let jumped = false;
  const base = firstLine + 1 + table.chains.length;
  table.commands.forEach((cmd, i) => {
    const line = base + i;
    const chain = work.chains.get(cmd.chain);
    if (cmd.kind === 'delete') {
      if (chain === undefined) throw new RestoreFailure(`-X ${cmd.chain}: no chain by that name`, line, i, cmd.chain);
      if (chain.builtin) throw new RestoreFailure(`-X ${cmd.chain}: built-in chains cannot be deleted`, line, i, cmd.chain);
      if (chain.rules.length > 0) throw new RestoreFailure(`-X ${cmd.chain}: chain is not empty`, line, i, cmd.chain);
      if (work.referenceCount(cmd.chain) > 0) throw new RestoreFailure(`-X ${cmd.chain}: chain is referenced`, line, i, cmd.chain);
      work.delete(cmd.chain);
      return;
    }
    if (chain === undefined) throw new RestoreFailure(`-A ${cmd.chain}: chain ${cmd.chain} does not exist`, line, i, cmd.chain);
    const jump = findJump(cmd.args);
    if (jump !== undefined) {
      const target = work.chains.get(jump.target);
      if (target !== undefined && !target.builtin) jumped = true;
      else if (!BUILTIN_TARGETS.has(jump.target)) {
        throw new RestoreFailure(`-A ${cmd.chain}: Couldn't load target ${jump.target} (no such chain or target)`, line, i, jump.target);
      }
    }
    work.append(cmd.chain, opts.counters && cmd.counters !== undefined ? { args: cmd.args, counters: cmd.counters } : { args: cmd.args });
  });

  if (jumped) {
    const loop = work.findLoop();
    if (loop !== undefined) throw new RestoreFailure(`jump loop through chain ${loop} (Too many links)`, base + table.commands.length, undefined, loop);
  }
}

/** What `iptables-restore [--noflush]` does with `payload`, starting from `state`. Never mutates `state`. */
export function applyRestore(state: NetfilterState, payload: Ruleset, options: RestoreOptions): RestoreResult {
  const tables = new Map(state.tables);
  let line = 1;
  for (let ti = 0; ti < payload.tables.length; ti++) {
    const table = payload.tables[ti]!;
    const work = new WorkTable(table.name, tables.get(table.name));
    try {
      applyTable(work, table, line, options);
    } catch (e) {
      if (!(e instanceof RestoreFailure)) throw e;
      const error: RestoreError = {
        table: table.name,
        tableIndex: ti,
        line: e.line,
        message: `${table.name}: line ${e.line}: ${e.message}`,
        ...(e.command === undefined ? {} : { command: e.command }),
        ...(e.chain === undefined ? {} : { chain: e.chain }),
      };
      // legacy: touching a table instantiates it in the namespace, even when the restore fails.
      if (options.backend === 'legacy' && !tables.has(table.name)) tables.set(table.name, { name: table.name, chains: freshTable(table.name) });
      return { ok: false, error, state: { tables } };
    }
    if (work.exists) tables.set(table.name, work.result());
    else tables.delete(table.name);
    line += 2 + table.chains.length + table.commands.length;
  }
  return { ok: true, state: { tables } };
}

/**
 * The state an iptables-save dump describes. Lenient about targets (a host may use extensions we do
 * not list); throws on a rule for a chain the dump does not declare.
 */
export function stateFromRuleset(save: Ruleset): NetfilterState {
  const tables = new Map<TableName, TableState>();
  for (const table of save.tables) {
    const chains = new Map(tables.get(table.name)?.chains ?? freshTable(table.name));
    for (const decl of table.chains) {
      const builtin = isBuiltinChain(table.name, decl.name);
      const old = chains.get(decl.name);
      chains.set(decl.name, {
        name: decl.name,
        builtin,
        policy: builtin ? (decl.policy === '-' ? (old?.policy ?? 'ACCEPT') : decl.policy) : '-',
        counters: builtin ? decl.counters : '0:0',
        rules: old?.rules ?? [],
      });
    }
    const rules = new Map<string, RuleState[]>();
    for (const cmd of table.commands) {
      if (cmd.kind === 'delete') {
        chains.delete(cmd.chain);
        rules.delete(cmd.chain);
        continue;
      }
      const chain = chains.get(cmd.chain);
      if (chain === undefined) throw new Error(`stateFromRuleset: ${table.name}: rule for undeclared chain ${cmd.chain}`);
      let list = rules.get(cmd.chain);
      if (list === undefined) rules.set(cmd.chain, (list = chain.rules.slice()));
      list.push(cmd.counters === undefined ? { args: cmd.args } : { args: cmd.args, counters: cmd.counters });
    }
    for (const [name, list] of rules) chains.set(name, { ...chains.get(name)!, rules: list });
    tables.set(table.name, { name: table.name, chains });
  }
  return { tables };
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The state as `iptables-save` (nft backend) prints it: tables in its order, built-in chains in
 * hook order, then user chains bytewise; each chain's rules in that same chain order. Rules carry
 * counters only when they were restored with them.
 */
export function stateToRuleset(state: NetfilterState): Ruleset {
  const tables: Table[] = [];
  for (const name of SAVE_TABLE_ORDER) {
    const t = state.tables.get(name);
    if (t === undefined) continue;
    const builtin = BUILTIN_CHAINS[name].map((n) => t.chains.get(n) ?? builtinChain(n));
    const user = [...t.chains.values()].filter((c) => !c.builtin).sort((a, b) => byteOrder(a.name, b.name));
    const ordered = [...builtin, ...user];
    tables.push({
      name,
      chains: ordered.map((c) => ({ name: c.name, policy: c.builtin ? c.policy : '-', counters: c.counters })),
      commands: ordered.flatMap((c) =>
        c.rules.map((r) =>
          r.counters === undefined
            ? { kind: 'append' as const, chain: c.name, args: r.args }
            : { kind: 'append' as const, chain: c.name, args: r.args, counters: r.counters },
        ),
      ),
    });
  }
  return { tables };
}
