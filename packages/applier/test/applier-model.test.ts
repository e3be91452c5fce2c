/**
 * Model test (fast-check commands) of the Applier on the strict Fake: any sequence of snapshots, with
 * tables flushed behind its back now and then, leaves the host exactly as one full apply of the last
 * snapshot on a fresh host would; partial applies never read the host; a repeat apply is a no-op.
 * This is the check KEP-3453 declined: partial results equal the full rebuild, rule for rule.
 */
import fc from 'fast-check';
import type { Snapshot } from '@svcrules/core';
import type { Ruleset, TableName } from '@svcrules/iptables';
import { snapshotArb } from '@svcrules/testkit';
import { createApplier, FakeNetfilter, type Applier } from '../src/index.js';
import { rules } from './helpers.js';

interface Model {
  applied: boolean;
  wiped: boolean;
}
interface Real {
  nf: FakeNetfilter;
  applier: Applier;
}

async function fresh(desired: Ruleset): Promise<string> {
  const nf = new FakeNetfilter();
  await createApplier({ netfilter: nf, family: 'ipv4' }).apply(desired);
  return nf.save('ipv4');
}

class ApplyCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly snapshot: Snapshot) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const desired = rules(this.snapshot);
    const saves = r.nf.saves.ipv4;
    const result = await r.applier.apply(desired);
    expect(result.mode).toBe(!m.applied || m.wiped ? 'full' : 'partial');
    if (result.mode === 'partial') expect(r.nf.saves.ipv4).toBe(saves);
    expect(await r.nf.save('ipv4')).toBe(await fresh(desired));
    const again = await r.applier.apply(desired);
    expect(again).toMatchObject({ mode: 'partial', payload: '', restored: false });
    m.applied = true;
    m.wiped = false;
  }
  toString = () => `apply(${this.snapshot.services.map((s) => `${s.namespace}/${s.name}`).join(',')})`;
}

class WipeCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly table: TableName) {}
  check = (m: Readonly<Model>) => m.applied;
  async run(m: Model, r: Real): Promise<void> {
    r.nf.wipeTable('ipv4', this.table);
    m.wiped = true;
  }
  toString = () => `wipe(${this.table})`;
}

test.each(['always', 'when-changed'] as const)('any sequence of applies and foreign flushes converges to the full apply of the last snapshot (top-level chains: %s)', async (topLevelChains) => {
  const commands = [snapshotArb('IPv4', 4).map((s) => new ApplyCommand(s)), fc.constantFrom<TableName>('nat', 'filter').map((t) => new WipeCommand(t))];
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 6 }), async (cmds) => {
      const nf = new FakeNetfilter();
      await fc.asyncModelRun(() => ({ model: { applied: false, wiped: false }, real: { nf, applier: createApplier({ netfilter: nf, family: 'ipv4', topLevelChains }) } }), cmds);
    }),
  );
});
