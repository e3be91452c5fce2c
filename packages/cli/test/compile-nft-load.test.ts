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
import { loadSnapshot } from '@svcrules/snapshot';
import { FIXTURES, caseName, findCases, kernelGate, mustRunIn, nftDeclared, nftListed, withNetns } from '@svcrules/testkit';

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

async function loads(text: string): Promise<void> {
  const rs = parseDump(text);
  await withNetns((ns) => {
    mustRunIn(ns, 'nft', ['-f', '-'], { input: text });
    expect(nftListed(ns, rs)).toEqual(nftDeclared(rs));
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
