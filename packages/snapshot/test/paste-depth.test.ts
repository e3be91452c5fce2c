/**
 * tooDeepYaml (paste.ts) reads each line by hand for speed: it must find the same offset as the
 * regular-expression reading it replaced, kept here as the reference.
 */
import fc from 'fast-check';
import { scaledRuns } from '@svcrules/testkit';
import { MAX_NESTING, tooDeepYaml } from '../src/paste.js';

function reference(text: string): number | undefined {
  const indents: number[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const m = /^( *)((?:-[ \t]+|-$)*)(\S)?/.exec(line)!;
    const dashes = m[2]!.split('-').length - 1;
    if ((m[3] !== undefined && m[3] !== '#') || dashes > 0) {
      const indent = m[1]!.length;
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      let flow = dashes;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (c === '[' || c === '{') flow++;
        else if (c === ']' || c === '}') flow--;
        if (indents.length + flow > MAX_NESTING) return offset + i;
      }
    }
    offset += line.length + 1;
  }
  return undefined;
}

const piece = fc.constantFrom(' ', ' ', '  ', '-', '- ', '-\t', '--', '#', '\t', '\r', '\u00a0', 'a', 'k: ', '[', '{', ']', '}', '[[', '{{{{');
/** A staircase of `depth` keys (one per level), then lines around that depth: near the limit. */
const text = fc
  .tuple(fc.integer({ min: MAX_NESTING - 4, max: MAX_NESTING + 1 }), fc.array(fc.tuple(fc.integer({ min: -3, max: 3 }), fc.constantFrom('', '-', '- ', '- -', '-\t-'), fc.array(piece, { maxLength: 8 })), { maxLength: 6 }), fc.constantFrom('\n', '\r\n'))
  .map(([depth, lines, eol]) =>
    [...Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k${i}:`), ...lines.map(([d, lead, parts]) => ' '.repeat(Math.max(0, depth + d)) + lead + parts.join(''))].join(eol),
  );

test('tooDeepYaml finds what the regular-expression reading finds', () => {
  fc.assert(
    fc.property(text, (t) => {
      expect(tooDeepYaml(t)).toBe(reference(t));
    }),
    { numRuns: scaledRuns(300, 100) },
  );
  expect(tooDeepYaml(Array.from({ length: 102 }, (_, i) => `${' '.repeat(i)}k:`).join('\n'))).toBeDefined();
});
