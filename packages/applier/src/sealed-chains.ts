/**
 * The chain digests of a state file (state.ts) as the file holds them: per table a `*table` line,
 * then `CHAIN DIGEST` lines sorted by chain name. Read without splitting: one digest is found by
 * binary search over the text, and a few chains changed make a new text from slices of the old
 * one. A partial sync of one Service on a 126k-chain host thus neither builds nor writes 126k map
 * entries; everything else (a full plan against the record) reads it as a Map, built on first use.
 */
import type { TableName } from '@svcrules/iptables';
import { isTableName } from '@svcrules/iptables';

type Digests = ReadonlyMap<TableName, ReadonlyMap<string, string>>;

/** Why a chain section cannot be read (state.ts turns it into a StateError). */
export class ChainSectionError extends Error {}

const DIGEST = 16;
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `*table` and sorted `CHAIN DIGEST` lines of plain digests. */
export function chainSection(chains: Digests): string {
  if (chains instanceof SealedChains) return chains.text;
  const parts: string[] = [];
  for (const [t, m] of chains) {
    parts.push(`*${t}\n`);
    for (const c of [...m.keys()].sort(byName)) parts.push(`${c} ${m.get(c)!}\n`);
  }
  return parts.join('');
}

export class SealedChains implements Digests {
  private map: Map<TableName, Map<string, string>> | undefined;
  /** Per table, the offsets of its chain lines in `text`: [start, end). */
  private readonly spans = new Map<TableName, readonly [number, number]>();
  /** Chain lines in the text. */
  readonly lines: number;

  /** `text`: a chain section (chainSection's form), every line ending in `\n`. */
  constructor(readonly text: string) {
    let lines = 0;
    let table: TableName | undefined;
    let start = 0;
    for (let i = 0; i < text.length; ) {
      const end = text.indexOf('\n', i);
      if (end < 0) throw new ChainSectionError('unterminated chain line');
      if (text.charCodeAt(i) === 0x2a) {
        if (table) this.spans.set(table, [start, i]);
        const name = text.slice(i + 1, end);
        if (!isTableName(name) || this.spans.has(name)) throw new ChainSectionError(`bad table line *${name}`);
        table = name;
        start = end + 1;
      } else {
        if (!table || end - i < DIGEST + 2 || text.charCodeAt(end - DIGEST - 1) !== 0x20) throw new ChainSectionError('bad chain line');
        lines++;
      }
      i = end + 1;
    }
    if (table) this.spans.set(table, [start, text.length]);
    this.lines = lines;
  }

  /** The recorded digest of one chain (binary search; no map built). */
  digest(table: TableName, chain: string): string | undefined {
    if (this.map) return this.map.get(table)?.get(chain);
    const span = this.spans.get(table);
    if (!span) return undefined;
    const at = this.find(span, chain);
    return at.found ? this.text.slice(at.end - DIGEST, at.end) : undefined;
  }

  /**
   * A copy with `removed` chains gone and `added` ones set (added wins over removed), made of
   * slices of this text: a few edits cost a few binary searches.
   */
  edited(removed: ReadonlyMap<TableName, Iterable<string>>, added: Digests): SealedChains {
    const parts: string[] = [];
    const tables = new Set<TableName>([...this.spans.keys(), ...added.keys()]);
    for (const t of tables) {
      const span = this.spans.get(t) ?? [0, 0];
      const edits = new Map<string, string | undefined>();
      for (const c of removed.get(t) ?? []) edits.set(c, undefined);
      for (const [c, d] of added.get(t) ?? []) edits.set(c, d);
      parts.push(`*${t}\n`);
      let from = span[0];
      for (const c of [...edits.keys()].sort(byName)) {
        const at = this.spans.has(t) ? this.find(span, c) : { found: false, start: 0, end: 0 };
        parts.push(this.text.slice(from, at.start));
        from = at.found ? at.end + 1 : at.start;
        const d = edits.get(c);
        if (d !== undefined) parts.push(`${c} ${d}\n`);
      }
      parts.push(this.text.slice(from, span[1]));
    }
    return new SealedChains(parts.join(''));
  }

  /**
   * Where `chain`'s line is in the span (found: [start, end) without its newline), or where it
   * would go (start: the offset of the first line after it).
   */
  private find(span: readonly [number, number], chain: string): { found: boolean; start: number; end: number } {
    const text = this.text;
    let lo = span[0];
    let hi = span[1];
    // Invariant: lines starting before lo sort before chain; lines starting at or after hi after it.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const start = mid === span[0] ? mid : text.lastIndexOf('\n', mid - 1) + 1;
      const lineStart = start < lo ? lo : start;
      const end = text.indexOf('\n', lineStart);
      const name = text.slice(lineStart, end - DIGEST - 1);
      if (name === chain) return { found: true, start: lineStart, end };
      if (name < chain) lo = end + 1;
      else hi = lineStart;
    }
    return { found: false, start: lo, end: lo };
  }

  private all(): Map<TableName, Map<string, string>> {
    if (!this.map) {
      const map = new Map<TableName, Map<string, string>>();
      for (const [t, [s, e]] of this.spans) {
        const m = new Map<string, string>();
        for (let i = s; i < e; ) {
          const end = this.text.indexOf('\n', i);
          m.set(this.text.slice(i, end - DIGEST - 1), this.text.slice(end - DIGEST, end));
          i = end + 1;
        }
        map.set(t, m);
      }
      this.map = map;
    }
    return this.map;
  }

  get size(): number {
    return this.spans.size;
  }
  get(t: TableName): ReadonlyMap<string, string> | undefined {
    return this.all().get(t);
  }
  has(t: TableName): boolean {
    return this.spans.has(t);
  }
  keys(): MapIterator<TableName> {
    return this.all().keys();
  }
  values(): MapIterator<ReadonlyMap<string, string>> {
    return this.all().values();
  }
  entries(): MapIterator<[TableName, ReadonlyMap<string, string>]> {
    return this.all().entries();
  }
  forEach(fn: (value: ReadonlyMap<string, string>, key: TableName, map: Digests) => void): void {
    for (const [k, v] of this.all()) fn(v, k, this);
  }
  [Symbol.iterator](): MapIterator<[TableName, ReadonlyMap<string, string>]> {
    return this.entries();
  }
}

/** One chain's recorded digest, without building a map when the digests are a file's. */
export function recordedDigest(chains: Digests, table: TableName, chain: string): string | undefined {
  return chains instanceof SealedChains ? chains.digest(table, chain) : chains.get(table)?.get(chain);
}
