/**
 * `svcrules apply --replace-tables` against the real kernel: after every step of a snapshot sequence the
 * host is byte for byte what the default --noflush load leaves, foreign rules included, on both backends.
 */
import { join } from 'node:path';
import { execFile, FIXTURES, mustExec, kernelGate, uniqueName } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

const DIR = join(FIXTURES, 'apply');
const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore', 'iptables-legacy-save', 'iptables-legacy-restore', 'nfacct']);
const d = kernel.describe;

const FOREIGN = '*nat\n:MY-CHAIN - [0:0]\n-A MY-CHAIN -s 198.51.100.7/32 -j RETURN\n-A PREROUTING -j MY-CHAIN\nCOMMIT\n*filter\n-A INPUT -s 198.51.100.8/32 -j ACCEPT\nCOMMIT\n';
const STEPS = ['traffic/snapshot.yaml', 'sequence/step1.yaml', 'sequence/step2.yaml', 'sequence/step3.yaml'];

for (const backend of ['nft', 'legacy'] as const) d(`svcrules apply --replace-tables (${backend} backend)`, () => {
  const plain = uniqueName('rp');
  const replaced = uniqueName('rr');
  const saveBin = backend === 'legacy' ? 'iptables-legacy-save' : 'iptables-save';
  // Our canary's token is random per apply: masked.
  const save = async (ns: string) => (await mustExec('ip', ['netns', 'exec', ns, saveBin])).replace(/^#.*\n/gm, '').replace(/svcrules:[0-9a-f]{16}/g, 'svcrules:TOKEN');

  beforeAll(async () => {
    for (const ns of [plain, replaced]) {
      await mustExec('ip', ['netns', 'add', ns]);
      await mustExec('ip', ['netns', 'exec', ns, backend === 'legacy' ? 'iptables-legacy-restore' : 'iptables-restore', '--noflush'], FOREIGN);
    }
  });
  afterAll(async () => {
    for (const ns of [plain, replaced]) await execFile('ip', ['netns', 'del', ns]);
  });

  test.each(STEPS)('after %s both hosts are identical and the foreign rules survive', async (step) => {
    // --no-state: every step is a full sync (a state file would make the later ones partial, never replacing).
    const a = await runCli(['apply', '--no-state', '--backend', backend, '--netns', plain, 'node.yaml', step], DIR);
    const b = await runCli(['apply', '--no-state', '--backend', backend, '--replace-tables', '--netns', replaced, 'node.yaml', step], DIR);
    expect([a.code, a.err, b.code, b.err]).toEqual([0, '', 0, '']);
    if (!/nothing to change/.test(b.out)) expect(b.out).toMatch(/tables replaced/);
    const [x, y] = [await save(plain), await save(replaced)];
    expect(y).toBe(x);
    expect(y).toContain('-A MY-CHAIN -s 198.51.100.7/32 -j RETURN');
    expect(y).toContain('-A INPUT -s 198.51.100.8/32 -j ACCEPT');
    expect(y).toContain('-A PREROUTING -j MY-CHAIN');
  });
});
