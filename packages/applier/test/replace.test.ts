/** Full syncs that replace whole tables must leave exactly the host that --noflush full syncs leave. */
import fc from 'fast-check';
import { compile } from '@svcrules/core';
import type { Ruleset } from '@svcrules/iptables';
import { snapshotArb } from '@svcrules/testkit';
import { plan } from '@svcrules/iptables';
import { KUBE_PROXY_POLICY } from '@svcrules/core';
import { createApplier, FakeNetfilter, replacementTables } from '../src/index.js';
import { endpoints, rules, service, slice, snapshot } from './helpers.js';

/** Another component's rules in both tables, and a foreign jump from a built-in chain. */
const FOREIGN = [
  '*nat',
  ':MY-CHAIN - [0:0]',
  '-A MY-CHAIN -s 198.51.100.7 -j RETURN',
  '-A PREROUTING -j MY-CHAIN',
  'COMMIT',
  '*filter',
  ':INPUT DROP [0:0]',
  '-A INPUT -s 198.51.100.8 -j ACCEPT',
  'COMMIT',
  '',
].join('\n');

const saveAll = async (nf: FakeNetfilter) => (await nf.save('ipv4', 'filter')) + (await nf.save('ipv4', 'nat'));

/** Applies each ruleset with a fresh Applier (so every apply is a full sync) in the given load mode. */
async function host(steps: readonly Ruleset[], fullSyncLoad: 'noflush' | 'replace'): Promise<{ nf: FakeNetfilter; loads: string[] }> {
  const nf = new FakeNetfilter();
  await nf.restore('ipv4', FOREIGN, { noflush: true });
  const loads: string[] = [];
  for (const r of steps) loads.push((await createApplier({ netfilter: nf, family: 'ipv4', fullSyncLoad }).apply(r)).load);
  return { nf, loads };
}

const svc1 = service('ns1', 'svc1', '172.30.0.41');
const svc2 = service('ns2', 'svc2', '172.30.0.42');
const v1 = rules(snapshot([svc1, svc2], [slice(svc1, endpoints(['10.180.0.1', '10.180.0.2'])), slice(svc2, endpoints(['10.180.0.4']))]));
const v2 = rules(snapshot([svc1], [slice(svc1, endpoints(['10.180.0.3']))]));

test('replace: loads without --noflush, keeps foreign chains, rules and policies, deletes stale chains', async () => {
  const { nf, loads } = await host([v1, v2], 'replace');
  expect(loads).toEqual(['replace', 'replace']);
  expect(nf.restores.slice(1).map((r) => r.options.noflush)).toEqual([false, false]); // after the foreign seed
  const text = await saveAll(nf);
  expect(text).toContain(':INPUT DROP');
  expect(text).toContain('-A INPUT -s 198.51.100.8/32 -j ACCEPT');
  expect(text).toContain('-A MY-CHAIN -s 198.51.100.7/32 -j RETURN');
  expect(text).toContain('-A PREROUTING -j MY-CHAIN');
  expect(text).toContain('KUBE-SVCRULES-CANARY');
  expect(text).not.toContain('ns2/svc2'); // svc2's chains were stale after v2
  expect(text).toBe(await saveAll((await host([v1, v2], 'noflush')).nf));
});

test('a partial sync after a replacing full sync uses --noflush', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4', fullSyncLoad: 'replace' });
  expect((await a.apply(v1)).load).toBe('replace');
  const r = await a.apply(v2);
  expect([r.mode, r.load]).toEqual(['partial', 'noflush']);
  expect(nf.restores.at(-1)!.options.noflush).toBe(true);
});

test('a host rule that cannot be re-rendered safely makes replacementTables decline (the Applier then uses --noflush)', () => {
  const host: Ruleset = {
    tables: [{ name: 'filter', chains: [{ name: 'FOREIGN', policy: '-', counters: '0:0' }], commands: [{ kind: 'append', chain: 'FOREIGN', args: ['-m', 'comment', '--comment', "it's theirs", '-j', 'RETURN'] }] }],
  };
  const p = plan({ tables: () => [], chains: () => [], matches: () => false, referencedBy: () => [] } as never, v1, KUBE_PROXY_POLICY);
  expect(replacementTables(host, p)).toBeUndefined();
  const safe: Ruleset = { tables: [{ ...host.tables[0]!, commands: [{ kind: 'append', chain: 'FOREIGN', args: ['-j', 'RETURN'] }] }] };
  const replaced = replacementTables(safe, p)!;
  expect(replaced.tables.find((t) => t.name === 'filter')!.chains.map((c) => c.name)).toContain('FOREIGN');
});

test('property: any two snapshots applied in full syncs leave the same host in both load modes', async () => {
  await fc.assert(
    fc.asyncProperty(snapshotArb('IPv4', 4), snapshotArb('IPv4', 4), fc.boolean(), async (a, b, localhost) => {
      const opts = { family: 'IPv4' as const };
      const steps = [a, b].map((s) => compile({ ...s, config: { ...s.config, localhostNodePorts: localhost } }, opts).ruleset);
      const [x, y] = await Promise.all([host(steps, 'noflush'), host(steps, 'replace')]);
      expect(await saveAll(y.nf)).toBe(await saveAll(x.nf));
    }),
  );
});
