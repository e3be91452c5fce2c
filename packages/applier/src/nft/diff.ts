/**
 * What an nftables apply changes, object by object: `+` for what the desired table adds, `-` for
 * what it removes, as the `nft -f` lines of each. Chains show their rules (a changed chain the rules
 * added and removed, as multisets); sets and maps their declaration; elements one line each.
 */
import type { Element, NftRuleset, Operation, TableRef } from '@svcrules/nftables';
import { renderOperation, tableRef } from '@svcrules/nftables';
import { group, partialSyncOperations, type Applied } from './plan.js';

export interface NftObjectDiff {
  readonly kind: 'table' | 'chain' | 'set' | 'map' | 'element';
  /** The object's name; for elements the set or map. */
  readonly name: string;
  readonly status: 'new' | 'changed' | 'deleted';
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

function minus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    return n === 0;
  });
}

const line = (op: Operation) => renderOperation(op);
const elementLine = (rs: NftRuleset, element: Element) => line({ verb: 'add', kind: 'element', table: tableRef(rs.table), element });

/** Object by object, from `before` (undefined: no table) to `after`. */
export function diffNft(before: NftRuleset | undefined, after: NftRuleset): NftObjectDiff[] {
  const out: NftObjectDiff[] = [];
  const t: TableRef = tableRef(after.table);
  const a = group(after);
  const b = before === undefined ? undefined : group(before);
  const tableLine = (rs: NftRuleset) => line({ verb: 'add', kind: 'table', table: rs.table });
  if (before === undefined || tableLine(before) !== tableLine(after)) out.push({ kind: 'table', name: after.table.name, status: before === undefined ? 'new' : 'changed', added: [tableLine(after)], removed: before ? [tableLine(before)] : [] });
  const chainLines = (rs: NftRuleset, name: string, rules: ReturnType<typeof group>['rules']) => {
    const decl = rs.chains.find((c) => c.name === name)!;
    return [line({ verb: 'add', kind: 'chain', table: t, chain: decl }), ...rules.get(name)!.map((rule) => line({ verb: 'add', kind: 'rule', table: t, rule }))];
  };
  for (const c of after.chains) {
    const want = chainLines(after, c.name, a.rules);
    if (!b?.rules.has(c.name)) {
      out.push({ kind: 'chain', name: c.name, status: 'new', added: want, removed: [] });
      continue;
    }
    const have = chainLines(before!, c.name, b.rules);
    if (want.join('\n') === have.join('\n')) continue;
    out.push({ kind: 'chain', name: c.name, status: 'changed', added: minus(want, have), removed: minus(have, want) });
  }
  if (b) for (const c of before!.chains) if (!a.rules.has(c.name)) out.push({ kind: 'chain', name: c.name, status: 'deleted', added: [], removed: chainLines(before!, c.name, b.rules) });
  const containerLine = (rs: NftRuleset, name: string) => {
    const m = rs.maps.find((x) => x.name === name);
    return m ? line({ verb: 'add', kind: 'map', table: t, map: m }) : line({ verb: 'add', kind: 'set', table: t, set: rs.sets.find((x) => x.name === name)! });
  };
  const kindOf = (rs: NftRuleset, name: string) => (rs.maps.some((x) => x.name === name) ? 'map' : 'set');
  for (const name of a.containers.keys()) {
    const want = containerLine(after, name);
    const have = b?.containers.has(name) ? containerLine(before!, name) : undefined;
    if (have !== want) out.push({ kind: kindOf(after, name), name, status: have === undefined ? 'new' : 'changed', added: [want], removed: have === undefined ? [] : [have] });
    const oldElements = b?.elements.get(name);
    const added: string[] = [];
    const removed: string[] = [];
    for (const [key, e] of a.elements.get(name)!) {
      const old = oldElements?.get(key);
      const w = elementLine(after, e);
      if (old === undefined) added.push(w);
      else {
        const h = elementLine(before!, old);
        if (h !== w) {
          added.push(w);
          removed.push(h);
        }
      }
    }
    if (oldElements) for (const [key, e] of oldElements) if (!a.elements.get(name)!.has(key)) removed.push(elementLine(before!, e));
    if (added.length + removed.length > 0) out.push({ kind: 'element', name, status: 'changed', added, removed });
  }
  if (b) for (const name of b.containers.keys()) if (!a.containers.has(name)) out.push({ kind: kindOf(before!, name), name, status: 'deleted', added: [], removed: [containerLine(before!, name)] });
  return out;
}

/** Text for people; `color` adds ANSI red/green (only on a TTY). */
export function formatNftDiff(diffs: readonly NftObjectDiff[], color: boolean): string {
  const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  let out = '';
  for (const d of diffs) {
    out += paint(1, `${d.kind === 'element' ? 'elements of' : d.kind} ${d.name} (${d.status})`) + '\n';
    for (const l of d.removed) out += paint(31, `- ${l}`) + '\n';
    for (const l of d.added) out += paint(32, `+ ${l}`) + '\n';
  }
  return out;
}

/**
 * The same against a record that keeps only fingerprints (a state file): new and changed objects
 * show their desired lines; what is removed shows as its name or element key, since the record no
 * longer has its text.
 */
export function diffRecord(record: Applied, after: NftRuleset): NftObjectDiff[] {
  const out: NftObjectDiff[] = [];
  const t = tableRef(after.table);
  const a = group(after);
  const plan = partialSyncOperations(record, a);
  const touched = new Set<string>();
  for (const op of plan.operations) if (op.kind === 'chain' || op.kind === 'rule') touched.add(op.kind === 'rule' ? op.rule.chain : op.verb === 'add' ? op.chain.name : op.name);
  for (const c of after.chains) {
    if (!touched.has(c.name)) continue;
    const lines = [line({ verb: 'add', kind: 'chain', table: t, chain: c }), ...a.rules.get(c.name)!.map((rule) => line({ verb: 'add', kind: 'rule', table: t, rule }))];
    out.push({ kind: 'chain', name: c.name, status: record.hasChain(c.name) ? 'changed' : 'new', added: lines, removed: [] });
  }
  for (const name of plan.newlyStale) out.push({ kind: 'chain', name, status: 'deleted', added: [], removed: [`chain ${name}`] });
  const elements = new Map<string, { added: string[]; removed: string[] }>();
  const entry = (name: string) => elements.get(name) ?? elements.set(name, { added: [], removed: [] }).get(name)!;
  for (const op of plan.operations) {
    if (op.kind === 'set' || op.kind === 'map') {
      if (op.verb === 'add') out.push({ kind: op.kind, name: op.kind === 'set' ? op.set.name : op.map.name, status: 'new', added: [line(op)], removed: [] });
      else if (op.verb === 'delete') out.push({ kind: op.kind, name: op.name, status: 'deleted', added: [], removed: [`${op.kind} ${op.name}`] });
    } else if (op.kind === 'element') {
      if (op.verb === 'add') entry(op.element.container).added.push(line(op));
      else entry(op.container).removed.push(`element ${op.container} { ${op.key.join(' . ')} }`);
    }
  }
  for (const [name, e] of elements) out.push({ kind: 'element', name, status: 'changed', ...e });
  if (plan.fullReason !== undefined) out.unshift({ kind: 'table', name: after.table.name, status: 'changed', added: [`# a full sync: ${plan.fullReason}`], removed: [] });
  return out;
}
