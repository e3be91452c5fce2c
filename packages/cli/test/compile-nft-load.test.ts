/**
 * Every nftables compile golden (fixtures/compile-nft/features, both families) and the compiled
 * input of every kube-proxy whole-dump test (for IPv4 and IPv6) loads with the REAL `nft -f` into a
 * fresh network namespace, as printed, and `nft -j list table` then shows exactly the chains, rules
 * per chain, sets, maps and elements per set or map the text declares.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileNFTables } from '@svcrules/core';
import { parseDump, renderDump } from '@svcrules/nftables';
import type { NftRuleset } from '@svcrules/nftables';
import { loadSnapshot } from '@svcrules/snapshot';
import { FIXTURES, caseName, findCases, kernelGate, mustRunIn, withNetns } from '@svcrules/testkit';

const kernel = kernelGate(['ip', 'nft']);

const features = findCases(join(FIXTURES, 'compile-nft', 'features'), 'cmd')
  .filter((dir) => !existsSync(join(dir, 'expected.code')))
  .map((dir) => [caseName(dir), readFileSync(join(dir, 'expected.out'), 'utf8')] as const);

const UPSTREAM = join(FIXTURES, 'compile-nft', 'upstream');
const upstreamInputs = findCases(UPSTREAM, 'NOTES').flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => (['IPv4', 'IPv6'] as const).map((family) => [`${caseName(join(dir, f))} ${family}`, join(dir, f), family] as const)),
);

interface Listed {
  chains: Record<string, number>;
  sets: Record<string, number>;
  maps: Record<string, number>;
}

type NftJson = { nftables: Record<string, { name?: string; chain?: string; elem?: unknown[] }>[] };

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

function declared(rs: NftRuleset): Listed {
  const count = (names: readonly string[], of: (n: string) => number) => Object.fromEntries(names.map((n) => [n, of(n)]));
  return {
    chains: count(rs.chains.map((c) => c.name), (n) => rs.rules.filter((r) => r.chain === n).length),
    sets: count(rs.sets.map((s) => s.name), (n) => rs.elements.filter((e) => e.container === n).length),
    maps: count(rs.maps.map((m) => m.name), (n) => rs.elements.filter((e) => e.container === n).length),
  };
}

async function loads(text: string): Promise<void> {
  const rs = parseDump(text);
  await withNetns((ns) => {
    mustRunIn(ns, 'nft', ['-f', '-'], { input: text });
    expect(listed(ns, rs)).toEqual(declared(rs));
  }, 'nftc');
}

kernel.describe('nftables compile output loads with the real nft -f', () => {
  test('there are feature goldens of both families and upstream inputs', () => {
    expect(features.some(([, text]) => text.startsWith('add table ip6 '))).toBe(true);
    expect(features.some(([, text]) => text.startsWith('add table ip '))).toBe(true);
    expect(upstreamInputs.length).toBeGreaterThanOrEqual(26);
  });

  test.each(features)('%s', async (_name, text) => loads(text));

  test.each(upstreamInputs)('%s', async (_name, path, family) => {
    const loaded = loadSnapshot([{ name: path, text: readFileSync(path, 'utf8') }]);
    const text = renderDump(compileNFTables(loaded.snapshot, { family, masqueradeMark: '0x4000' }).ruleset);
    expect(text.startsWith(`add table ${family === 'IPv4' ? 'ip' : 'ip6'} kube-proxy`)).toBe(true);
    await loads(text);
  });
});
