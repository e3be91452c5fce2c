/**
 * An in-memory NftHost for unit tests: every transaction is parsed back from its text and run with
 * `applyTransaction` (knftables' Fake semantics: all or nothing, flushing or deleting something
 * missing fails, every jump target and set must exist). One table per family and name.
 */
import { applyTransaction, parseTransaction, renderOperation, type NftRuleset, type Operation } from '@svcrules/nftables';
import type { ListedSet, NftHost } from './host.js';
import { NftTransactionError } from './host.js';

export class FakeNftHost implements NftHost {
  readonly tables = new Map<string, NftRuleset>();
  /** Every transaction text run (not checks), in order. */
  readonly transactions: string[] = [];
  /** Fails the next run with this reason, applying nothing. */
  failNext: string | undefined;

  async run(text: string, options: { readonly check?: boolean } = {}): Promise<void> {
    const command = options.check ? 'nft -c -f -' : 'nft -f -';
    if (this.failNext !== undefined) {
      const reason = this.failNext;
      this.failNext = undefined;
      throw new NftTransactionError(command, undefined, reason, '', reason);
    }
    const { operations } = parseTransaction(text);
    const next = new Map(this.tables);
    // Consecutive operations on one table run as one applyTransaction (it models one table).
    let i = 0;
    while (i < operations.length) {
      const key = tableKey(operations[i]!);
      let j = i;
      while (j < operations.length && tableKey(operations[j]!) === key) j++;
      try {
        const after = applyTransaction(next.get(key), { operations: operations.slice(i, j) });
        if (after === undefined) next.delete(key);
        else next.set(key, after);
      } catch (e) {
        throw new NftTransactionError(command, undefined, (e as Error).message, '', (e as Error).message);
      }
      i = j;
    }
    if (options.check) return;
    this.transactions.push(text);
    this.tables.clear();
    for (const [k, v] of next) this.tables.set(k, v);
  }

  async listSet(family: 'ip' | 'ip6', table: string, set: string): Promise<ListedSet> {
    const rs = this.tables.get(`${family} ${table}`);
    if (rs === undefined) return { missing: 'table' };
    if (!rs.sets.some((s) => s.name === set)) return { missing: 'set' };
    const elements = rs.elements.filter((e) => e.container === set).map((element) => renderOperation({ verb: 'add', kind: 'element', table: rs.table, element }));
    return { text: elements.map((e) => `${e}
`).join('') };
  }

  /** The table's current ruleset (undefined: no such table). */
  table(family: 'ip' | 'ip6', name: string): NftRuleset | undefined {
    return this.tables.get(`${family} ${name}`);
  }
}

const tableKey = (op: Operation): string => `${op.table.family} ${op.table.name}`;
