/**
 * Text for `nft -f`, exactly as knftables writes it (`writeOperation` in objects.go): one operation
 * per line, single spaces, `\n` after every line. `renderDump` is `Fake.Dump()`'s form and order
 * (fake.go `dumpTable`): table, chains, sets, maps (each sorted by name), then rules chain by chain,
 * then set and map elements container by container. Every chain, set and map is declared before
 * the first rule or element that could name it, so `nft -f` loads a dump as it is.
 * Unsafe objects are refused with an error, never written.
 */
import { chainProblem, elementKeyProblem, elementProblem, mapProblem, ruleProblem, setProblem, tableProblem, tableRefProblem } from './check.js';
import type { Chain, Element, NftMap, NftRuleset, NftSet, Operation, Rule, Table, TableRef, Transaction } from './ir.js';
import { tableRef } from './ir.js';
import { assertNft, quoteComment } from './words.js';

const head = (verb: string, kind: string, t: TableRef): string => `${verb} ${kind} ${t.family} ${t.name}`;
const commentProp = (c: string | undefined): string => (c === undefined ? '' : ` comment ${quoteComment(c)} ;`);

function tableText(t: Table): string {
  assertNft(tableProblem(t), 'table', t);
  return t.comment === undefined ? '' : ` {${commentProp(t.comment)} }`;
}

function chainText(c: Chain): string {
  assertNft(chainProblem(c), 'chain', c);
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

/** The `add` operations of `Fake.Dump()`, in its order. Throws on a rule or element without its chain, set or map. */
export function dumpOperations(rs: NftRuleset): Operation[] {
  const t = tableRef(rs.table);
  const chains = byName(rs.chains);
  const sets = byName(rs.sets);
  const maps = byName(rs.maps);
  const rulesByChain = groupBy(rs.rules, (r) => r.chain);
  const elementsByContainer = groupBy(rs.elements, (e) => e.container);
  const known = new Set([...chains.map((c) => `chain ${c.name}`), ...sets.map((s) => `container ${s.name}`), ...maps.map((m) => `container ${m.name}`)]);
  for (const chain of rulesByChain.keys()) if (!known.has(`chain ${chain}`)) throw new Error(`rule in chain ${JSON.stringify(chain)}, which the ruleset does not declare`);
  for (const c of elementsByContainer.keys()) if (!known.has(`container ${c}`)) throw new Error(`element of ${JSON.stringify(c)}, which the ruleset declares as neither set nor map`);

  const ops: Operation[] = [{ verb: 'add', kind: 'table', table: rs.table }];
  for (const chain of chains) ops.push({ verb: 'add', kind: 'chain', table: t, chain });
  for (const set of sets) ops.push({ verb: 'add', kind: 'set', table: t, set });
  for (const map of maps) ops.push({ verb: 'add', kind: 'map', table: t, map });
  for (const c of chains) for (const rule of rulesByChain.get(c.name) ?? []) ops.push({ verb: 'add', kind: 'rule', table: t, rule });
  for (const s of [...sets, ...maps]) for (const element of elementsByContainer.get(s.name) ?? []) ops.push({ verb: 'add', kind: 'element', table: t, element });
  return ops;
}

/** `Fake.Dump()` of the ruleset. */
export function renderDump(rs: NftRuleset): string {
  return renderTransaction({ operations: dumpOperations(rs) });
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
