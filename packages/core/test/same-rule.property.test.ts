/**
 * The chain diff's rule equality (@svcrules/iptables sameRule, plan.ts) is equality of chain and words, for
 * template rules and plain ones alike, and never builds a template rule's word array.
 */
import fc from 'fast-check';
import { RuleTemplate, append, templateRule } from '@svcrules/iptables';
import type { AppendCommand, TemplateWord } from '@svcrules/iptables';
import { scaledRuns } from '@svcrules/testkit';
import { sameRule, sameRules } from '@svcrules/iptables';

// Templates that can spell the same words in several ways: two instances of one shape, values
// joined into a comment (`a -> b` + `c` = `a` + `b -> c`), a value slot not every template uses.
const shapes: readonly (readonly TemplateWord[])[] = [
  ['-m', 'comment', '--comment', [0, ' -> ', 1], '-j', 3],
  ['-m', 'comment', '--comment', [0, ' -> ', 1], '-j', 3],
  ['-m', 'comment', '--comment', 0, '-j', 3],
  ['-j', 3],
  ['-m', 'statistic', '--probability', 2, '-j', 3],
];
const templates = shapes.map((w) => new RuleTemplate(w));
const value = fc.constantFrom('a', 'b', 'c', 'a -> b', 'b -> c', '0.5', 'KUBE-SEP-X', '');
const chain = fc.constantFrom('KUBE-SVC-A', 'KUBE-SVC-B');

const templated = fc
  .tuple(chain, fc.integer({ min: 0, max: templates.length - 1 }), value, value, value, value)
  .map(([c, t, v0, v1, v2, v3]) => templateRule(c, templates[t]!, v0, v1, v2, v3));
/** A plain rule with the words of a template rule (built apart, so the template rule keeps none). */
const plain = templated.map((r) => {
  const words = new RuleTemplate(r.template.words);
  return append(r.chain, templateRule(r.chain, words, r.v0, r.v1, r.v2, r.v3).args);
});
const rule: fc.Arbitrary<AppendCommand> = fc.oneof(templated, plain);

const byWords = (x: AppendCommand, y: AppendCommand) => x.chain === y.chain && JSON.stringify(x.args) === JSON.stringify(y.args);
/** Whether a template rule has built its words (its private cache). */
const built = (r: AppendCommand) => Reflect.get(r, 'words') !== undefined;

describe('sameRule', () => {
  it('is equality of chain and words, without building template rules\u2019 words', () => {
    fc.assert(
      fc.property(rule, rule, (x, y) => {
        const same = sameRule(x, y);
        expect(built(x) || built(y)).toBe(false);
        expect(same).toBe(byWords(x, y));
        expect(sameRule(y, x)).toBe(same);
      }),
      { numRuns: scaledRuns(500, 100) },
    );
  });

  it('finds equal words behind different values of one template', () => {
    const t = templates[0]!;
    const x = templateRule('KUBE-SVC-A', t, 'a -> b', 'c', '', 'S');
    const y = templateRule('KUBE-SVC-A', t, 'a', 'b -> c', '', 'S');
    expect(sameRule(x, y)).toBe(true);
    // v2 is not used by this template: a different v2 is the same rule.
    expect(sameRule(x, templateRule('KUBE-SVC-A', t, 'a -> b', 'c', '0.5', 'S'))).toBe(true);
    expect(sameRule(x, templateRule('KUBE-SVC-A', t, 'a -> b', 'c', '', 'T'))).toBe(false);
    expect(sameRule(x, templateRule('KUBE-SVC-B', t, 'a -> b', 'c', '', 'S'))).toBe(false);
  });

  it('sameRules compares lists in order', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 5 }), fc.array(rule, { maxLength: 5 }), (a, b) => {
        const expected = a.length === b.length && a.every((x, i) => byWords(x, b[i]!));
        expect(sameRules(a, b)).toBe(expected);
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });
});
