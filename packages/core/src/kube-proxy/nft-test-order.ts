/**
 * kube-proxy's nftables test normaliser, `sortNFTablesTransaction` in
 * pkg/proxy/nftables/helpers_test.go: drop blank and `#` lines, then a stable sort by object type
 * (table, chain, rule, set, map, element, anything else), then by object name (the 5th word: for a
 * rule its chain, for an element its set or map), keeping rules in order within a chain and sorting
 * everything else by the whole line. Joined with `\n`, with no final newline. Only for comparing
 * output with kube-proxy's goldens. Go's comparator is not a strict order (`>=` on the type rank,
 * `false` for lines under 5 words), so Go's own stable sort is reproduced to get the same result.
 */
import { goSliceStable } from './go-sort.js';

const OBJECT_ORDER: Readonly<Record<string, number>> = { table: 10, chain: 9, rule: 8, set: 7, map: 6, element: 5 };
const rank = (type: string): number => (Object.prototype.hasOwnProperty.call(OBJECT_ORDER, type) ? OBJECT_ORDER[type]! : 0);

export function sortNFTablesTransaction(tx: string): string {
  const lines = tx.split('\n').filter((l) => l !== '' && l[0] !== '#');
  const keyed = lines.map((line) => ({ line, words: line.split(' ') }));
  goSliceStable(keyed, (i, j) => {
    const wi = i.words;
    const wj = j.words;
    if (wi.length < 5 || wj.length < 5) return false;
    if (wi[1] !== wj[1]) return rank(wi[1]!) >= rank(wj[1]!);
    if (wi[4] !== wj[4]) return wi[4]! < wj[4]!;
    if (wi[1] === 'rule') return false;
    return i.line < j.line;
  });
  return keyed.map((k) => k.line).join('\n');
}
