import fc from 'fast-check';
import type { Operation } from '../src/ir.js';
import { parseTransaction } from '../src/parse.js';
import { renderOperation } from '../src/render.js';
import { MAX_COMMENT_LENGTH, MAX_NAME_LENGTH, commentProblem, elementPartProblem, identifierProblem, ruleWordProblem } from '../src/words.js';

const T = { family: 'ip', name: 'kube-proxy' } as const;

/** Strings that could end a command, open a comment, expand a variable or break out of quotes in `nft -f`. */
const HOSTILE = ['a;flush ruleset', 'a\nflush ruleset', 'a\rb', 'a#b', '$x', 'a"b', 'a\\b', "it's", 'tab\tx', 'nul\0', 'del\x7f', 'caf\u00e9', '\u2028'];

describe('words', () => {
  test('names: kube-proxy chain names pass, nft-breaking ones do not', () => {
    for (const ok of ['kube-proxy', 'services', 'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__fd00.10.180..1/80', 'service-ZCC5IRXX-ns7/svc7/udp/', '_x', 'a'.repeat(MAX_NAME_LENGTH)]) {
      expect([ok, identifierProblem(ok)]).toEqual([ok, undefined]);
    }
    for (const bad of ['', '9abc', '-a', '@set', 'a b', 'a:b', 'a{b', 'a'.repeat(MAX_NAME_LENGTH + 1), ...HOSTILE]) {
      expect([bad, identifierProblem(bad)]).not.toEqual([bad, undefined]);
    }
  });

  test('comments: printable ASCII without quote or backslash, at most 128 characters', () => {
    for (const ok of ['', 'ns2/svc2:p80', 'a ; b # c $d { }', 'x'.repeat(MAX_COMMENT_LENGTH)]) expect(commentProblem(ok)).toBeUndefined();
    for (const bad of ['a"b', 'a\\b', 'a\nb', 'tab\tx', 'caf\u00e9', 'x'.repeat(MAX_COMMENT_LENGTH + 1)]) expect(commentProblem(bad)).toBeDefined();
  });

  test('rule words and element parts refuse every hostile string', () => {
    for (const bad of [...HOSTILE, '', 'a b']) expect(ruleWordProblem(bad)).toBeDefined();
    for (const bad of [...HOSTILE, '', ' a', 'a ', 'a  b', '{', '}', 'a,b', '.', ':', 'a . b', 'goto : x']) expect(elementPartProblem(bad)).toBeDefined();
    expect(elementPartProblem('goto service-ULMVA6XW-ns1/svc1/tcp/p80')).toBeUndefined();
    expect(elementPartProblem('fd00:10::1')).toBeUndefined();
  });
});

/**
 * Whatever a Service could put in a name, comment or element, the rendered text is one command:
 * either rendering refuses it, or the text is a single line without `;`, `#` or `$` outside the
 * one quoted comment, and it parses back to the same operation.
 */
describe('no injection through any field', () => {
  const anyText = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(...HOSTILE));
  const ops = fc.oneof(
    anyText.map((s): Operation => ({ verb: 'add', kind: 'chain', table: T, chain: { name: s } })),
    anyText.map((s): Operation => ({ verb: 'add', kind: 'chain', table: T, chain: { name: 'c', comment: s } })),
    fc.tuple(anyText, anyText).map(([w, c]): Operation => ({ verb: 'add', kind: 'rule', table: T, rule: { chain: 'c', words: ['ip', 'saddr', w, 'accept'], comment: c } })),
    fc.tuple(anyText, anyText, anyText).map(([k, v, c]): Operation => ({ verb: 'add', kind: 'element', table: T, element: { container: 'm', key: [k, 'tcp'], value: [v], comment: c } })),
    anyText.map((s): Operation => ({ verb: 'delete', kind: 'element', table: T, container: 's', key: [s] })),
    anyText.map((s): Operation => ({ verb: 'add', kind: 'table', table: { family: 'ip', name: s } })),
  );

  test('refused, or exactly one command that reads back the same', () => {
    fc.assert(
      fc.property(ops, (op) => {
        let text: string;
        try {
          text = renderOperation(op);
        } catch (e) {
          expect((e as Error).message).toMatch(/^unsafe nft /);
          return;
        }
        const outsideQuotes = text.replace(/"[^"\\]*"/g, '""');
        // `;` only ends a property inside an object's `{ … }` (`{ comment "…" ; }`), never a rule or element.
        const bare = op.kind === 'rule' || op.kind === 'element' ? outsideQuotes : outsideQuotes.replace(/ ; /g, ' ');
        expect(bare).not.toMatch(/[\n\r;#$\\'\x00-\x1f\x7f-\uffff]/);
        expect((outsideQuotes.match(/"/g) ?? []).length).toBeLessThanOrEqual(2);
        expect(parseTransaction(text).operations).toEqual([op]);
      }),
    );
  });

  test.each(HOSTILE)('%j is refused in a comment or element, and anywhere as a word', (s) => {
    const asWord: Operation = { verb: 'add', kind: 'rule', table: T, rule: { chain: 'c', words: ['ip', 'saddr', s] } };
    const asElement: Operation = { verb: 'add', kind: 'element', table: T, element: { container: 's', key: [s] } };
    expect(() => renderOperation(asWord)).toThrow(/unsafe nft rule/);
    expect(() => renderOperation(asElement)).toThrow(/unsafe nft element/);
    if (!/["\\\x00-\x1f\x7f-\uffff]/.test(s)) return; // `;`, `#`, `$`, `'` are harmless inside the quotes
    const asComment: Operation = { verb: 'add', kind: 'rule', table: T, rule: { chain: 'c', words: ['accept'], comment: s } };
    expect(() => renderOperation(asComment)).toThrow(/unsafe nft rule/);
  });
});
