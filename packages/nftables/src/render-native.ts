/**
 * The ruleset in nft's own block syntax, as `nft -f` reads it and close to what `nft list ruleset`
 * prints: one `table … { … }` holding its sets, maps (with `elements = { … }`) and chains (with
 * their rules, one a line). The same objects as `renderDump` in the same order (sets, maps, chains,
 * each by name; rules and elements in ruleset order), without the `add rule ip kube-proxy CHAIN`
 * head on every line, so a large table takes fewer bytes.
 *
 * Every piece passes the checks of check.ts, as in render.ts. Inside a block two more things
 * matter: a rule must not close the block it sits in (its `{` and `}` balance, never going below
 * zero), and must not begin with a word nft reads as a chain property (`type … hook …` would hook
 * the chain; `policy`, `comment`, `flags`, `devices`), so a rule cannot change the structure.
 */
import { NATIVE_FORM, declaredElementParts, mapProblem, setProblem, tableProblem, uncheckedChainProblem, writeRuleWords } from './check.js';
import type { Element, NftMap, NftRuleset, NftSet } from './ir.js';
import { dumpOrder } from './render.js';
import { Text } from './text.js';
import { assertNft, quoteComment } from './words.js';

const commentLine = (indent: string, c: string | undefined): string => (c === undefined ? '' : `${indent}comment ${quoteComment(c)}\n`);

function writeContainer(out: Text, s: NftSet | NftMap, type: string, elements: readonly Element[], from: number, count: number): void {
  out.push(`\t${'valueType' in s ? 'map' : 'set'} ${s.name} {\n\t\ttype ${type}\n`);
  if (s.flags !== undefined) out.push(`\t\tflags ${s.flags.join(',')}\n`);
  if (s.timeout !== undefined) out.push(`\t\ttimeout ${s.timeout}s\n`);
  out.push(commentLine('\t\t', s.comment));
  for (let i = 0; i < count; i++) out.push(`${i === 0 ? '\t\telements = { ' : ',\n\t\t\t'}${elementText(elements[from + i]!)}`);
  out.push(count > 0 ? ' }\n\t}\n' : '\t}\n');
}

/** An element of a set or map checked where it is declared. */
function elementText(e: Element): string {
  const p = declaredElementParts(e);
  const comment = p.comment === undefined ? '' : ` comment ${quoteComment(p.comment)}`;
  return p.value === undefined ? p.key + comment : `${p.key}${comment} : ${p.value}`;
}

/** The ruleset as one `table` block. Throws on an unsafe object or a rule or element without its chain, set or map. */
export function renderNative(rs: NftRuleset): string {
  assertNft(tableProblem(rs.table), 'table', rs.table);
  const d = dumpOrder(rs);
  const out = new Text();
  out.push(`table ${rs.table.family} ${rs.table.name} {\n${commentLine('\t', rs.table.comment)}`);
  // Elements, then rules, in the runs dumpOrder counted for each set, map and chain.
  let at = 0;
  d.sets.forEach((s, i) => {
    assertNft(setProblem(s), 'set', s);
    writeContainer(out, s, s.type.join(' . '), d.elements, at, d.elementCounts[i]!);
    at += d.elementCounts[i]!;
  });
  d.maps.forEach((m, i) => {
    assertNft(mapProblem(m), 'map', m);
    const n = d.elementCounts[d.sets.length + i]!;
    writeContainer(out, m, `${m.type.join(' . ')} : ${m.valueType.join(' . ')}`, d.elements, at, n);
    at += n;
  });
  let r = 0;
  // A chain's closing brace goes out with the next chain's head (one piece fewer a chain).
  for (let i = 0; i < d.chains.length; i++) {
    const c = d.chains[i]!;
    assertNft(uncheckedChainProblem(c), 'chain', c);
    out.push(i === 0 ? '\tchain ' : '\t}\n\tchain ');
    out.push(c.name);
    out.push(' {\n');
    if (c.base !== undefined) out.push(`\t\ttype ${c.base.type} hook ${c.base.hook} priority ${c.base.priority};${c.policy === undefined ? '' : ` policy ${c.policy};`}\n`);
    if (c.comment !== undefined) out.push(commentLine('\t\t', c.comment));
    // writeRuleWords refuses a rule that could not stand in a chain block.
    for (const end = r + d.ruleCounts[i]!; r < end; r++) writeRuleWords(d.rules[r]!, NATIVE_FORM, out);
  }
  out.push(d.chains.length > 0 ? '\t}\n}\n' : '}\n');
  return out.done();
}
