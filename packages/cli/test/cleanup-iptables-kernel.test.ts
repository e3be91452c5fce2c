/**
 * `svcrules cleanup --mode iptables` on the real kernel: after `svcrules apply` in a fresh network
 * namespace that also holds foreign rules in INPUT/FORWARD/PREROUTING and foreign chains, cleanup
 * removes every jump rule and chain svcrules wrote and nothing else; a second cleanup is a no-op; a
 * dry run changes nothing; chains under kube-proxy's canary are refused without --force.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, createNetns, deleteNetns, kernelGate, mustRunIn } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore']);
const DIR = join(FIXTURES, 'apply');

const FOREIGN: readonly (readonly string[])[] = [
  ['-A', 'INPUT', '-s', '198.51.100.8', '-j', 'ACCEPT'],
  ['-A', 'FORWARD', '-d', '198.51.100.9', '-j', 'DROP'],
  ['-N', 'KUBE-SOMEONE-ELSE'],
  ['-A', 'KUBE-SOMEONE-ELSE', '-j', 'RETURN'],
  ['-t', 'nat', '-N', 'MY-CHAIN'],
  ['-t', 'nat', '-A', 'MY-CHAIN', '-s', '198.51.100.7', '-j', 'RETURN'],
  ['-t', 'nat', '-A', 'PREROUTING', '-j', 'MY-CHAIN'],
];
const FOREIGN_SAVED = ['-A INPUT -s 198.51.100.8/32 -j ACCEPT', '-A FORWARD -d 198.51.100.9/32 -j DROP', ':KUBE-SOMEONE-ELSE - [0:0]', '-A KUBE-SOMEONE-ELSE -j RETURN', ':MY-CHAIN - [0:0]', '-A MY-CHAIN -s 198.51.100.7/32 -j RETURN', '-A PREROUTING -j MY-CHAIN'];

kernel.describe('svcrules cleanup --mode iptables in a network namespace', () => {
  let ns: string;
  let dir: string;
  const cli = (argv: string[]) => runCli(argv, DIR);
  // Without the '# Generated/Completed on <time>' lines; counters of a namespace without traffic stay 0.
  const save = () => ['mangle', 'nat', 'filter'].map((t) => mustRunIn(ns, 'iptables-save', ['-t', t]).replace(/^#.*\n/gm, '')).join('');
  const kubeLines = (text: string) => text.split('\n').filter((l) => /KUBE-/.test(l) && !/KUBE-SOMEONE-ELSE/.test(l));

  beforeAll(() => {
    ns = createNetns('cleanup');
    dir = mkdtempSync(join(tmpdir(), 'svcr-cleanup-'));
    for (const args of FOREIGN) mustRunIn(ns, 'iptables', [...args]);
  });
  afterAll(() => {
    if (ns) deleteNetns(ns);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('removes exactly what apply wrote; a dry run and a second cleanup change nothing', async () => {
    const state = join(dir, 'ipv4.state');
    const applied = await cli(['apply', '--netns', ns, '--state', state, 'node.yaml', 'traffic/snapshot.yaml']);
    expect(applied).toMatchObject({ code: 0, err: '' });
    expect(existsSync(state)).toBe(true);
    const before = save();
    const chains = before.split('\n').filter((l) => /^:KUBE-/.test(l) && !l.startsWith(':KUBE-SOMEONE-ELSE'));
    expect(chains.length).toBeGreaterThan(20);
    expect(kubeLines(before).filter((l) => /^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) /.test(l))).toHaveLength(14);

    const dry = await cli(['cleanup', '--mode', 'iptables', '--family', 'ipv4', '--netns', ns, '--state', state, '--dry-run']);
    expect(dry).toMatchObject({ code: 0, err: '' });
    const lines = dry.out.split('\n').filter((l) => l !== '');
    expect(lines.filter((l) => l.startsWith('ipv4: would delete rule -t '))).toHaveLength(14);
    expect(lines.filter((l) => l.startsWith('ipv4: would delete chain ')).map((l) => `:${l.split(' ').at(-1)!}`).sort()).toEqual(chains.map((l) => l.split(' ')[0]!).sort());
    expect(lines).toHaveLength(14 + chains.length);
    expect(save()).toBe(before);
    expect(existsSync(state)).toBe(true);

    const done = await cli(['cleanup', '--mode', 'iptables', '--family', 'ipv4', '--netns', ns, '--state', state]);
    expect(done).toEqual({ code: 0, out: dry.out.replaceAll('would delete', 'deleted'), err: '' });
    const after = save();
    expect(kubeLines(after)).toEqual([]);
    for (const l of FOREIGN_SAVED) expect(after.split('\n')).toContain(l);
    expect(existsSync(state)).toBe(false);

    const again = await cli(['cleanup', '--mode', 'iptables', '--family', 'ipv4', '--netns', ns]);
    expect(again).toEqual({ code: 0, out: 'ipv4: no svcrules iptables rules: nothing to remove\n', err: '' });
    expect(save()).toBe(after);
  }, 120_000);

  test("chains under kube-proxy's canary are refused without --force and removed with it", async () => {
    for (const t of ['mangle', 'nat', 'filter']) mustRunIn(ns, 'iptables', ['-t', t, '-N', 'KUBE-PROXY-CANARY']);
    mustRunIn(ns, 'iptables', ['-t', 'nat', '-N', 'KUBE-SERVICES']);
    mustRunIn(ns, 'iptables', ['-t', 'nat', '-A', 'OUTPUT', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
    const before = save();
    const refused = await cli(['cleanup', '--mode', 'iptables', '--family', 'ipv4', '--netns', ns]);
    expect(refused.code).toBe(1);
    expect(refused.out).toBe('');
    expect(refused.err).toBe('svcrules: refusing to clean up: a live kube-proxy owns the ipv4 KUBE-* chains (its KUBE-PROXY-CANARY chain exists in nat, filter); stop kube-proxy first, or pass --force to remove them anyway\n');
    expect(save()).toBe(before);

    const forced = await cli(['cleanup', '--mode', 'iptables', '--family', 'ipv4', '--netns', ns, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.out.split('\n').filter((l) => l !== '').sort()).toEqual([
      'ipv4: deleted chain filter KUBE-PROXY-CANARY',
      'ipv4: deleted chain mangle KUBE-PROXY-CANARY',
      'ipv4: deleted chain nat KUBE-PROXY-CANARY',
      'ipv4: deleted chain nat KUBE-SERVICES',
      'ipv4: deleted rule -t nat -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    ]);
    const after = save();
    expect(kubeLines(after)).toEqual([]);
    for (const l of FOREIGN_SAVED) expect(after.split('\n')).toContain(l);
  }, 60_000);

  test('an owned chain a foreign rule jumps to is kept, with a warning, until the rule is gone', async () => {
    expect(await cli(['apply', '--netns', ns, '--no-state', 'node.yaml', 'traffic/snapshot.yaml'])).toMatchObject({ code: 0, err: '' });
    const jump = ['-t', 'nat', '-A', 'MY-CHAIN', '-s', '198.51.100.6', '-j', 'KUBE-MARK-MASQ'];
    mustRunIn(ns, 'iptables', jump);
    const kept = await cli(['cleanup', '--mode', 'iptables', '--family', 'ipv4', '--netns', ns]);
    expect(kept.code).toBe(0);
    expect(kept.err).toBe('svcrules: warning: ipv4 nat KUBE-MARK-MASQ is stale but kept: MY-CHAIN still jumps to it\n');
    expect(kept.out).not.toContain('KUBE-MARK-MASQ');
    expect(kubeLines(save())).toEqual([':KUBE-MARK-MASQ - [0:0]', '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000', '-A MY-CHAIN -s 198.51.100.6/32 -j KUBE-MARK-MASQ']);
    mustRunIn(ns, 'iptables', ['-t', 'nat', '-D', ...jump.slice(3)]);
    expect(await cli(['cleanup', '--mode', 'iptables', '--family', 'ipv4', '--netns', ns])).toEqual({ code: 0, out: 'ipv4: deleted chain nat KUBE-MARK-MASQ\n', err: '' });
    expect(kubeLines(save())).toEqual([]);
  }, 60_000);
});
