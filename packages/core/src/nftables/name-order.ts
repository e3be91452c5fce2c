/**
 * The order `Fake.Dump()` prints chains, sets and maps in: by name, in code units (what `<` and
 * `Array.prototype.sort` without a comparator compare). A large table holds ~10^5 chain names that
 * share a few beginnings (`endpoint-`, `service-`) and then differ at random (their hash), where a
 * comparison sort spends most of its time in comparator calls. This one groups the names by their
 * text up to the first `-` (which orders groups as it orders whole names), sorts each group by its
 * next four code units packed into one number (a typed-array sort, no comparator), and compares
 * as strings only the names that are equal in those four units.
 */

/** Bits of the group index in a sort key: a group larger than this takes the plain sort. */
const INDEX_BITS = 21;
const INDEX_SPAN = 2 ** INDEX_BITS;
/** More distinct beginnings than this is not a kube-proxy table: the plain sort is as good. */
const MAX_GROUPS = 64;
/** Code units compared by number; each must be below 255 (ASCII names always are). */
const UNITS = 4;

const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** `xs` sorted by `name(x)` in code-unit order; stable (equal names keep their order in `xs`). */
export function sortedByName<T>(xs: readonly T[], name: (x: T) => string, fastFrom = 1024): T[] {
  const plain = (): T[] => [...xs].sort((a, b) => compareNames(name(a), name(b)));
  if (xs.length < fastFrom) return plain();
  const names = xs.map(name);
  const prefixes: string[] = [];
  const members: number[][] = [];
  let last = -1;
  for (let i = 0; i < names.length; i++) {
    const s = names[i]!;
    const dash = s.indexOf('-');
    const end = dash < 0 ? s.length : dash + 1;
    // Names come in runs of one beginning (a service port's endpoint chains): try the last group first.
    let g = last >= 0 && prefixes[last]!.length === end && s.startsWith(prefixes[last]!) ? last : -1;
    for (let k = 0; g < 0 && k < prefixes.length; k++) if (prefixes[k]!.length === end && s.startsWith(prefixes[k]!)) g = k;
    if (g < 0) {
      if (prefixes.length === MAX_GROUPS) return plain();
      g = prefixes.length;
      prefixes.push(s.slice(0, end));
      members.push([]);
    }
    members[g]!.push(i);
    last = g;
  }
  const groupOrder = prefixes.map((_, g) => g).sort((a, b) => compareNames(prefixes[a]!, prefixes[b]!));
  const out: T[] = [];
  for (const g of groupOrder) {
    const sorted = sortedGroup(names, members[g]!, prefixes[g]!.length);
    if (sorted === undefined) return plain();
    for (const i of sorted) out.push(xs[i]!);
  }
  return out;
}

/** The indices `m` of `names` (all with the same `from` code units) in name order, or undefined when a name needs the plain sort. */
function sortedGroup(names: readonly string[], m: readonly number[], from: number): number[] | undefined {
  if (m.length >= INDEX_SPAN) return undefined;
  const keys = new Float64Array(m.length);
  for (let j = 0; j < m.length; j++) {
    const s = names[m[j]!]!;
    let k = 0;
    for (let u = from; u < from + UNITS; u++) {
      // 0 for "ended here", which sorts before any code unit, as a shorter name before a longer one.
      const c = u < s.length ? s.charCodeAt(u) + 1 : 0;
      if (c > 255) return undefined;
      k = k * 256 + c;
    }
    keys[j] = k * INDEX_SPAN + j;
  }
  keys.sort();
  const out = new Array<number>(m.length);
  for (let j = 0; j < m.length; ) {
    const packed = Math.floor(keys[j]! / INDEX_SPAN);
    let end = j + 1;
    while (end < m.length && Math.floor(keys[end]! / INDEX_SPAN) === packed) end++;
    if (end === j + 1) {
      out[j] = m[keys[j]! % INDEX_SPAN]!;
      j = end;
      continue;
    }
    const run: number[] = [];
    for (let r = j; r < end; r++) run.push(m[keys[r]! % INDEX_SPAN]!);
    run.sort((a, b) => compareNames(names[a]!, names[b]!));
    for (let r = 0; r < run.length; r++) out[j + r] = run[r]!;
    j = end;
  }
  return out;
}
