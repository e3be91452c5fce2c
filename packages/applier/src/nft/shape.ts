/**
 * An opt-in table shape that is not kube-proxy's (createNftApplier `unrollEndpointMaps`): each
 * service chain's `numgen random mod N vmap { 0 : goto A , 1 : goto B , … }` becomes N rules,
 *
 *     numgen random mod N == 0 goto A
 *     numgen random mod N-1 == 0 goto B
 *     …
 *     goto Z
 *
 * each endpoint still chosen with probability 1/N (the i-th rule is reached with probability
 * (N-i)/N and taken with 1/(N-i)), as iptables mode's `statistic --probability` rules do. Why: each
 * of those vmaps is an anonymous set, and the kernel's cost of adding one grows with the open
 * transaction and with the sets of the table (docs/nftables-apply.md); without them the first sync
 * of 10k Services loads several times faster. The price: a new connection walks up to N rules
 * instead of one lookup, and `nft list` shows a table kube-proxy would not write.
 */
import type { NftRuleset, Rule } from '@svcrules/nftables';

const VMAP = /^numgen random mod (\d+) vmap \{ (.*) \}$/;
const ENTRY = /^(\d+) : ((?:goto|jump) \S+)$/;

/** The rules replacing one numgen verdict map, or undefined when `rule` is not one (left as it is). */
function unrolled(rule: Rule): Rule[] | undefined {
  if (rule.comment !== undefined || rule.words[0] !== 'numgen') return undefined;
  const m = VMAP.exec(rule.words.join(' '));
  if (!m) return undefined;
  const n = Number(m[1]);
  const verdicts: string[] = [];
  for (const [i, entry] of m[2]!.split(' , ').entries()) {
    const e = ENTRY.exec(entry);
    if (!e || Number(e[1]) !== i) return undefined;
    verdicts.push(e[2]!);
  }
  if (verdicts.length !== n) return undefined;
  return verdicts.map((v, i) => ({ chain: rule.chain, words: i === n - 1 ? v.split(' ') : ['numgen', 'random', 'mod', String(n - i), '==', '0', ...v.split(' ')] }));
}

/** `rs` with every service chain's `numgen random mod N vmap { … }` unrolled into N rules. */
export function unrollEndpointMaps(rs: NftRuleset): NftRuleset {
  const rules: Rule[] = [];
  let changed = false;
  for (const rule of rs.rules) {
    const out = unrolled(rule);
    if (out === undefined) rules.push(rule);
    else {
      rules.push(...out);
      changed = true;
    }
  }
  return changed ? { ...rs, rules } : rs;
}
