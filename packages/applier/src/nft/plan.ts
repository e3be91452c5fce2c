/**
 * The transactions of the nftables applier, pure: a full sync that replaces the table in one
 * transaction (or loads it in stages onto a host without it), and a partial sync like kube-proxy's (pkg/proxy/nftables/proxier.go syncProxyRules,
 * PR #126013) that writes only what differs from the record of the last apply: new chains, changed
 * chains (flush and re-add their rules), new and removed sets and maps, and element adds and deletes.
 * A chain no longer wanted is flushed now and deleted by a later transaction, at least a second
 * later: on kernels before 6.2 a chain whose last referencing map element was just deleted is not
 * yet seen as unreferenced (proxier.go, the comment above the stale-chain loop).
 */
import type { Chain, Element, NftMap, NftRuleset, NftSet, Operation, Rule, Table, TableRef } from '@svcrules/nftables';
import { renderOperation, tableRef } from '@svcrules/nftables';

/** How a state file's record compares texts: by a keyed digest of them. */
export type Fingerprint = (text: string) => string;

/** What the last apply left in the table, by fingerprints of the objects' texts (a state file). */
export interface NftRecord {
  readonly table: Table;
  /** Wanted chain -> fingerprint of its declaration and rules. */
  readonly chains: ReadonlyMap<string, string>;
  /** Set or map -> `set ` or `map ` and the fingerprint of its declaration. */
  readonly containers: ReadonlyMap<string, string>;
  /** Set or map -> element key (parts joined by ` . `) -> fingerprint of its value and comment. */
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Chains flushed because no longer wanted, with the time (ms) they were flushed; still in the table. */
  readonly stale: ReadonlyMap<string, number>;
}

/**
 * The last apply as the planner consults it: the objects themselves (in memory: comparing words costs
 * nothing to build) or a record of fingerprints (from a state file).
 */
export interface Applied {
  readonly table: Table;
  readonly stale: ReadonlyMap<string, number>;
  /** Every chain in the table, stale ones included. */
  chainNames(): Iterable<string>;
  hasChain(name: string): boolean;
  /** Whether the chain is wanted with exactly this declaration and these rules (a stale chain never is). */
  sameChain(chain: Chain, rules: readonly Rule[]): boolean;
  containerKind(name: string): 'set' | 'map' | undefined;
  containerNames(): Iterable<string>;
  sameContainer(c: NftSet | NftMap): boolean;
  /** The element keys of a set or map (undefined: no such set or map). */
  elementKeys(container: string): Iterable<string> | undefined;
  /** undefined: no such element; else whether its value and comment are `e`'s. */
  sameElement(container: string, key: string, e: Element): boolean | undefined;
}

const KEY_SEP = ' . ';

/** What identifies a chain's declaration (the renderer validates it when it is written). */
function chainDeclText(chain: Chain): string {
  const b = chain.base;
  return `chain ${chain.name}${b === undefined ? '' : ` ${b.type} ${b.hook} ${b.priority}`}${chain.comment === undefined ? '' : ` "${chain.comment}"`}`;
}

function ruleText(r: Rule): string {
  return r.comment === undefined ? r.words.join(' ') : `${r.words.join(' ')} comment "${r.comment}"`;
}

function containerText(t: TableRef, c: NftSet | NftMap): string {
  return 'valueType' in c ? renderOperation({ verb: 'add', kind: 'map', table: t, map: c }) : renderOperation({ verb: 'add', kind: 'set', table: t, set: c });
}

function containerPrint(t: TableRef, c: NftSet | NftMap, fp: Fingerprint): string {
  return `${'valueType' in c ? 'map' : 'set'} ${fp(containerText(t, c))}`;
}

function elementValueText(e: Element): string {
  return `${e.value?.join(KEY_SEP) ?? ''}\n${e.comment ?? ''}`;
}

/** The desired ruleset grouped as the record is, with the texts to fingerprint. */
export interface Grouped {
  readonly rs: NftRuleset;
  readonly chains: ReadonlyMap<string, Chain>;
  readonly rules: ReadonlyMap<string, readonly Rule[]>;
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, Element>>;
  readonly containers: ReadonlyMap<string, NftSet | NftMap>;
}

export function group(rs: NftRuleset): Grouped {
  const chains = new Map<string, Chain>();
  const rules = new Map<string, Rule[]>();
  for (const c of rs.chains) {
    chains.set(c.name, c);
    rules.set(c.name, []);
  }
  for (const r of rs.rules) {
    const list = rules.get(r.chain);
    if (list === undefined) throw new Error(`rule in chain ${r.chain}, which the ruleset does not declare`);
    list.push(r);
  }
  const containers = new Map<string, NftSet | NftMap>([...rs.sets, ...rs.maps].map((c) => [c.name, c]));
  const elements = new Map<string, Map<string, Element>>([...containers.keys()].map((n) => [n, new Map()]));
  for (const e of rs.elements) {
    const m = elements.get(e.container);
    if (m === undefined) throw new Error(`element of ${e.container}, which the ruleset declares as neither set nor map`);
    m.set(e.key.length === 1 ? e.key[0]! : e.key.join(KEY_SEP), e);
  }
  return { rs, chains, rules, elements, containers };
}

function chainText(chain: Chain, rules: readonly Rule[]): string {
  let text = chainDeclText(chain);
  for (const r of rules) text += '\n' + ruleText(r);
  return text;
}

/** The record of a ruleset once applied by a full sync: the fingerprints a partial sync compares with. */
export function recordOf(g: Grouped, fp: Fingerprint): NftRecord {
  const t = tableRef(g.rs.table);
  const chains = new Map<string, string>();
  for (const c of g.rs.chains) chains.set(c.name, fp(chainText(c, g.rules.get(c.name)!)));
  const containers = new Map<string, string>();
  for (const [name, c] of g.containers) containers.set(name, containerPrint(t, c, fp));
  const elements = new Map<string, Map<string, string>>();
  for (const [name, m] of g.elements) {
    const out = new Map<string, string>();
    for (const [k, e] of m) out.set(k, fp(elementValueText(e)));
    elements.set(name, out);
  }
  return { table: g.rs.table, chains, containers, elements, stale: new Map() };
}

const sameWords = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

function sameRules(a: readonly Rule[], b: readonly Rule[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && (a[i]!.comment !== b[i]!.comment || !sameWords(a[i]!.words, b[i]!.words))) return false;
  return true;
}

const sameBase = (a: Chain['base'], b: Chain['base']) => a === b || (a !== undefined && b !== undefined && a.type === b.type && a.hook === b.hook && a.priority === b.priority);

function sameDecl(a: NftSet | NftMap, b: NftSet | NftMap): boolean {
  return (
    a === b ||
    ('valueType' in a === 'valueType' in b &&
      sameWords(a.type, b.type) &&
      sameWords(a.flags, b.flags) &&
      a.timeout === b.timeout &&
      a.comment === b.comment &&
      sameWords((a as NftMap).valueType, (b as NftMap).valueType))
  );
}

/** The last apply in memory: the ruleset that was applied, and the stale chains beside it. */
export function objectsApplied(g: Grouped, stale: ReadonlyMap<string, number>): Applied {
  const decls = g.chains;
  return {
    table: g.rs.table,
    stale,
    chainNames: () => [...g.rules.keys(), ...stale.keys()],
    hasChain: (name) => g.rules.has(name) || stale.has(name),
    sameChain(chain, rules) {
      const had = decls.get(chain.name);
      return had !== undefined && (had === chain || (had.comment === chain.comment && sameBase(had.base, chain.base))) && sameRules(g.rules.get(chain.name)!, rules);
    },
    containerKind: (name) => {
      const c = g.containers.get(name);
      return c === undefined ? undefined : 'valueType' in c ? 'map' : 'set';
    },
    containerNames: () => g.containers.keys(),
    sameContainer: (c) => {
      const had = g.containers.get(c.name);
      return had !== undefined && sameDecl(had, c);
    },
    elementKeys: (name) => g.elements.get(name)?.keys(),
    sameElement(name, key, e) {
      const had = g.elements.get(name)?.get(key);
      return had === undefined ? undefined : had === e || (had.comment === e.comment && sameWords(had.value, e.value));
    },
  };
}

/** The last apply from a state file: fingerprints of the desired texts are compared with the record's. */
export function recordApplied(record: NftRecord, fp: Fingerprint): Applied {
  const t = tableRef(record.table);
  return {
    table: record.table,
    stale: record.stale,
    chainNames: () => [...record.chains.keys(), ...record.stale.keys()],
    hasChain: (name) => record.chains.has(name) || record.stale.has(name),
    sameChain: (chain, rules) => record.chains.get(chain.name) === fp(chainText(chain, rules)),
    containerKind: (name) => {
      const c = record.containers.get(name);
      return c === undefined ? undefined : c.startsWith('map ') ? 'map' : 'set';
    },
    containerNames: () => record.containers.keys(),
    sameContainer: (c) => record.containers.get(c.name) === containerPrint(t, c, fp),
    elementKeys: (name) => record.elements.get(name)?.keys(),
    sameElement(name, key, e) {
      const had = record.elements.get(name)?.get(key);
      return had === undefined ? undefined : had === fp(elementValueText(e));
    },
  };
}

const isEndpointChain = (name: string) => name.startsWith('endpoint-');
const isServiceChain = (name: string) => name.includes('/');

/** Chains of Services and their endpoints (kube-proxy's names with a `/`), not counting endpoint chains. */
export function serviceChainCount(g: Grouped): number {
  let n = 0;
  for (const name of g.chains.keys()) if (isServiceChain(name) && !isEndpointChain(name)) n++;
  return n;
}

/**
 * Rules of the fixed chains first, then every element, then the service chains' rules and the
 * endpoint chains' last: a jump or map element added while its target is still empty makes the
 * kernel's loop check walk nothing (measured in packages/bench/src/nft-apply-bench.ts).
 */
function rulesInLoadOrder(g: Grouped): { fixed: Rule[]; service: Rule[]; endpoint: Rule[] } {
  const out = { fixed: [] as Rule[], service: [] as Rule[], endpoint: [] as Rule[] };
  for (const [chain, rules] of g.rules) (isEndpointChain(chain) ? out.endpoint : isServiceChain(chain) ? out.service : out.fixed).push(...rules);
  return out;
}

/**
 * A full sync: the table is declared (so that it exists), deleted, and re-added with everything in
 * it, in one transaction, so the host switches from the old table to the new one atomically
 * (kube-proxy's CleanupLeftovers declares before deleting for the same reason).
 */
export function fullSyncOperations(g: Grouped): Operation[] {
  const rs = g.rs;
  const t = tableRef(rs.table);
  const ops: Operation[] = [{ verb: 'add', kind: 'table', table: t }, { verb: 'delete', kind: 'table', table: t }, { verb: 'add', kind: 'table', table: rs.table }];
  for (const chain of rs.chains) ops.push({ verb: 'add', kind: 'chain', table: t, chain });
  for (const set of rs.sets) ops.push({ verb: 'add', kind: 'set', table: t, set });
  for (const map of rs.maps) ops.push({ verb: 'add', kind: 'map', table: t, map });
  const rules = rulesInLoadOrder(g);
  for (const rule of rules.fixed) ops.push({ verb: 'add', kind: 'rule', table: t, rule });
  for (const element of rs.elements) ops.push({ verb: 'add', kind: 'element', table: t, element });
  for (const rule of [...rules.service, ...rules.endpoint]) ops.push({ verb: 'add', kind: 'rule', table: t, rule });
  return ops;
}

/**
 * A full sync onto a host without the table, in three transactions instead of one. The kernel
 * (nf_tables_api.c `__nft_set_trans_bind`) walks every entry of the open transaction each time a
 * rule binds an anonymous set, and each service chain's `numgen random mod N vmap { … }` is one:
 * with the 30k chain declarations of 10k Services in the same transaction that walk is most of the
 * first sync (measured in packages/bench/src/nft-apply-bench.ts). So: (1) the table, its chains
 * (empty) and its sets and maps (empty); (2) the service chains' rules, a few thousand chains per
 * transaction, then the other regular chains' rules; (3) the base chains' rules and every element.
 * Until (3) commits no base chain has a rule, so no packet reaches anything of (1) or (2): for
 * traffic the table still appears at once. After a failure before (3) commits the table holds
 * unreachable leftovers, and the next full sync replaces it in one transaction.
 * `extra` (the canary) is declared in (1) so that leftovers are still recognised as ours.
 */
export function stagedLoadOperations(g: Grouped, declare: readonly Operation[] = [], hookUp: readonly Operation[] = []): Operation[][] {
  const rs = g.rs;
  const t = tableRef(rs.table);
  const decls: Operation[] = [{ verb: 'add', kind: 'table', table: rs.table }];
  for (const chain of rs.chains) decls.push({ verb: 'add', kind: 'chain', table: t, chain });
  for (const set of rs.sets) decls.push({ verb: 'add', kind: 'set', table: t, set });
  for (const map of rs.maps) decls.push({ verb: 'add', kind: 'map', table: t, map });
  const rules = rulesInLoadOrder(g);
  // The service chains' rules in batches of SERVICE_CHAINS_PER_TRANSACTION chains, first: each
  // binds an anonymous set, so the fewer entries before it in its transaction the better.
  const batches: Operation[][] = [];
  let chain: string | undefined;
  let chains = 0;
  for (const rule of rules.service) {
    if (rule.chain !== chain && chains++ % SERVICE_CHAINS_PER_TRANSACTION === 0) batches.push([]);
    chain = rule.chain;
    batches[batches.length - 1]!.push({ verb: 'add', kind: 'rule', table: t, rule });
  }
  const fill: Operation[] = [];
  const last: Operation[] = [];
  for (const rule of [...rules.fixed, ...rules.endpoint]) (g.chains.get(rule.chain)!.base === undefined ? fill : last).push({ verb: 'add', kind: 'rule', table: t, rule });
  for (const element of rs.elements) last.push({ verb: 'add', kind: 'element', table: t, element });
  return [[...decls, ...declare], ...batches, fill, [...last, ...hookUp]].filter((ops) => ops.length > 0);
}

/** Measured at 10k Services: 5 batches of 2000 cost 17 % less than one (packages/bench/README.md, Round 4). */
export const SERVICE_CHAINS_PER_TRANSACTION = 2000;

export interface PartialPlan {
  /** Why a partial sync cannot express the change (then do a full sync), or undefined. */
  readonly fullReason: string | undefined;
  readonly operations: readonly Operation[];
  /** Chains this transaction flushes because they are no longer wanted (stale from now on). */
  readonly newlyStale: readonly string[];
}

const sameTable = (a: Table, b: Table) => a.family === b.family && a.name === b.name && a.comment === b.comment;

/** The operations that turn the table of the last apply into `g` (see the file comment for what and in which order). */
export function partialSyncOperations(applied: Applied, g: Grouped): PartialPlan {
  const rs = g.rs;
  const t = tableRef(rs.table);
  const none = (fullReason: string): PartialPlan => ({ fullReason, operations: [], newlyStale: [] });
  if (!sameTable(applied.table, rs.table)) return none('the table declaration changed');
  const decls: Operation[] = [];
  const rewrites: Operation[] = [];
  const newContainers = new Set<string>();
  for (const [name, c] of g.containers) {
    const kind = applied.containerKind(name);
    if (kind === undefined) {
      newContainers.add(name);
      decls.push('valueType' in c ? { verb: 'add', kind: 'map', table: t, map: c } : { verb: 'add', kind: 'set', table: t, set: c });
    } else if (!applied.sameContainer(c)) return none(`the declaration of ${name} changed`);
  }
  for (const chain of rs.chains) {
    const rules = g.rules.get(chain.name)!;
    if (!applied.hasChain(chain.name)) {
      decls.push({ verb: 'add', kind: 'chain', table: t, chain });
      for (const rule of rules) rewrites.push({ verb: 'add', kind: 'rule', table: t, rule });
      continue;
    }
    if (applied.sameChain(chain, rules)) continue;
    if (chain.base !== undefined) return none(`base chain ${chain.name} changed`);
    // Changed rules, or a stale chain wanted again: the declaration stays, the rules are rewritten.
    rewrites.push({ verb: 'flush', kind: 'chain', table: t, name: chain.name });
    for (const rule of rules) rewrites.push({ verb: 'add', kind: 'rule', table: t, rule });
  }
  const deletes: Operation[] = [];
  const adds: Operation[] = [];
  for (const [name, wanted] of g.elements) {
    const fresh = newContainers.has(name);
    for (const [key, e] of wanted) {
      const same = fresh ? undefined : applied.sameElement(name, key, e);
      if (same === undefined) adds.push({ verb: 'add', kind: 'element', table: t, element: e });
      else if (!same) {
        // nft keeps an existing element's value on `add`: replace it (kube-proxy's ensureElem).
        deletes.push({ verb: 'delete', kind: 'element', table: t, container: name, key: e.key });
        adds.push({ verb: 'add', kind: 'element', table: t, element: e });
      }
    }
    if (!fresh) for (const key of applied.elementKeys(name) ?? []) if (!wanted.has(key)) deletes.push({ verb: 'delete', kind: 'element', table: t, container: name, key: key.split(KEY_SEP) });
  }
  const flushes: Operation[] = [];
  const newlyStale: string[] = [];
  for (const name of applied.chainNames()) {
    if (g.rules.has(name) || applied.stale.has(name)) continue;
    flushes.push({ verb: 'flush', kind: 'chain', table: t, name });
    newlyStale.push(name);
  }
  const removed: Operation[] = [];
  for (const name of applied.containerNames()) if (!g.containers.has(name)) removed.push({ verb: 'delete', kind: applied.containerKind(name)!, table: t, name });
  return { fullReason: undefined, operations: [...decls, ...rewrites, ...deletes, ...adds, ...flushes, ...removed], newlyStale };
}

/** The separate transaction that deletes chains stale for at least `delayMs` (kube-proxy: one second). */
export function staleDeletionOperations(table: Table, stale: ReadonlyMap<string, number>, now: number, delayMs: number): { operations: Operation[]; deleted: string[] } {
  const t = tableRef(table);
  const deleted = [...stale].filter(([, at]) => at <= now - delayMs).map(([name]) => name);
  return { operations: deleted.map((name) => ({ verb: 'delete', kind: 'chain', table: t, name })), deleted };
}

/** The stale chains after a partial sync: those not wanted again, and the ones it flushed. */
export function staleAfter(before: ReadonlyMap<string, number>, g: Grouped, plan: PartialPlan, now: number): Map<string, number> {
  const stale = new Map([...before].filter(([name]) => !g.rules.has(name)));
  for (const name of plan.newlyStale) stale.set(name, now);
  return stale;
}
