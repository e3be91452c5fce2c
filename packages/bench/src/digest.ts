/**
 * `pnpm digest [N]`: one SHA-256 over everything the compilers print for N random snapshots (fixed
 * seed) in both families and several option sets, plus the incremental compiler replaying them as a
 * sequence. A refactor that must not change output prints the same digest before and after.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { compile, createIncrementalCompiler } from '@svcrules/core';
import type { CompileOptions, Snapshot } from '@svcrules/core';
import { render } from '@svcrules/iptables';
import { snapshotArb } from '@svcrules/testkit';
import { syntheticSnapshot } from './apply-bench.js';

const n = Number(process.argv[2] ?? 2000);
const hash = createHash('sha256');
const feed = (label: string, text: string) => hash.update(`${label}\n${text}\n`);

const optionSets: CompileOptions[] = [
  {},
  { masqueradeMark: '0x4000', randomFully: false, nfacct: false, tcpBeLiberal: true },
  { largeClusterEndpointsThreshold: 3, existingNatChains: ['KUBE-SVC-AAAAAAAAAAAAAAAA', 'KUBE-SEP-BBBBBBBBBBBBBBBB', 'KUBE-MARK-MASQ'] },
  { nodeName: 'other-node', interfaceAddresses: ['10.0.0.1', '127.0.0.1', 'fd00::1'] },
];

for (const family of ['IPv4', 'IPv6'] as const) {
  const snapshots: Snapshot[] = fc.sample(snapshotArb(family, 8), { seed: family === 'IPv4' ? 4242 : 2424, numRuns: n });
  snapshots.forEach((s, i) => {
    optionSets.forEach((o, j) => {
      const r = compile(s, { ...o, family });
      feed(`${family} ${i} ${j}`, render(r.ruleset) + JSON.stringify(r.diagnostics) + JSON.stringify(r.stats));
    });
  });
  const inc = createIncrementalCompiler({ family });
  const incWhen = createIncrementalCompiler({ family, topLevelChains: 'when-changed' });
  snapshots.slice(0, Math.min(n, 400)).forEach((s, i) => {
    for (const [label, c] of [['always', inc], ['when-changed', incWhen]] as const) {
      const r = c.replace(s);
      feed(`${family} inc ${label} ${i}`, `${r.sync} ${r.fullSyncReason ?? ''} ${r.changedServices.join(',')} ${r.staleChains.join(',')}\n${render(r.payload)}`);
    }
  });
}
feed('synthetic', render(compile(syntheticSnapshot(300, 7, 5), { nodeName: 'other' }).ruleset));
console.log(`${Buffer.from(hash.digest()).toString('hex')}  (${n} snapshots per family)`);
