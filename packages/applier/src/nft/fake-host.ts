/**
 * An in-memory NftHost for unit tests: every transaction is parsed back from its text and run with
 * `applyTransaction` (knftables' Fake semantics: all or nothing, flushing or deleting something
 * missing fails, every jump target and set must exist). One table per family and name.
 */
import { applyTransaction, parseTransaction, renderOperation, type NftRuleset, type Operation } from '@svcrules/nftables';
import type { NftHost } from './host.js';
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

  async listChain(family: 'ip' | 'ip6', table: string, chain: string): Promise<string | undefined> {
    const rs = this.tables.get(`${family} ${table}`);
    if (rs === undefined || !rs.chains.some((c) => c.name === chain)) return undefined;
    const rules = rs.rules.filter((r) => r.chain === chain).map((rule) => renderOperation({ verb: 'add', kind: 'rule', table: rs.table, rule }));
    return rules.map((r) => `${r}\n`).join('');
  }

  async tableExists(family: 'ip' | 'ip6', table: string): Promise<boolean> {
    return this.tables.has(`${family} ${table}`);
  }

  /** The table's current ruleset (undefined: no such table). */
  table(family: 'ip' | 'ip6', name: string): NftRuleset | undefined {
    return this.tables.get(`${family} ${name}`);
  }
}

const tableKey = (op: Operation): string => `${op.table.family} ${op.table.name}`;
