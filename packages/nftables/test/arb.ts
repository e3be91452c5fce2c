/** fast-check arbitraries for nft objects (test helper, not a test). */
import fc from 'fast-check';
import { BASE_CHAIN_HOOKS, BASE_CHAIN_TYPES } from '../src/ir.js';
import type { Chain, Element, NftMap, NftRuleset, NftSet, Operation, Rule, Table, TableRef } from '../src/ir.js';

const chars = (s: string): string[] => [...s];
const LETTERS = chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_');
const NAME_CHARS = [...LETTERS, ...chars('0123456789/.-')];
/** Printable ASCII without `"` and `\`. */
const COMMENT_CHARS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => c !== '"' && c !== '\\');
const RULE_CHARS = COMMENT_CHARS.filter((c) => !' ;#$\''.includes(c));
const ELEMENT_CHARS = RULE_CHARS.filter((c) => !'{},'.includes(c));

export const identifier: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...LETTERS), fc.string({ unit: fc.constantFrom(...NAME_CHARS), maxLength: 40 }))
  .map(([a, b]) => a + b);
export const comment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.constantFrom(...COMMENT_CHARS), maxLength: 128 }),
  fc.constantFrom('ns2/svc2:p80', 'rules for kube-proxy', 'a ; b # c $d { } , : .', 'comment', ' : goto x ', ''),
);
export const ruleWord: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.constantFrom(...RULE_CHARS), minLength: 1, maxLength: 12 }),
  fc.constantFrom('{', '}', ',', ':', '.', '@cluster-ips', 'comment', 'vmap', 'goto', '!=', '10.0.0.0/8', 'fd00::1'),
);
const elementWord: fc.Arbitrary<string> = fc
  .string({ unit: fc.constantFrom(...ELEMENT_CHARS), minLength: 1, maxLength: 12 })
  .filter((w) => w !== '.' && w !== ':');
export const elementPart: fc.Arbitrary<string> = fc.oneof(
  fc.array(elementWord, { minLength: 1, maxLength: 3 }).map((ws) => ws.join(' ')),
  fc.constantFrom('172.30.0.41', 'tcp', '80', 'goto service-ULMVA6XW-ns1/svc1/tcp/p80', 'drop', 'comment', 'fd00:10::1'),
);
const dataType = fc.constantFrom('ipv4_addr', 'ipv6_addr', 'inet_proto', 'inet_service', 'ether_addr', 'mark');
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Drops undefined properties (the IR never holds them: exactOptionalPropertyTypes). */
const clean = <T>(o: object): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export const tableRef: fc.Arbitrary<TableRef> = fc.record({ family: fc.constantFrom('ip', 'ip6', 'inet'), name: identifier });
export const table: fc.Arbitrary<Table> = fc.record({ family: fc.constantFrom('ip', 'ip6', 'inet'), name: identifier, comment: opt(comment) }).map((o) => clean<Table>(o));
export const chain: fc.Arbitrary<Chain> = fc
  .record({
    name: identifier,
    base: opt(fc.record({ type: fc.constantFrom(...BASE_CHAIN_TYPES), hook: fc.constantFrom(...BASE_CHAIN_HOOKS), priority: fc.integer({ min: -400, max: 400 }) })),
    comment: opt(comment),
  })
  .map((o) => clean<Chain>(o));
const setProps = {
  name: identifier,
  type: fc.array(dataType, { minLength: 1, maxLength: 3 }),
  flags: opt(fc.array(fc.constantFrom('dynamic', 'timeout', 'interval', 'constant'), { minLength: 1, maxLength: 3 })),
  timeout: opt(fc.nat({ max: 10 ** 6 })),
  comment: opt(comment),
};
export const set: fc.Arbitrary<NftSet> = fc.record(setProps).map((o) => clean<NftSet>(o));
export const map: fc.Arbitrary<NftMap> = fc.record({ ...setProps, valueType: fc.array(fc.constantFrom('verdict', 'ipv4_addr', 'inet_service'), { minLength: 1, maxLength: 2 }) }).map((o) => clean<NftMap>(o));
export const rule = (chainName: fc.Arbitrary<string> = identifier): fc.Arbitrary<Rule> =>
  fc
    .record({
      chain: chainName,
      words: fc.array(ruleWord, { minLength: 1, maxLength: 8 }).filter((ws) => !['index', 'handle', 'position'].includes(ws[0]!)),
      comment: opt(comment),
    })
    .map((o) => clean<Rule>(o));
export const element = (container: fc.Arbitrary<string> = identifier, isMap: fc.Arbitrary<boolean> = fc.boolean()): fc.Arbitrary<Element> =>
  fc
    .record({
      container,
      key: fc.array(elementPart, { minLength: 1, maxLength: 3 }),
      value: fc.boolean().chain((m) => (m ? fc.array(elementPart, { minLength: 1, maxLength: 2 }) : fc.constant(undefined))),
      comment: opt(comment),
    })
    .chain((e) => isMap.map((m) => clean<Element>({ ...e, value: m ? (e.value ?? ['drop']) : undefined })));

export const operation: fc.Arbitrary<Operation> = fc.oneof(
  table.map((t): Operation => ({ verb: 'add', kind: 'table', table: t })),
  fc.tuple(fc.constantFrom('flush' as const, 'delete' as const), tableRef).map(([verb, t]): Operation => ({ verb, kind: 'table', table: t })),
  fc.tuple(tableRef, chain).map(([t, c]): Operation => ({ verb: 'add', kind: 'chain', table: t, chain: c })),
  fc.tuple(tableRef, set).map(([t, s]): Operation => ({ verb: 'add', kind: 'set', table: t, set: s })),
  fc.tuple(tableRef, map).map(([t, m]): Operation => ({ verb: 'add', kind: 'map', table: t, map: m })),
  fc
    .tuple(fc.constantFrom('flush' as const, 'delete' as const), fc.constantFrom('chain' as const, 'set' as const, 'map' as const), tableRef, identifier)
    .map(([verb, kind, t, name]): Operation => ({ verb, kind, table: t, name })),
  fc.tuple(tableRef, rule()).map(([t, r]): Operation => ({ verb: 'add', kind: 'rule', table: t, rule: r })),
  fc.tuple(tableRef, element()).map(([t, e]): Operation => ({ verb: 'add', kind: 'element', table: t, element: e })),
  fc.tuple(tableRef, identifier, fc.array(elementPart, { minLength: 1, maxLength: 3 })).map(([t, c, key]): Operation => ({ verb: 'delete', kind: 'element', table: t, container: c, key })),
);

/** A consistent ruleset: distinct names, rules in declared chains, elements in declared sets/maps. */
export const ruleset: fc.Arbitrary<NftRuleset> = fc
  .record({
    table,
    chains: fc.uniqueArray(chain, { selector: (c) => c.name, minLength: 1, maxLength: 6 }),
    containers: fc.uniqueArray(fc.oneof(set.map((s) => ({ s, isMap: false })), map.map((s) => ({ s, isMap: true }))), { selector: (c) => c.s.name, maxLength: 4 }),
  })
  .chain(({ table: t, chains, containers }) => {
    const rules = fc.array(rule(fc.constantFrom(...chains.map((c) => c.name))), { maxLength: 10 });
    const elements =
      containers.length === 0
        ? fc.constant([] as Element[])
        : fc
            .array(
              fc.constantFrom(...containers).chain((c) => element(fc.constant(c.s.name), fc.constant(c.isMap))),
              { maxLength: 10 },
            )
            // one element per key and container, as a table holds them
            .map((es) => [...new Map(es.map((e) => [`${e.container} ${e.key.join(' . ')}`, e])).values()]);
    return fc.record({ rules, elements }).map(({ rules: rs, elements: es }) => ({
      table: t,
      chains,
      sets: containers.filter((c) => !c.isMap).map((c) => c.s as NftSet),
      maps: containers.filter((c) => c.isMap).map((c) => c.s as NftMap),
      rules: rs,
      elements: es,
    }));
  });
