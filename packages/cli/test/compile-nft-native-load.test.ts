/**
 * The native form (`compile --mode nftables --format nft`) makes the same kernel objects as the
 * Dump form: for every nftables feature golden and the compiled input of every kube-proxy
 * whole-dump test (IPv4 and IPv6), each form loads with the REAL `nft -f` into the same fresh
 * network namespace in turn, and `nft -j list table` shows the same table (handles aside, which
 * count creation order). So do the `--format nft` CLI goldens (fixtures/compile-nft/native).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { compileNFTables } from '@svcrules/core';
import { parseDump, renderDump, renderNative } from '@svcrules/nftables';
import type { NftRuleset } from '@svcrules/nftables';
import { loadSnapshot } from '@svcrules/snapshot';
import { FIXTURES, caseName, findCases, kernelGate, mustRunIn, withNetns } from '@svcrules/testkit';

const kernel = kernelGate(['ip', 'nft']);

const NFT = join(FIXTURES, 'compile-nft');
/** The `--format nft` CLI goldens, each the feature golden of the same name. */
const natives = findCases(join(NFT, 'native'), 'cmd').map((dir) => [caseName(dir), dir] as const);
const features = findCases(join(NFT, 'features'), 'cmd')
  .filter((dir) => !existsSync(join(dir, 'expected.code')))
  .map((dir) => [caseName(dir), () => parseDump(readFileSync(join(dir, 'expected.out'), 'utf8'))] as const);

const UPSTREAM = join(FIXTURES, 'compile-nft', 'upstream');
const upstream = findCases(UPSTREAM, 'NOTES').flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      (['IPv4', 'IPv6'] as const).map(
        (family) =>
          [
            `${caseName(join(dir, f))} ${family}`,
            () => compileNFTables(loadSnapshot([{ name: join(dir, f), text: readFileSync(join(dir, f), 'utf8') }]).snapshot, { family, masqueradeMark: '0x4000' }).ruleset,
          ] as const,
      ),
    ),
);

/** `nft -j list table` without the handles (the two forms create the objects in another order). */
function listed(ns: string, rs: NftRuleset): unknown {
  const json = JSON.parse(mustRunIn(ns, 'nft', ['-j', 'list', 'table', rs.table.family, rs.table.name])) as { nftables: Record<string, unknown>[] };
  const strip = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(strip) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'handle').map(([k, x]) => [k, strip(x)])) : v;
  return strip(json.nftables.filter((o) => !('metainfo' in o)));
}

async function sameObjects(rs: NftRuleset, native = renderNative(rs)): Promise<void> {
  await withNetns((ns) => {
    mustRunIn(ns, 'nft', ['-f', '-'], { input: renderDump(rs) });
    const fromDump = listed(ns, rs);
    mustRunIn(ns, 'nft', ['delete', 'table', rs.table.family, rs.table.name]);
    mustRunIn(ns, 'nft', ['-f', '-'], { input: native });
    const fromNative = listed(ns, rs);
    expect(JSON.stringify(fromNative).length).toBeGreaterThan(100);
    expect(fromNative).toEqual(fromDump);
  }, 'nftn');
}

kernel.describe('the native nft form loads as the same kernel objects as the Dump form', () => {
  test('there are feature goldens of both families and upstream inputs', () => {
    expect(features.some(([, rs]) => rs().table.family === 'ip6')).toBe(true);
    expect(features.some(([, rs]) => rs().table.family === 'ip')).toBe(true);
    expect(upstream.length).toBeGreaterThanOrEqual(26);
    expect(natives.length).toBeGreaterThanOrEqual(2);
  });

  test.each(features)('%s', async (_name, rs) => sameObjects(rs()));
  test.each(natives)('%s loads as its feature golden', async (_name, dir) => sameObjects(parseDump(readFileSync(join(NFT, 'features', basename(dir), 'expected.out'), 'utf8')), readFileSync(join(dir, 'expected.out'), 'utf8')));
  test.each(upstream)('%s', async (_name, rs) => sameObjects(rs()));
});
