/**
 * What a transaction does to the table, as knftables' Fake runs it (fake.go `Run`): all operations
 * or none; `add` of an existing table/chain/set/map keeps the old one; `add element` with an existing
 * key replaces it in place; `flush`/`delete` of something missing fails; a rule may only name chains
 * (`goto`/`jump`) and sets/maps (`@name`, a map after `map`/`vmap`) that exist, and a map element
 * only a chain that exists. One table per ruleset (kube-proxy writes only its own).
 */
import type { Chain, Element, NftMap, NftRuleset, NftSet, Operation, Rule, Table, TableRef, Transaction } from './ir.js';
import { renderOperation } from './render.js';

interface Container {
  readonly decl: NftSet | NftMap;
  readonly isMap: boolean;
  /** By key (parts joined with ` . `), in insertion order. */
  readonly elements: Map<string, Element>;
}

interface State {
  table: Table;
  chains: Map<string, { decl: Chain; rules: Rule[] }>;
  containers: Map<string, Container>;
}

export class NftApplyError extends Error {
  constructor(
    readonly index: number,
    readonly operation: string,
    readonly reason: string,
  ) {
    super(`operation ${index + 1} (${operation}): ${reason}`);
    this.name = 'NftApplyError';
  }
}

function load(rs: NftRuleset | undefined): State | undefined {
  if (rs === undefined) return undefined;
  const chains = new Map(rs.chains.map((c) => [c.name, { decl: c, rules: [] as Rule[] }]));
  const containers = new Map<string, Container>();
  for (const s of rs.sets) containers.set(s.name, { decl: s, isMap: false, elements: new Map() });
  for (const m of rs.maps) containers.set(m.name, { decl: m, isMap: true, elements: new Map() });
  for (const r of rs.rules) chains.get(r.chain)?.rules.push(r);
  for (const e of rs.elements) containers.get(e.container)?.elements.set(e.key.join(' . '), e);
  return { table: rs.table, chains, containers };
}

function save(s: State): NftRuleset {
  const chains = [...s.chains.values()];
  const containers = [...s.containers.values()];
  return {
    table: s.table,
    chains: chains.map((c) => c.decl),
    sets: containers.filter((c) => !c.isMap).map((c) => c.decl as NftSet),
    maps: containers.filter((c) => c.isMap).map((c) => c.decl as NftMap),
    rules: chains.flatMap((c) => c.rules),
    elements: containers.flatMap((c) => [...c.elements.values()]),
  };
}

function sameTable(a: TableRef, b: TableRef): boolean {
  return a.family === b.family && a.name === b.name;
}

/** The chains a rule's words jump to and the sets/maps they name. */
function ruleReferences(rule: Rule): { chains: string[]; sets: string[]; maps: string[] } {
  const out = { chains: [] as string[], sets: [] as string[], maps: [] as string[] };
  rule.words.forEach((w, i) => {
    const prev = rule.words[i - 1];
    if (w.startsWith('@')) (prev === 'map' || prev === 'vmap' ? out.maps : out.sets).push(w.slice(1));
    else if (prev === 'goto' || prev === 'jump') out.chains.push(w);
  });
  return out;
}

function step(state: State | undefined, op: Operation): State | undefined {
  if (op.kind === 'table') {
    if (state !== undefined && !sameTable(state.table, op.table)) throw new Error(`a second table ${op.table.family} ${op.table.name} (one table per ruleset)`);
    if (op.verb === 'add') return state ?? { table: op.table, chains: new Map(), containers: new Map() };
    if (state === undefined) throw new Error('no such table');
    if (op.verb === 'delete') return undefined;
    for (const c of state.chains.values()) c.rules.length = 0;
    for (const c of state.containers.values()) c.elements.clear();
    return state;
  }
  if (state === undefined || !sameTable(state.table, op.table)) throw new Error(`no such table ${op.table.family} ${op.table.name}`);
  const chainNamed = (name: string) => state.chains.get(name) ?? fail(`no such chain ${name}`);
  const containerNamed = (name: string, kind: 'set' | 'map' | 'set or map') => {
    const c = state.containers.get(name);
    if (c === undefined || (kind === 'set' && c.isMap) || (kind === 'map' && !c.isMap)) fail(`no such ${kind} ${name}`);
    return c;
  };
  switch (op.kind) {
    case 'chain':
      if (op.verb === 'add') {
        if (!state.chains.has(op.chain.name)) state.chains.set(op.chain.name, { decl: op.chain, rules: [] });
      } else if (op.verb === 'flush') chainNamed(op.name).rules.length = 0;
      else {
        chainNamed(op.name);
        state.chains.delete(op.name);
      }
      return state;
    case 'set':
    case 'map': {
      const isMap = op.kind === 'map';
      if (op.verb === 'add') {
        const decl = op.kind === 'set' ? op.set : op.map;
        const existing = state.containers.get(decl.name);
        if (existing !== undefined && existing.isMap !== isMap) fail(`${decl.name} exists as a ${existing.isMap ? 'map' : 'set'}`);
        if (existing === undefined) state.containers.set(decl.name, { decl, isMap, elements: new Map() });
      } else if (op.verb === 'flush') containerNamed(op.name, op.kind).elements.clear();
      else {
        containerNamed(op.name, op.kind);
        state.containers.delete(op.name);
      }
      return state;
    }
    case 'rule': {
      const chain = chainNamed(op.rule.chain);
      const refs = ruleReferences(op.rule);
      for (const c of refs.chains) chainNamed(c);
      for (const s of refs.sets) containerNamed(s, 'set or map');
      for (const m of refs.maps) containerNamed(m, 'map');
      chain.rules.push(op.rule);
      return state;
    }
    case 'element': {
      if (op.verb === 'delete') {
        const c = containerNamed(op.container, 'set or map');
        if (!c.elements.delete(op.key.join(' . '))) fail(`no such element { ${op.key.join(' . ')} } in ${op.container}`);
        return state;
      }
      const e = op.element;
      const c = containerNamed(e.container, 'set or map');
      if (c.isMap !== (e.value !== undefined)) fail(c.isMap ? `map element without a value in ${e.container}` : `set element with a value in ${e.container}`);
      const verdict = e.value?.length === 1 ? /^(?:goto|jump) (\S+)$/.exec(e.value[0]!) : null;
      if (verdict !== null) chainNamed(verdict[1]!);
      c.elements.set(e.key.join(' . '), e);
      return state;
    }
  }
}

function fail(reason: string): never {
  throw new Error(reason);
}

/** The ruleset after `tx` (undefined: no table). Throws NftApplyError naming the failing operation; the input is not changed. */
export function applyTransaction(rs: NftRuleset | undefined, tx: Transaction): NftRuleset | undefined {
  let state = load(rs);
  tx.operations.forEach((op, i) => {
    try {
      state = step(state, op);
    } catch (e) {
      throw new NftApplyError(i, renderOperation(op), (e as Error).message);
    }
  });
  return state === undefined ? undefined : save(state);
}
