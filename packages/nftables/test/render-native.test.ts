/**
 * renderNative: nft's block syntax of the same ruleset. Read back with the package's own
 * `nft list ruleset` reader it is the ruleset it came from, for generated rulesets and for every
 * nftables golden; what could change the block structure is refused.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { FIXTURES, caseName, findCases, scaledRuns } from '@svcrules/testkit';
import type { Element, NftRuleset, Rule } from '../src/ir.js';
import { parseDump, parseListText } from '../src/index.js';
import { dumpOrder, renderDump } from '../src/render.js';
import { renderNative } from '../src/render-native.js';
import { RuleTemplate, checkedChain, checkedElement, checkedNumgenRule, checkedRule, chainProblem, declaredElementProblem, declaredRuleText, elementProblem, nativeRuleChecked, nativeRuleProblem, ruleProblem } from '../src/check.js';
import { comment, elementPart, ruleWord, ruleset } from './arb.js';

/** The ruleset in the order renderNative writes it (and the reader reads it back). */
function inNativeOrder(rs: NftRuleset): NftRuleset {
  const d = dumpOrder(rs);
  return { table: rs.table, chains: d.chains, sets: d.sets, maps: d.maps, rules: d.chains.flatMap((c) => d.rulesByChain.get(c.name) ?? []), elements: [...d.sets, ...d.maps].flatMap((c) => d.elementsByContainer.get(c.name) ?? []) };
}

/** nft's scanner (and the reader) takes `{` and `}` as words of their own wherever they stand. */
const retokenized = (r: Rule): Rule => ({ ...r, words: r.words.join(' ').replace(/([{}])/g, ' $1 ').split(' ').filter((w) => w !== '') });

function readBack(text: string): NftRuleset {
  const listed = parseListText(text);
  expect(listed.skipped).toEqual([]);
  expect(listed.rulesets).toHaveLength(1);
  return listed.rulesets[0]!;
}

const T = { family: 'ip', name: 'kube-proxy' } as const;

describe('renderNative', () => {
  test('one table block: sets, maps, chains by name; elements and rules in stored order', () => {
    const rs: NftRuleset = {
      table: { ...T, comment: 'rules for kube-proxy' },
      chains: [{ name: 'services' }, { name: 'filter-input', base: { type: 'filter', hook: 'input', priority: -110 }, comment: 'c' }, { name: 'empty' }],
      sets: [{ name: 'cluster-ips', type: ['ipv4_addr'], comment: 'Active ClusterIPs' }, { name: 'aff', type: ['ipv4_addr'], flags: ['dynamic', 'timeout'], timeout: 10800 }],
      maps: [{ name: 'service-ips', type: ['ipv4_addr', 'inet_proto', 'inet_service'], valueType: ['verdict'] }],
      rules: [
        { chain: 'services', words: ['ip', 'daddr', '.', 'meta', 'l4proto', '.', 'th', 'dport', 'vmap', '@service-ips'] },
        { chain: 'filter-input', words: ['ct', 'state', 'new', 'jump', 'services'], comment: 'kubernetes services' },
        { chain: 'services', words: ['numgen', 'random', 'mod', '2', 'vmap', '{', '0', ':', 'goto', 'empty', ',', '1', ':', 'drop', '}'] },
      ],
      elements: [
        { container: 'service-ips', key: ['172.30.0.41', 'tcp', '80'], value: ['goto services'], comment: 'ns1/svc1:p80' },
        { container: 'cluster-ips', key: ['172.30.0.42'] },
        { container: 'cluster-ips', key: ['172.30.0.41'] },
      ],
    };
    expect(renderNative(rs)).toBe(
      [
        'table ip kube-proxy {',
        '\tcomment "rules for kube-proxy"',
        '\tset aff {',
        '\t\ttype ipv4_addr',
        '\t\tflags dynamic,timeout',
        '\t\ttimeout 10800s',
        '\t}',
        '\tset cluster-ips {',
        '\t\ttype ipv4_addr',
        '\t\tcomment "Active ClusterIPs"',
        '\t\telements = { 172.30.0.42,',
        '\t\t\t172.30.0.41 }',
        '\t}',
        '\tmap service-ips {',
        '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
        '\t\telements = { 172.30.0.41 . tcp . 80 comment "ns1/svc1:p80" : goto services }',
        '\t}',
        '\tchain empty {',
        '\t}',
        '\tchain filter-input {',
        '\t\ttype filter hook input priority -110;',
        '\t\tcomment "c"',
        '\t\tct state new jump services comment "kubernetes services"',
        '\t}',
        '\tchain services {',
        '\t\tip daddr . meta l4proto . th dport vmap @service-ips',
        '\t\tnumgen random mod 2 vmap { 0 : goto empty , 1 : drop }',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    expect(readBack(renderNative(rs))).toEqual(inNativeOrder(rs));
  });

  test.each<[string[], RegExp]>([
    [['}', 'table', 'ip', 'x', '{'], /closes more than the rule opened/],
    [['ip', 'daddr', '{', '10.0.0.1'], /not closed/],
    [['a}{b'], /closes more/],
    [['type', 'filter', 'hook', 'input', 'priority', '0'], /cannot start with "type"/],
    [['policy', 'drop'], /cannot start with "policy"/],
    [['comment'], /cannot start with "comment"/],
  ])('a rule %j could change the block structure: refused', (words, why) => {
    const rule = { chain: 'c', words };
    expect(nativeRuleProblem(rule)).toMatch(why);
    expect(() => renderNative({ table: T, chains: [{ name: 'c' }], sets: [], maps: [], rules: [rule], elements: [] })).toThrow(/unsafe nft rule/);
  });

  test('what the Dump form refuses, the native form refuses too', () => {
    const bad = (over: Partial<NftRuleset>): NftRuleset => ({ table: T, chains: [{ name: 'c' }], sets: [], maps: [], rules: [], elements: [], ...over });
    expect(() => renderNative(bad({ table: { ...T, comment: 'a"b' } }))).toThrow(/unsafe nft table/);
    expect(() => renderNative(bad({ chains: [{ name: 'c;d' }] }))).toThrow(/unsafe nft chain/);
    expect(() => renderNative(bad({ rules: [{ chain: 'c', words: ['accept;', 'drop'] }] }))).toThrow(/unsafe nft rule/);
    expect(() => renderNative(bad({ sets: [{ name: 's', type: ['ipv4_addr'] }], elements: [{ container: 's', key: ['1.2.3.4 }'] }] }))).toThrow(/unsafe nft element/);
    expect(() => renderNative(bad({ rules: [{ chain: 'nope', words: ['accept'] }] }))).toThrow(/chain "nope"/);
  });

  test('generated rulesets read back as themselves (or a rule that could change the block is refused)', () => {
    fc.assert(
      fc.property(ruleset, (rs) => {
        const unsafe = rs.rules.find((r) => nativeRuleProblem(r) !== undefined);
        if (unsafe !== undefined) {
          expect(() => renderNative(rs)).toThrow(/unsafe nft rule/);
          return;
        }
        const expected = inNativeOrder(rs);
        expect(readBack(renderNative(rs))).toEqual({ ...expected, rules: expected.rules.map(retokenized) });
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });

  test('it is deterministic: the same objects in another order give the same text', () => {
    fc.assert(
      fc.property(ruleset, (rs) => {
        fc.pre(rs.rules.every((r) => nativeRuleProblem(r) === undefined));
        const shuffled = { ...rs, chains: [...rs.chains].reverse(), sets: [...rs.sets].reverse(), maps: [...rs.maps].reverse() };
        expect(renderNative(shuffled)).toBe(renderNative(rs));
      }),
      { numRuns: scaledRuns(100, 50) },
    );
  });
});

describe("the renderers' checks of rules and elements in declared chains, sets and maps", () => {
  const anyWord = fc.oneof(ruleWord, fc.string({ maxLength: 6 }), fc.constantFrom('index', 'handle', 'a b', '', 'x;', '"', '#'));
  test('declaredRuleText refuses exactly what ruleProblem refuses (in a well-named chain), and joins the words', () => {
    fc.assert(
      fc.property(fc.array(anyWord, { maxLength: 5 }), fc.option(fc.oneof(comment, fc.string({ maxLength: 4 })), { nil: undefined }), (words, c) => {
        const r: Rule = { chain: 'c', words, ...(c === undefined ? {} : { comment: c }) };
        if (ruleProblem(r) === undefined) expect(declaredRuleText(r)).toBe(words.join(' '));
        else expect(() => declaredRuleText(r)).toThrow(/unsafe nft rule/);
      }),
      { numRuns: scaledRuns(500, 200) },
    );
  });

  test('checkedRule refuses exactly what ruleProblem refuses (in a well-named chain); what it makes renders as the plain rule, and is marked native-safe exactly when nativeRuleProblem finds nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(anyWord, fc.constantFrom('{', '}', 'type', 'policy', 'a{', '}b')), { maxLength: 5 }), fc.option(fc.oneof(comment, fc.string({ maxLength: 4 })), { nil: undefined }), (words, c) => {
        const plain: Rule = { chain: 'c', words, ...(c === undefined ? {} : { comment: c }) };
        const made = checkedRule('c', words, c);
        if (ruleProblem(plain) !== undefined) {
          expect(made).toBe(ruleProblem(plain));
          return;
        }
        if (typeof made === 'string') throw new Error(made);
        expect({ ...made }).toEqual(plain);
        expect(nativeRuleChecked(made)).toBe(nativeRuleProblem(plain) === undefined);
        expect(nativeRuleChecked(plain)).toBe(false);
        const rs = (r: Rule): NftRuleset => ({ table: T, chains: [{ name: 'c' }], sets: [], maps: [], rules: [r], elements: [] });
        expect(renderDump(rs(made))).toBe(renderDump(rs(plain)));
        if (nativeRuleProblem(plain) === undefined) expect(renderNative(rs(made))).toBe(renderNative(rs(plain)));
        else expect(() => renderNative(rs(made))).toThrow(/unsafe nft rule/);
      }),
      { numRuns: scaledRuns(500, 200) },
    );
  });

  /** Expects `made` to be what checkedRule made (`plain`): the same refusal, or the same rule with the same native mark; whether both are rules. */
  function sameAsChecked(made: Rule | string, plain: Rule | string): boolean {
    if (typeof plain === 'string') {
      expect(made).toBe(plain);
      return false;
    }
    if (typeof made === 'string') throw new Error(made);
    // A template's rule holds its words behind getters: compare what a reader sees.
    const view = (r: Rule) => ({ chain: r.chain, words: [...r.words], comment: r.comment });
    expect(view(made)).toEqual(view(plain));
    expect(JSON.parse(JSON.stringify(made))).toEqual(JSON.parse(JSON.stringify(plain)));
    expect(nativeRuleChecked(made)).toBe(nativeRuleChecked(plain));
    return true;
  }

  test('a RuleTemplate filled with values makes what checkedRule makes of the filled words (the same rule, the same refusal, the same native mark)', () => {
    const fixed = fc.oneof(anyWord, fc.constantFrom('{', '}', 'type', 'policy', 'a{', '}b'));
    const value = fc.oneof(anyWord, fc.constantFrom('{', '}', 'a{', '@set', 'x}', 'ip', 'type', '1.2.3.4:80'));
    fc.assert(
      fc.property(fc.array(fc.option(fixed, { nil: null }), { maxLength: 6 }), fc.array(value, { minLength: 6, maxLength: 6 }), fc.option(fc.oneof(comment, fc.string({ maxLength: 4 })), { nil: undefined }), (shape, pool, c) => {
        const holes = shape.filter((w) => w === null).length;
        const values = pool.slice(0, holes);
        let v = 0;
        const words = shape.map((w) => w ?? values[v++]!);
        const made = new RuleTemplate(shape, c).fill('c', values);
        const plain = checkedRule('c', words, c);
        if (!sameAsChecked(made, plain) || typeof made === 'string' || typeof plain === 'string') return;
        const rs = (r: Rule): NftRuleset => ({ table: T, chains: [{ name: 'c' }], sets: [], maps: [], rules: [r], elements: [] });
        expect(renderDump(rs(made))).toBe(renderDump(rs(plain)));
        if (nativeRuleChecked(plain)) expect(renderNative(rs(made))).toBe(renderNative(rs(plain)));
        else expect(() => renderNative(rs(made))).toThrow(/unsafe nft rule/);
      }),
      { numRuns: scaledRuns(500, 200) },
    );
    const t = new RuleTemplate(['ip', 'saddr', null, 'goto', null]);
    expect(t.fill('c', ['10.0.0.1;', 'x'])).toBe(checkedRule('c', ['ip', 'saddr', '10.0.0.1;', 'goto', 'x']));
    const closing = t.fill('c', ['}', 'x']);
    if (typeof closing === 'string') throw new Error(closing);
    expect(nativeRuleChecked(closing)).toBe(false);
    expect(() => t.fill('c', ['10.0.0.1'])).toThrow(/2 values expected, got 1/);
  });

  test('checkedNumgenRule makes what checkedRule makes of the numgen vmap words, for checked and plain targets', () => {
    const target = fc.tuple(fc.oneof(fc.constantFrom('endpoint-ABCDEFGH-ns/s/tcp/p__10.0.0.1/80', 'a', 'x;y', '{', 'a}', '', 'b c'), fc.string({ maxLength: 4 })), fc.boolean());
    fc.assert(
      fc.property(fc.array(target, { maxLength: 4 }), (ts) => {
        const targets = ts.map(([name, viaCheck]) => {
          const c = viaCheck ? checkedChain(name) : name;
          return typeof c === 'string' ? { name } : c;
        });
        const words = ['numgen', 'random', 'mod', String(targets.length), 'vmap', '{', ...targets.flatMap((t, i) => [...(i > 0 ? [','] : []), String(i), ':', 'goto', t.name]), '}'];
        sameAsChecked(checkedNumgenRule('c', targets), checkedRule('c', words));
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });

  test('only checkedRule and checkedChain mark an object checked: a copy or a changed copy of one is checked again by both renderers', () => {
    const chain = checkedChain('c');
    const made = checkedRule('c', ['ip', 'daddr', '10.0.0.1', 'drop']);
    if (typeof chain === 'string' || typeof made === 'string') throw new Error('refused a safe rule');
    const rs = (c: NftRuleset['chains'][number], r: Rule): NftRuleset => ({ table: T, chains: [c], sets: [], maps: [], rules: [r], elements: [] });
    expect(renderDump(rs(chain, made))).toBe('add table ip kube-proxy\nadd chain ip kube-proxy c\nadd rule ip kube-proxy c ip daddr 10.0.0.1 drop\n');
    const injected = { ...made, words: ['ip', 'daddr', '10.0.0.1', 'drop;', 'flush', 'ruleset'] };
    expect(() => renderDump(rs(chain, injected))).toThrow(/unsafe nft rule/);
    expect(() => renderNative(rs(chain, injected))).toThrow(/unsafe nft rule/);
    const closing = { ...made, words: ['drop', '}', 'chain', 'x', '{'] };
    expect(() => renderNative(rs(chain, closing))).toThrow(/unsafe nft rule/);
    const badChain = { ...chain, name: 'c;flush' };
    expect(() => renderDump(rs(badChain, { ...made, chain: 'c;flush' }))).toThrow(/unsafe nft chain/);
    expect(() => renderNative(rs(badChain, { ...made, chain: 'c;flush' }))).toThrow(/unsafe nft chain/);
    expect(checkedChain('c;flush')).toBe(chainProblem({ name: 'c;flush' }));
    // A rule a template made keeps chain, words and values in private fields: a copy has none of
    // them, and a copy given words is a plain rule, checked in full.
    const filled = new RuleTemplate(['ip', 'daddr', null, 'drop']).fill('c', ['10.0.0.1']);
    if (typeof filled === 'string') throw new Error(filled);
    expect(renderDump(rs(chain, filled))).toBe('add table ip kube-proxy\nadd chain ip kube-proxy c\nadd rule ip kube-proxy c ip daddr 10.0.0.1 drop\n');
    expect(() => renderDump(rs(chain, { ...filled }))).toThrow(/rule in chain undefined|unsafe nft rule/);
    const filledCopy = { ...filled, chain: 'c', words: ['ip', 'daddr', '10.0.0.1;', 'flush', 'ruleset'] };
    expect(() => renderDump(rs(chain, filledCopy))).toThrow(/unsafe nft rule/);
    expect(() => renderNative(rs(chain, filledCopy))).toThrow(/unsafe nft rule/);
    expect(() => renderNative(rs(chain, { ...filled, chain: 'c', words: ['drop', '}', 'chain', 'x', '{'] }))).toThrow(/unsafe nft rule/);
    expect(() => renderNative(rs(chain, { ...filled, chain: 'c' }))).toThrow(/unsafe nft rule.*no words/);
  });

  test('checkedElement refuses what elementProblem refuses; what it makes renders as the plain element, and a later change to its key is not written', () => {
    const part = fc.oneof(elementPart, fc.string({ maxLength: 5 }), fc.constantFrom('.', ':', 'a}', '1,2', 'goto x'));
    fc.assert(
      fc.property(fc.constantFrom('s', 'm', 'x;y'), fc.array(part, { maxLength: 3 }), fc.option(fc.array(part, { maxLength: 2 }), { nil: undefined }), fc.option(fc.oneof(comment, fc.string({ maxLength: 4 })), { nil: undefined }), (container, key, value, c) => {
        const plain: Element = { container, key, ...(c === undefined ? {} : { comment: c }), ...(value === undefined ? {} : { value }) };
        const made = checkedElement(container, key, value, c);
        if (elementProblem(plain) !== undefined) {
          expect(made).toBe(elementProblem(plain));
          return;
        }
        if (typeof made === 'string') throw new Error(made);
        expect({ ...made }).toEqual(plain);
        const rs = (e: Element): NftRuleset => ({ table: T, chains: [], sets: value === undefined ? [{ name: container, type: ['ipv4_addr'] }] : [], maps: value === undefined ? [] : [{ name: container, type: ['ipv4_addr'], valueType: ['verdict'] }], rules: [], elements: [e] });
        expect(renderDump(rs(made))).toBe(renderDump(rs(plain)));
        expect(renderNative(rs(made))).toBe(renderNative(rs(plain)));
        const before = renderDump(rs(made));
        (made.key as string[])[0] = '1.2.3.4 } ; flush ruleset';
        expect(renderDump(rs(made))).toBe(before);
        expect(() => renderDump(rs({ ...made }))).toThrow(/unsafe nft element/);
      }),
      { numRuns: scaledRuns(500, 200) },
    );
  });

  test('declaredElementProblem finds a problem exactly when elementProblem does (in a well-named set)', () => {
    const part = fc.oneof(elementPart, fc.string({ maxLength: 5 }), fc.constantFrom('.', ':', 'a}', '1,2'));
    fc.assert(
      fc.property(fc.array(part, { maxLength: 3 }), fc.option(fc.array(part, { maxLength: 2 }), { nil: undefined }), fc.option(fc.string({ maxLength: 4 }), { nil: undefined }), (key, value, c) => {
        const e = { container: 's', key, ...(value === undefined ? {} : { value }), ...(c === undefined ? {} : { comment: c }) };
        expect(declaredElementProblem(e) === undefined).toBe(elementProblem(e) === undefined);
      }),
      { numRuns: scaledRuns(500, 200) },
    );
  });
});

const NFT = join(FIXTURES, 'compile-nft');
const goldens = [
  ...findCases(join(NFT, 'upstream'), 'NOTES').flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.nft')).map((f) => join(dir, f))),
  ...findCases(join(NFT, 'features'), 'cmd')
    .filter((dir) => !existsSync(join(dir, 'expected.code')) && readFileSync(join(dir, 'expected.out'), 'utf8').startsWith('add table '))
    .map((dir) => join(dir, 'expected.out')),
];

describe('every nftables golden in the native form reads back as its table', () => {
  test('there are upstream and feature goldens of both families', () => {
    expect(goldens.filter((f) => f.includes('/upstream/')).length).toBeGreaterThanOrEqual(14);
    expect(goldens.some((f) => readFileSync(f, 'utf8').startsWith('add table ip6 '))).toBe(true);
  });

  test.each(goldens.map((f) => [caseName(f), f] as const))('%s', (_name, file) => {
    const rs = parseDump(readFileSync(file, 'utf8'));
    expect(readBack(renderNative(rs))).toEqual(inNativeOrder(rs));
  });
});

describe('the `--format nft` CLI goldens are the feature golden of the same name, in the native form', () => {
  const natives = findCases(join(NFT, 'native'), 'cmd');
  test('there are some', () => expect(natives.length).toBeGreaterThanOrEqual(2));
  test.each(natives.map((dir) => [caseName(dir), dir] as const))('%s', (_name, dir) => {
    const rs = parseDump(readFileSync(join(NFT, 'features', basename(dir), 'expected.out'), 'utf8'));
    const text = readFileSync(join(dir, 'expected.out'), 'utf8');
    expect(text).toBe(renderNative(rs));
    expect(readBack(text)).toEqual(inNativeOrder(rs));
  });
});
