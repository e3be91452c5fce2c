/**
 * Text for `nft -f`, exactly as knftables writes it (`writeOperation` in objects.go): one operation
 * per line, single spaces, `\n` after every line. `renderDump` is `Fake.Dump()`'s form and order
 * (fake.go `dumpTable`): table, chains, sets, maps (each sorted by name), then rules chain by chain,
 * then set and map elements container by container. Every chain, set and map is declared before
 * the first rule or element that could name it, so `nft -f` loads a dump as it is.
 * Unsafe objects are refused with an error, never written.
 */
import { DUMP_FORM, chainProblem, declaredElementParts, elementKeyProblem, elementProblem, mapProblem, ruleProblem, setProblem, tableProblem, tableRefProblem, uncheckedChainProblem, writeRuleWords } from './check.js';
import type { Chain, Element, NftMap, NftRuleset, NftSet, Operation, Rule, Table, TableRef, Transaction } from './ir.js';
import { tableRef } from './ir.js';
import { Text } from './text.js';
import { assertNft, quoteComment } from './words.js';

const head = (verb: string, kind: string, t: TableRef): string => `${verb} ${kind} ${t.family} ${t.name}`;
const commentProp = (c: string | undefined): string => (c === undefined ? '' : ` comment ${quoteComment(c)} ;`);

function tableText(t: Table): string {
  assertNft(tableProblem(t), 'table', t);
  return t.comment === undefined ? '' : ` {${commentProp(t.comment)} }`;
}

function chainText(c: Chain): string {
  assertNft(uncheckedChainProblem(c), 'chain', c);
  if (c.base === undefined && c.comment === undefined) return ` ${c.name}`;
  const base = c.base === undefined ? '' : ` type ${c.base.type} hook ${c.base.hook} priority ${c.base.priority} ;`;
  return ` ${c.name} {${base}${commentProp(c.comment)} }`;
}

function setPropsText(s: NftSet | NftMap, type: string): string {
  const flags = s.flags === undefined ? '' : ` flags ${s.flags.join(',')} ;`;
  const timeout = s.timeout === undefined ? '' : ` timeout ${s.timeout}s ;`;
  return ` ${s.name} { type ${type} ;${flags}${timeout}${commentProp(s.comment)} }`;
}

function setText(s: NftSet): string {
  assertNft(setProblem(s), 'set', s);
  return setPropsText(s, s.type.join(' . '));
}

function mapText(m: NftMap): string {
  assertNft(mapProblem(m), 'map', m);
  return setPropsText(m, `${m.type.join(' . ')} : ${m.valueType.join(' . ')}`);
}

function ruleText(r: Rule): string {
  assertNft(ruleProblem(r), 'rule', r);
  return ` ${r.chain} ${r.words.join(' ')}${r.comment === undefined ? '' : ` comment ${quoteComment(r.comment)}`}`;
}

function elementText(e: Element): string {
  assertNft(elementProblem(e), 'element', e);
  return elementBody(e);
}

function elementBody(e: Element): string {
  const comment = e.comment === undefined ? '' : ` comment ${quoteComment(e.comment)}`;
  const value = e.value === undefined ? '' : ` : ${e.value.join(' . ')}`;
  return ` ${e.container} { ${e.key.join(' . ')}${comment}${value} }`;
}

/** One operation as one line, without the newline. */
export function renderOperation(op: Operation): string {
  if (op.kind !== 'table') assertNft(tableRefProblem(op.table), 'table', op.table);
  switch (op.kind) {
    case 'table':
      if (op.verb === 'add') return head('add', 'table', op.table) + tableText(op.table);
      assertNft(tableRefProblem(op.table), 'table', op.table);
      return head(op.verb, 'table', op.table);
    case 'chain':
      if (op.verb === 'add') return head('add', 'chain', op.table) + chainText(op.chain);
      return `${head(op.verb, 'chain', op.table)}${nameText(op.name)}`;
    case 'set':
      if (op.verb === 'add') return head('add', 'set', op.table) + setText(op.set);
      return `${head(op.verb, 'set', op.table)}${nameText(op.name)}`;
    case 'map':
      if (op.verb === 'add') return head('add', 'map', op.table) + mapText(op.map);
      return `${head(op.verb, 'map', op.table)}${nameText(op.name)}`;
    case 'rule':
      return head('add', 'rule', op.table) + ruleText(op.rule);
    case 'element':
      if (op.verb === 'add') return head('add', 'element', op.table) + elementText(op.element);
      assertNft(elementKeyProblem(op.container, op.key), 'element', op);
      return `${head('delete', 'element', op.table)} ${op.container} { ${op.key.join(' . ')} }`;
  }
}

function nameText(name: string): string {
  assertNft(chainProblem({ name }), 'name', name);
  return ` ${name}`;
}

/** The transaction as `nft -f` input: its lines in order, each ending in `\n`. */
export function renderTransaction(tx: Transaction): string {
  let out = '';
  for (const op of tx.operations) out += `${renderOperation(op)}\n`;
  return out;
}

const byName = <T extends { readonly name: string }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** Whether the names rise strictly (no duplicate): what a TableBuilder-made ruleset already holds. */
function strictlyByName(xs: readonly { readonly name: string }[]): boolean {
  for (let i = 1; i < xs.length; i++) if (!(xs[i - 1]!.name < xs[i]!.name)) return false;
  return true;
}

export interface DumpOrder {
  readonly chains: readonly Chain[];
  readonly sets: readonly NftSet[];
  readonly maps: readonly NftMap[];
  /** The rules chain by chain (in `chains` order), each chain's in ruleset order; `ruleCounts[i]` of them belong to `chains[i]`. */
  readonly rules: readonly Rule[];
  readonly ruleCounts: readonly number[];
  /** The elements set by set, then map by map (in `sets`, `maps` order), each container's in ruleset order. */
  readonly elements: readonly Element[];
  readonly elementCounts: readonly number[];
  /** The rules of each chain and the elements of each set or map, in ruleset order. */
  readonly rulesByChain: ReadonlyMap<string, readonly Rule[]>;
  readonly elementsByContainer: ReadonlyMap<string, readonly Element[]>;
}

/**
 * `xs` grouped by container in `containers` order, with the count of each group. A ruleset made
 * by core's TableBuilder is already in this order (one walk checks it); any other is grouped here.
 * Throws on an item whose container is not declared.
 */
function grouped<T>(xs: readonly T[], containers: readonly { readonly name: string }[], sorted: boolean, key: (x: T) => string, what: (k: string) => string): { items: readonly T[]; counts: number[] } {
  const counts = new Array<number>(containers.length).fill(0);
  if (sorted) {
    let j = 0;
    for (let i = 0; i < containers.length; i++) {
      const name = containers[i]!.name;
      const from = j;
      while (j < xs.length && key(xs[j]!) === name) j++;
      counts[i] = j - from;
    }
    if (j === xs.length) return { items: xs, counts };
  }
  const groups = groupBy(xs, key);
  const declared = new Set(containers.map((c) => c.name));
  for (const k of groups.keys()) if (!declared.has(k)) throw new Error(what(k));
  const items: T[] = [];
  containers.forEach((c, i) => {
    const g = groups.get(c.name);
    if (g !== undefined) for (const x of g) items.push(x);
    counts[i] = g === undefined ? 0 : g.length;
  });
  return { items, counts };
}

/** The `counts`-sized runs of `items` by the names of `containers` (a duplicate name keeps its first run). */
function byContainer<T>(items: readonly T[], counts: readonly number[], containers: readonly { readonly name: string }[]): Map<string, readonly T[]> {
  const out = new Map<string, readonly T[]>();
  let at = 0;
  containers.forEach((c, i) => {
    if (!out.has(c.name)) out.set(c.name, items.slice(at, at + counts[i]!));
    at += counts[i]!;
  });
  return out;
}

/**
 * What `Fake.Dump()` prints, in its order: chains, sets and maps by name, then rules chain by chain
 * and elements set by set, then map by map. Throws on a rule or element without its chain, set or map.
 * A ruleset already in this order (core's TableBuilder makes one) is checked, not sorted again.
 */
export function dumpOrder(rs: NftRuleset): DumpOrder {
  const chainsSorted = strictlyByName(rs.chains);
  const chains = chainsSorted ? rs.chains : byName(rs.chains);
  const sets = strictlyByName(rs.sets) ? rs.sets : byName(rs.sets);
  const maps = strictlyByName(rs.maps) ? rs.maps : byName(rs.maps);
  const containers = [...sets, ...maps];
  const setNames = new Set(sets.map((x) => x.name));
  const r = grouped(rs.rules, chains, chainsSorted, (x) => x.chain, (c) => `rule in chain ${JSON.stringify(c)}, which the ruleset does not declare`);
  // Sets and maps share one name space in the element order only when their names do not repeat.
  const e = grouped(rs.elements, containers, strictlyByName(sets) && strictlyByName(maps) && !maps.some((m) => setNames.has(m.name)), (x) => x.container, (c) => `element of ${JSON.stringify(c)}, which the ruleset declares as neither set nor map`);
  let rulesByChain: Map<string, readonly Rule[]> | undefined;
  let elementsByContainer: Map<string, readonly Element[]> | undefined;
  return {
    chains,
    sets,
    maps,
    rules: r.items,
    ruleCounts: r.counts,
    elements: e.items,
    elementCounts: e.counts,
    get rulesByChain() {
      return (rulesByChain ??= byContainer(r.items, r.counts, chains));
    },
    get elementsByContainer() {
      return (elementsByContainer ??= byContainer(e.items, e.counts, containers));
    },
  };
}

/** The `add` operations of `Fake.Dump()`, in its order. Throws on a rule or element without its chain, set or map. */
export function dumpOperations(rs: NftRuleset): Operation[] {
  const t = tableRef(rs.table);
  const d = dumpOrder(rs);
  return [
    { verb: 'add', kind: 'table', table: rs.table },
    ...d.chains.map((chain): Operation => ({ verb: 'add', kind: 'chain', table: t, chain })),
    ...d.sets.map((set): Operation => ({ verb: 'add', kind: 'set', table: t, set })),
    ...d.maps.map((map): Operation => ({ verb: 'add', kind: 'map', table: t, map })),
    ...d.rules.map((rule): Operation => ({ verb: 'add', kind: 'rule', table: t, rule })),
    ...d.elements.map((element): Operation => ({ verb: 'add', kind: 'element', table: t, element })),
  ];
}

/**
 * `Fake.Dump()` of the ruleset: the text of `dumpOperations`, written line by line with the table
 * checked once (a large table has a million rules and elements).
 */
export function renderDump(rs: NftRuleset): string {
  const t = tableRef(rs.table);
  assertNft(tableRefProblem(t), 'table', t);
  const d = dumpOrder(rs);
  const out = new Text();
  out.push(`${head('add', 'table', t)}${tableText(rs.table)}\n`);
  const add = (kind: string) => head('add', kind, t);
  const chainHead = add('chain');
  for (const c of d.chains) out.push(`${chainHead}${chainText(c)}\n`);
  const setHead = add('set');
  for (const x of d.sets) out.push(`${setHead}${setText(x)}\n`);
  const mapHead = add('map');
  for (const x of d.maps) out.push(`${mapHead}${mapText(x)}\n`);
  // Rules and elements of declared (checked) chains, sets and maps: their names need no second check.
  // Each chain's and container's line head made once, for the runs dumpOrder counted.
  const ruleHead = `${add('rule')} `;
  let r = 0;
  for (let i = 0; i < d.chains.length; i++) {
    const end = r + d.ruleCounts[i]!;
    if (r === end) continue;
    const lead = ruleHead + d.chains[i]!.name;
    for (; r < end; r++) {
      out.push(lead);
      writeRuleWords(d.rules[r]!, DUMP_FORM, out);
    }
  }
  const elementHead = `${add('element')} `;
  const containers = [...d.sets, ...d.maps];
  let e = 0;
  for (let i = 0; i < containers.length; i++) {
    const end = e + d.elementCounts[i]!;
    if (e === end) continue;
    const lead = `${elementHead}${containers[i]!.name} { `;
    for (; e < end; e++) {
      const p = declaredElementParts(d.elements[e]!);
      out.push(lead);
      out.push(p.key);
      if (p.comment !== undefined) out.push(` comment ${quoteComment(p.comment)}`);
      if (p.value !== undefined) {
        out.push(' : ');
        out.push(p.value);
      }
      out.push(' }\n');
    }
  }
  return out.done();
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list === undefined) out.set(k, [x]);
    else list.push(x);
  }
  return out;
}
