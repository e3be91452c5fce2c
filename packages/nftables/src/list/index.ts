/**
 * A host's ruleset in whichever form it comes: `nft -j list ruleset` (JSON), `nft list ruleset`
 * (text) or a knftables transaction/Dump() (`add table …` lines, as `svcrules compile --mode
 * nftables` prints). The form is told by the first meaningful character or word.
 */
// parseDump lives in the package index; the cycle is harmless (used only at call time).
import { parseDump } from '../index.js';
import { parseListJson } from './json.js';
import { parseListText, type ListedRuleset } from './text.js';

export { parseListText, durationSeconds, PRIORITY_NAMES, type ListedRuleset } from './text.js';
export { parseListJson, NftJsonError, exprText, stmtText } from './json.js';

export type RulesetFormat = 'json' | 'list' | 'dump';

export function detectRulesetFormat(text: string): RulesetFormat {
  const first = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (first === undefined) return 'list';
  if (first.startsWith('{')) return 'json';
  if (/^add\s/.test(first)) return 'dump';
  return 'list';
}

export function parseRuleset(text: string): ListedRuleset & { readonly format: RulesetFormat } {
  const format = detectRulesetFormat(text);
  if (format === 'json') return { format, ...parseListJson(text) };
  if (format === 'dump') return { format, rulesets: [parseDump(text)], skipped: [] };
  return { format, ...parseListText(text) };
}
