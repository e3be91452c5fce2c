import fc from 'fast-check';
import { scaledRuns } from '@svcrules/testkit';
import type { Ruleset } from '../src/ir.js';
import { RuleTemplate, append, chainDecl, isVetted, templateRule } from '../src/ir.js';
import type { TemplateWord } from '../src/ir.js';
import { parseRuleset } from '../src/parse.js';
import { sameRule } from '../src/plan.js';
import { render } from '../src/render.js';
import { chainName, safeWord } from './arb.js';

const nat = (commands: Ruleset['tables'][number]['commands'], chains: string[]): Ruleset => ({
  tables: [{ name: 'nat', chains: chains.map(chainDecl), commands }],
});

describe('RuleTemplate', () => {
  test('refuses unsafe constant words, long constant comments and values out of range when made', () => {
    expect(() => new RuleTemplate(['-j', 'A"B'])).toThrow(/unsafe rule template word/);
    expect(() => new RuleTemplate(['-m', 'comment', '--comment', ['x'.repeat(256)]])).toThrow(/comment longer/);
    expect(() => new RuleTemplate(['-m', 'comment', '--comment', [0, ' ->\n', 1]])).toThrow(/unsafe rule template word/);
    expect(() => new RuleTemplate(['-j', 4])).toThrow(/value 4/);
    expect(() => new RuleTemplate(['-j', ''])).toThrow(/empty word/);
    expect(() => new RuleTemplate(new Array<string>(247).fill('-j'))).toThrow(/words/);
  });

  test('holds a frozen copy of its words: changing the caller\'s array afterwards changes nothing', () => {
    const words: (string | number | string[])[] = ['-m', 'comment', '--comment', ['safe'], '-j', 0];
    const t = new RuleTemplate(words);
    words[4] = 'x\n-A KUBE-SERVICES -j ACCEPT';
    (words[3] as string[])[0] = '"';
    expect(templateRule('C', t, 'KUBE-SEP-Y').args).toEqual(['-m', 'comment', '--comment', 'safe', '-j', 'KUBE-SEP-Y']);
    expect(Object.isFrozen(t.words)).toBe(true);
  });

  test('a templated rule holds the words append would, as JSON too, and is vetted', () => {
    const t = new RuleTemplate(['-m', 'comment', '--comment', [0, ' -> ', 1], '-m', 'statistic', '--probability', 2, '-j', 3]);
    const r = templateRule('KUBE-SVC-X', t, 'ns/a:p', '10.0.0.1:80', '0.5000000000', 'KUBE-SEP-Y');
    const words = ['-m', 'comment', '--comment', 'ns/a:p -> 10.0.0.1:80', '-m', 'statistic', '--probability', '0.5000000000', '-j', 'KUBE-SEP-Y'];
    expect(r.kind).toBe('append');
    expect(r.args).toEqual(words);
    expect(r.args).toBe(r.args);
    expect(JSON.parse(JSON.stringify(r))).toEqual({ kind: 'append', chain: 'KUBE-SVC-X', args: words });
    expect(isVetted(r)).toBe(true);
    expect(render(nat([r], ['KUBE-SVC-X', 'KUBE-SEP-Y']))).toBe(
      '*nat\n:KUBE-SVC-X - [0:0]\n:KUBE-SEP-Y - [0:0]\n-A KUBE-SVC-X -m comment --comment "ns/a:p -> 10.0.0.1:80" -m statistic --probability 0.5000000000 -j KUBE-SEP-Y\nCOMMIT\n',
    );
  });

  // Any template of safe words and any safe values (spaces included): the same text as the
  // plain rule of the same words, which reads back as those words.
  const part = fc.oneof(safeWord, fc.integer({ min: 0, max: 3 }));
  const word: fc.Arbitrary<TemplateWord> = fc.oneof(safeWord, fc.integer({ min: 0, max: 3 }), fc.array(part, { minLength: 1, maxLength: 3 }));
  test('renders exactly as append of its words', () => {
    fc.assert(
      fc.property(chainName, fc.array(word, { maxLength: 8 }), fc.array(safeWord, { minLength: 4, maxLength: 4 }), (chain, words, [v0, v1, v2, v3]) => {
        // Safe words are at most 30 characters, so a joined word fits in a comment too.
        const r = templateRule(chain, new RuleTemplate(words), v0!, v1!, v2!, v3!);
        const text = render(nat([r], [chain]));
        expect(text).toBe(render(nat([append(chain, [...r.args])], [chain])));
        expect(parseRuleset(text).tables[0]!.commands).toEqual([{ kind: 'append', chain, args: r.args }]);
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });

  // The planner's comparison of templated rules (same template, same values: no words built) agrees
  // with comparing words, also when different values join into the same words ('a'+'ba' = 'ab'+'a').
  test('sameRule on templated rules agrees with comparing chains and words', () => {
    const templates = [new RuleTemplate(['-j', 0]), new RuleTemplate(['-m', 'comment', '--comment', [0, 1], '-j', 2]), new RuleTemplate(['-m', 'comment', '--comment', [0, 1], '-j', 2])];
    const value = fc.constantFrom('a', 'ab', 'ba', 'KUBE-SEP-X');
    const rule = fc.tuple(fc.constantFrom('C', 'D'), fc.integer({ min: 0, max: templates.length - 1 }), value, value, value, value);
    fc.assert(
      fc.property(rule, rule, ([ca, ta, ...va], [cb, tb, ...vb]) => {
        const make = (c: string, t: number, v: string[]) => templateRule(c, templates[t]!, v[0]!, v[1], v[2], v[3]);
        const words = make(ca, ta, va).args.join('\0') + '|' + ca;
        const expected = words === make(cb, tb, vb).args.join('\0') + '|' + cb;
        const a = make(ca, ta, va);
        const b = make(cb, tb, vb);
        expect(sameRule(a, b)).toBe(expected);
        expect(sameRule(b, append(ca, make(ca, ta, va).args))).toBe(expected);
      }),
      { numRuns: scaledRuns(200, 50) },
    );
    const t = templates[1]!;
    const a = templateRule('C', t, 'a', 'b', 'X');
    expect(sameRule(a, templateRule('C', t, 'a', 'b', 'X'))).toBe(true);
    expect(Object.getOwnPropertyDescriptor(a, 'words')?.value).toBeUndefined();
  });
});
