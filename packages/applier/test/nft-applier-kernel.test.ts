/**
 * The nftables applier against the real kernel, in throwaway network namespaces: kube-proxy's
 * TestSyncProxyRulesRepeated states and a 3 → 1 → 0 → 2 Service sequence land exactly (what
 * `nft -j list table` shows is the model, stale chains included), with a foreign iptables rule and a
 * foreign nft table untouched at every step; a re-apply runs nothing; a transaction nft refuses
 * leaves the previous table; a kube-proxy table is refused unless forced; packets after each step,
 * in kube-proxy's table and in the opt-in unrolled shape loaded in stages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NftRuleset } from '@svcrules/nftables';
import { parseDump, renderDump } from '@svcrules/nftables';
import { FIXTURES, kernelGate, kubeProxyShapedRuleset, mustRunIn, NetnsCluster, podsOf, withNetns } from '@svcrules/testkit';
import { createExecNftHost, createNftApplier, NftTableOwnedError, NftTransactionError, SVCRULES_NFT_CANARY } from '../src/index.js';

const kernel = kernelGate(['ip', 'nft', 'iptables']);

const REPEATED = join(FIXTURES, 'compile-nft/upstream/TestSyncProxyRulesRepeated');
const expected = (n: number) => parseDump(readFileSync(join(REPEATED, `expected-${String(n).padStart(2, '0')}.nft`), 'utf8'));

/** The dump without the empty service chains nothing refers to (what the compiler wants at that step). */
function wanted(rs: NftRuleset): NftRuleset {
  const used = new Set([...rs.rules.flatMap((r) => r.words), ...rs.elements.flatMap((e) => (e.value ?? []).flatMap((v) => v.split(' ')))]);
  return { ...rs, chains: rs.chains.filter((c) => !c.name.includes('/') || rs.rules.some((r) => r.chain === c.name) || used.has(c.name)) };
}

type Counts = Record<string, number>;
type NftJson = { nftables: Record<string, { name?: string; chain?: string; elem?: unknown[] }>[] };

/** Chains (with rule counts), sets and maps (with element counts) as nft lists them; our canary aside. */
function listed(ns: string): Counts {
  const json = JSON.parse(mustRunIn(ns, 'nft', ['-j', 'list', 'table', 'ip', 'kube-proxy'])) as NftJson;
  const out: Counts = {};
  for (const o of json.nftables) {
    if (o['chain']) out[`chain ${o['chain'].name}`] ??= 0;
    if (o['rule']) out[`chain ${o['rule'].chain}`] = (out[`chain ${o['rule'].chain}`] ?? 0) + 1;
    for (const k of ['set', 'map']) if (o[k]) out[`${k} ${o[k].name}`] = o[k].elem?.length ?? 0;
  }
  expect(out[`set ${SVCRULES_NFT_CANARY}`]).toBe(1);
  delete out[`set ${SVCRULES_NFT_CANARY}`];
  return out;
}

function modelled(rs: NftRuleset, stale: Iterable<string> = []): Counts {
  const out: Counts = {};
  for (const c of rs.chains) out[`chain ${c.name}`] = rs.rules.filter((r) => r.chain === c.name).length;
  // A stale chain wanted again is a chain like any other.
  for (const name of stale) out[`chain ${name}`] ??= 0;
  for (const s of rs.sets) out[`set ${s.name}`] = rs.elements.filter((e) => e.container === s.name).length;
  for (const m of rs.maps) out[`map ${m.name}`] = rs.elements.filter((e) => e.container === m.name).length;
  return out;
}

/** A foreign iptables chain with a rule and a foreign nft table with a base chain and a rule; returns how to list them. */
function addForeign(ns: string): () => string {
  mustRunIn(ns, 'iptables', ['-t', 'nat', '-N', 'FOREIGN']);
  mustRunIn(ns, 'iptables', ['-t', 'nat', '-A', 'FOREIGN', '-p', 'tcp', '--dport', '9999', '-j', 'RETURN']);
  mustRunIn(ns, 'nft', ['-f', '-'], { input: 'add table inet foreign\nadd chain inet foreign input { type filter hook input priority 0 ; }\nadd rule inet foreign input tcp dport 9998 drop\n' });
  return () => mustRunIn(ns, 'iptables', ['-t', 'nat', '-S']) + mustRunIn(ns, 'nft', ['list', 'table', 'inet', 'foreign']);
}

/** Foreign rules in place, and an applier on a clock the test moves. */
function start(ns: string) {
  const foreign = addForeign(ns);
  const clock = { now: 1_000_000 };
  return { foreign, before: foreign(), clock, applier: createNftApplier({ host: createExecNftHost({ netns: ns }), family: 'ipv4', clock: () => clock.now }) };
}

kernel.describe('nftables applier on the real kernel', () => {
  test('kube-proxy TestSyncProxyRulesRepeated, sync by sync, stale chains included; foreign rules survive', () =>
    withNetns(async (ns) => {
      const { foreign, before, clock, applier } = start(ns);
      for (let n = 0; n <= 9; n++) {
        if (n === 3 || n === 7) clock.now += 2000;
        await applier.apply(wanted(expected(n)));
        expect({ step: n, table: listed(ns) }).toEqual({ step: n, table: modelled(expected(n)) });
        expect(foreign()).toBe(before);
      }
    }, 'nfta'));

  test('3 → 1 → 0 → 2 Services, a re-apply that runs nothing, a refused transaction that leaves the table', () =>
    withNetns(async (ns) => {
      const { foreign, before, clock, applier } = start(ns);
      const stale = new Set<string>();
      for (const services of [3, 1, 0, 2]) {
        clock.now += 500;
        const rs = kubeProxyShapedRuleset({ services, endpoints: 2 });
        const r = await applier.apply(rs);
        for (const c of r.staleChainsDeleted) stale.delete(c);
        for (const c of r.staleChainsFlushed) stale.add(c);
        expect({ services, table: listed(ns) }).toEqual({ services, table: modelled(rs, stale) });
        expect(foreign()).toBe(before);
        const again = await applier.apply(rs);
        expect({ services, transaction: again.transaction, mode: again.mode }).toEqual({ services, transaction: '', mode: 'partial' });
      }
      const good = kubeProxyShapedRuleset({ services: 2, endpoints: 2 });
      const table = listed(ns);
      // A rule jumping to a chain that does not exist: nft refuses the whole transaction.
      const broken: NftRuleset = { ...kubeProxyShapedRuleset({ services: 4, endpoints: 2 }), rules: [...good.rules, { chain: 'services', words: ['jump', 'no-such-chain'] }] };
      await expect(applier.apply(broken)).rejects.toThrow(NftTransactionError);
      expect(listed(ns)).toEqual(table);
      expect(foreign()).toBe(before);
      const r = await applier.apply(good);
      expect(r.mode).toBe('full');
      expect(listed(ns)).toEqual(modelled(good));
      // A dry run checks with nft -c and changes nothing.
      const dry = await applier.apply(kubeProxyShapedRuleset({ services: 5, endpoints: 1 }), { dryRun: true });
      expect(dry.transaction).not.toBe('');
      expect(listed(ns)).toEqual(modelled(good));
    }, 'nfta'));

  test("a kube-proxy table is refused, unchanged, and replaced only with force; other families' tables stay", () =>
    withNetns(async (ns) => {
      const kubeProxy = renderDump(expected(0));
      mustRunIn(ns, 'nft', ['-f', '-'], { input: kubeProxy });
      mustRunIn(ns, 'nft', ['-f', '-'], { input: 'add table ip6 kube-proxy\nadd chain ip6 kube-proxy mine\n' });
      const host = createExecNftHost({ netns: ns });
      const desired = kubeProxyShapedRuleset({ services: 2, endpoints: 2 });
      const listing = () => mustRunIn(ns, 'nft', ['list', 'ruleset']);
      const was = listing();
      await expect(createNftApplier({ host, family: 'ipv4' }).apply(desired)).rejects.toThrow(NftTableOwnedError);
      expect(listing()).toBe(was);
      const r = await createNftApplier({ host, family: 'ipv4', force: true }).apply(desired);
      expect(r.mode).toBe('full');
      expect(listed(ns)).toEqual(modelled(desired));
      expect(mustRunIn(ns, 'nft', ['list', 'table', 'ip6', 'kube-proxy'])).toContain('chain mine');
    }, 'nfta'));

  test.each([
    ["kube-proxy's table", {}],
    ['the opt-in unrolled shape, staged', { unrollEndpointMaps: true, stagedLoadAbove: 0 }],
  ] as const)('3 → 1 → 0 → 2 Services, %s: after each step the kernel sends a client to exactly the Services loaded', async (_, shape) => {
    // The generator's Service i has cluster IP 172.30.0.i and endpoints 10.0.i.1, 10.0.i.2 on port 80.
    const pods = [0, 1, 2].flatMap((i) => [1, 2].map((j) => ({ name: `svc${i}-ep${j}`, ip: `10.0.${i}.${j}`, tcpPorts: [80] })));
    const cluster = await NetnsCluster.create({ pods });
    try {
      const clock = { now: 1_000_000 };
      const applier = createNftApplier({ host: createExecNftHost({ netns: cluster.node }), family: 'ipv4', clock: () => clock.now, ...shape });
      for (const services of [3, 1, 0, 2]) {
        clock.now += 1500;
        await applier.apply(kubeProxyShapedRuleset({ services, endpoints: 2 }));
        const listing = mustRunIn(cluster.node, 'nft', ['list', 'table', 'ip', 'kube-proxy']);
        if (services > 0) expect(listing.includes('numgen random mod 2 vmap {')).toBe(!('unrollEndpointMaps' in shape));
        if (services > 0) expect(listing.includes('numgen random mod 2 0 goto endpoint-')).toBe('unrollEndpointMaps' in shape);
        for (const i of [0, 1, 2]) {
          const got = podsOf(await cluster.probe(cluster.client, { proto: 'tcp', host: `172.30.0.${i}`, port: 80, count: i < services ? 12 : 1, timeoutMs: 700 }));
          expect({ services, service: i, pods: got }).toEqual({ services, service: i, pods: i < services ? [`svc${i}-ep1`, `svc${i}-ep2`] : [] });
        }
      }
    } finally {
      await cluster.destroy();
    }
  }, 120_000);
});

