/**
 * The tables the nftables trace test walks (fixtures/trace-nft/upstream/<Test>/ruleset.nft) were
 * printed by `svcrules compile --mode nftables` on the nftables compiler's branch. This keeps them
 * honest: compiling each folder's input.yaml today (with its compile-args, else the fake's mark)
 * gives the same table, after kube-proxy's normaliser. So the trace expectations hold for what the
 * compiler writes, not for a frozen copy.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sortNFTablesTransaction } from '@svcrules/core';
import { FIXTURES } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

const ROOT = join(FIXTURES, 'trace-nft', 'upstream');
const cases = readdirSync(ROOT).filter((d) => existsSync(join(ROOT, d, 'ruleset.nft')) && existsSync(join(ROOT, d, 'input.yaml')));

test('every compiled trace table has its input', () => expect(cases.length).toBeGreaterThanOrEqual(20));

test.each(cases)('%s: ruleset.nft is what compile --mode nftables prints for input.yaml', async (name) => {
  const dir = join(ROOT, name);
  const argsFile = join(dir, 'compile-args');
  const args = existsSync(argsFile) ? readFileSync(argsFile, 'utf8').trim().split(/\s+/) : ['--mode', 'nftables', '--masquerade-mark', '0x4000'];
  const r = await runCli(['compile', ...args, 'input.yaml'], dir);
  expect(r.code).toBe(0);
  expect(sortNFTablesTransaction(r.out)).toBe(sortNFTablesTransaction(readFileSync(join(dir, 'ruleset.nft'), 'utf8')));
});
