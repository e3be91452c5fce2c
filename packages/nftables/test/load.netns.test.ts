/**
 * kube-proxy's whole-dump goldens against the real kernel: each, re-rendered in Dump() order from
 * the parsed table, loads with `nft -f` into a fresh network namespace, and what nft then lists
 * (chains, rules per chain, sets, maps, elements per set/map) is what the model holds.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, caseName, findCases, kernelGate, mustRunIn, nftDeclared, nftListed, runIn, withNetns } from '@svcrules/testkit';
import { parseDump } from '../src/index.js';
import { renderDump } from '../src/render.js';

const kernel = kernelGate(['ip', 'nft']);

const dumps = findCases(join(FIXTURES, 'compile-nft', 'upstream'), 'NOTES').flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.nft'))
    .map((f) => [caseName(join(dir, f)), readFileSync(join(dir, f), 'utf8')] as const),
);

kernel.describe('kube-proxy nftables goldens load with the real nft -f', () => {
  test.each(dumps)('%s', async (_name, text) => {
    const rs = parseDump(text);
    await withNetns((ns) => {
      mustRunIn(ns, 'nft', ['-f', '-'], { input: renderDump(rs) });
      expect(nftListed(ns, rs)).toEqual(nftDeclared(rs));
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
