/**
 * kube-proxy's whole-dump goldens against the real kernel: each, re-rendered in Dump() order from
 * the parsed table, loads with `nft -f` into a fresh network namespace, and what nft then lists
 * (chains, rules per chain, sets, maps, elements per set/map) is what the model holds.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, caseName, findCases, kernelGate, mustRunIn, runIn, withNetns } from '@svcrules/testkit';
import { parseDump } from '../src/index.js';
import type { NftRuleset } from '../src/ir.js';
import { renderDump } from '../src/render.js';

const kernel = kernelGate(['ip', 'nft']);

const dumps = findCases(join(FIXTURES, 'compile-nft', 'upstream'), 'NOTES').flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.nft'))
    .map((f) => [caseName(join(dir, f)), readFileSync(join(dir, f), 'utf8')] as const),
);

interface Listed {
  chains: Record<string, number>;
  sets: Record<string, number>;
  maps: Record<string, number>;
}

type NftJson = { nftables: Record<string, { name?: string; chain?: string; elem?: unknown[] }>[] };

/** What `nft -j list table` shows, as counts by name. */
function listed(ns: string, rs: NftRuleset): Listed {
  const json = JSON.parse(mustRunIn(ns, 'nft', ['-j', 'list', 'table', rs.table.family, rs.table.name])) as NftJson;
  const out: Listed = { chains: {}, sets: {}, maps: {} };
  for (const o of json.nftables) {
    if (o['chain']) out.chains[o['chain'].name!] ??= 0;
    if (o['rule']) out.chains[o['rule'].chain!] = (out.chains[o['rule'].chain!] ?? 0) + 1;
    if (o['set']) out.sets[o['set'].name!] = o['set'].elem?.length ?? 0;
    if (o['map']) out.maps[o['map'].name!] = o['map'].elem?.length ?? 0;
  }
  return out;
}

function modelled(rs: NftRuleset): Listed {
  const count = (names: readonly string[], of: (n: string) => number) => Object.fromEntries(names.map((n) => [n, of(n)]));
  return {
    chains: count(rs.chains.map((c) => c.name), (n) => rs.rules.filter((r) => r.chain === n).length),
    sets: count(rs.sets.map((s) => s.name), (n) => rs.elements.filter((e) => e.container === n).length),
    maps: count(rs.maps.map((m) => m.name), (n) => rs.elements.filter((e) => e.container === n).length),
  };
}

kernel.describe('kube-proxy nftables goldens load with the real nft -f', () => {
  test.each(dumps)('%s', async (_name, text) => {
    const rs = parseDump(text);
    await withNetns((ns) => {
      mustRunIn(ns, 'nft', ['-f', '-'], { input: renderDump(rs) });
      expect(listed(ns, rs)).toEqual(modelled(rs));
    }, 'nft');
  });

  test('nft refuses the test-order text, where rules jump to chains added further down', async () => {
    const text = readFileSync(join(FIXTURES, 'compile-nft/upstream/TestOverallNFTablesRules/expected.nft'), 'utf8');
    await withNetns((ns) => {
      const r = runIn(ns, 'nft', ['-f', '-'], { input: text });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/endpoint-5OJB2KTY-ns1\/svc1\/tcp\/p80__10\.180\.0\.1\/80/);
    }, 'nft');
  });
});
