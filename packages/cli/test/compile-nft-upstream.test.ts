/**
 * kube-proxy's whole-dump nftables tests (fixtures/compile-nft/upstream, from its proxier_test.go):
 * compiling each input with the test fake's mark gives the expected dump after kube-proxy's own
 * normaliser (`sortNFTablesTransaction`), as `assertNFTablesTransactionEqual` compares them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileNFTables } from '@svcrules/core';
import type { NFTablesCompileOptions } from '@svcrules/core';
import { parseDump, renderDump } from '@svcrules/nftables';
import { sortNFTablesTransaction } from '@svcrules/core';
import { loadSnapshot } from '@svcrules/snapshot';
import { FIXTURES } from '@svcrules/testkit';

const ROOT = join(FIXTURES, 'compile-nft', 'upstream');
const FAKE = { masqueradeMark: '0x4000' } as const;

function compileFile(path: string, options: NFTablesCompileOptions = {}, fake = true): string {
  const loaded = loadSnapshot([{ name: path, text: readFileSync(join(ROOT, path), 'utf8') }]);
  expect(loaded.diagnostics).toEqual([]);
  const result = compileNFTables(loaded.snapshot, fake ? { ...FAKE, ...options } : options);
  expect(result.diagnostics).toEqual([]);
  return renderDump(result.ruleset);
}

const expected = (path: string) => sortNFTablesTransaction(readFileSync(join(ROOT, path), 'utf8'));

describe('compile --mode nftables against kube-proxy whole-dump tests', () => {
  test.each(['TestOverallNFTablesRules', 'TestBadIPs'])('%s', (name) => {
    expect(sortNFTablesTransaction(compileFile(`${name}/input.yaml`))).toBe(expected(`${name}/expected.nft`));
  });

  test('TestSyncProxyRulesStartup: the restarted proxier leaves what a sync from an empty table leaves', () => {
    const existing = parseDump(readFileSync(join(ROOT, 'TestSyncProxyRulesStartup/existing.nft'), 'utf8'));
    const out = compileFile('TestSyncProxyRulesStartup/input.yaml', { existingChains: existing.chains.map((c) => c.name) });
    expect(sortNFTablesTransaction(out)).toBe(expected('TestSyncProxyRulesStartup/expected.nft'));
  });

  // Steps 02, 06 and 08 hold chains an earlier sync left behind: kube-proxy flushes a chain nothing
  // uses and deletes it one sync later (03 and 07 follow ageStaleChains, so those are gone).
  const HISTORY = new Set(['02', '06', '08']);
  const steps = readdirSync(join(ROOT, 'TestSyncProxyRulesRepeated'))
    .filter((f) => /^step-\d\d\.yaml$/.test(f))
    .map((f) => f.slice(5, 7))
    .sort();

  test('TestSyncProxyRulesRepeated has its ten states', () => expect(steps).toHaveLength(10));

  test.each(steps)('TestSyncProxyRulesRepeated state %s', (step) => {
    const dir = 'TestSyncProxyRulesRepeated';
    const previous = `${dir}/expected-${String(Number(step) - 1).padStart(2, '0')}.nft`;
    const existingChains = HISTORY.has(step) ? parseDump(readFileSync(join(ROOT, previous), 'utf8')).chains.map((c) => c.name) : [];
    const out = compileFile(`${dir}/step-${step}.yaml`, { existingChains });
    expect(sortNFTablesTransaction(out)).toBe(expected(`${dir}/expected-${step}.nft`));
  });

  test('without the fake mark the rules carry kube-proxy\'s own 0x00004000, and only the mark differs', () => {
    const fake = compileFile('TestOverallNFTablesRules/input.yaml');
    const real = compileFile('TestOverallNFTablesRules/input.yaml', {}, false);
    expect(real).not.toBe(fake);
    expect(real.replaceAll('0x00004000', '0x4000')).toBe(fake);
  });
});
