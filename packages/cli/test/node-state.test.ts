/**
 * `svcrules node-state`'s capture with a recorded runner (what it runs, inside a namespace or not, and
 * what it does with missing or failing commands), and `trace --node-state` reading what it wrote.
 */
import { Command } from 'commander';
import type { Runner, RunResult } from '@svcrules/applier';
import { CommandNotFoundError } from '@svcrules/applier';
import { captureNodeState, registerNodeState } from '../src/commands/node-state.js';
import { runCli } from './run-cli.js';
import type { CliIO } from '../src/io.js';

const ADDR = [{ ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.0.10', prefixlen: 24 }] }, { ifname: 'veth1', master: 'cni0' }];
const ROUTE4 = [{ dst: 'default', gateway: '192.168.0.1', dev: 'eth0' }, { dst: '10.244.0.0/24', dev: 'cni0' }];
const RULES = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -i cni0 -o eth0 -j ACCEPT\nCOMMIT\n';

const NFT = '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}]}\n';

function fakeRunner(calls: string[], overrides: Record<string, RunResult | 'missing'> = {}): Runner {
  return async (command, args) => {
    const line = [command, ...args].join(' ');
    calls.push(line);
    const inner = command === 'ip' && args[0] === 'netns' ? args.slice(3).join(' ') : line;
    const o = Object.entries(overrides).find(([k]) => inner.startsWith(k))?.[1];
    if (o === 'missing') throw new CommandNotFoundError(inner.split(' ')[0]!);
    if (o) return o;
    const ok = (stdout: string): RunResult => ({ code: 0, stdout, stderr: '' });
    if (inner === 'iptables-save') return ok(RULES);
    if (inner === 'ip6tables-save') return ok('');
    if (inner === 'ip -j address show') return ok(JSON.stringify(ADDR));
    if (inner === 'ip -j -4 route show table all') return ok(JSON.stringify(ROUTE4));
    if (inner === 'ip -j -6 route show table all') return ok('[]');
    if (inner === 'ipset save') return ok('create s hash:ip family inet\nadd s 10.244.0.5\n');
    if (inner === 'nft -j list ruleset') return ok(NFT);
    if (inner.startsWith('cat /proc/sys/net/ipv4/ip_forward')) return ok('1\n');
    return { code: 1, stdout: '', stderr: `cat: ${inner}: No such file or directory\n` };
  };
}

test('capture: every command, inside the namespace when given; sysctls read from /proc inside it', async () => {
  const calls: string[] = [];
  const state = await captureNodeState(fakeRunner(calls), 'node1', () => undefined);
  expect(calls.slice(0, 6)).toEqual([
    'ip netns exec node1 iptables-save',
    'ip netns exec node1 ip6tables-save',
    'ip netns exec node1 ip -j address show',
    'ip netns exec node1 ip -j -4 route show table all',
    'ip netns exec node1 ip -j -6 route show table all',
    'ip netns exec node1 ipset save',
  ]);
  expect(calls).toContain('ip netns exec node1 cat /proc/sys/net/bridge/bridge-nf-call-iptables');
  expect(calls).toContain('ip netns exec node1 nft -j list ruleset');
  expect(state.nftRuleset).toBe(NFT);
  expect(state).toMatchObject({ kind: 'svcrules-node-state', version: 1, netns: 'node1', iptablesSave: RULES, ipRoute4: ROUTE4, ipsetSave: 'create s hash:ip family inet\nadd s 10.244.0.5\n', sysctls: { 'net.ipv4.ip_forward': '1' }, missing: [] });
  expect(Object.keys(state.sysctls)).toEqual(['net.ipv4.ip_forward']);
});

test('capture: a missing ipset is noted without a warning; a failing command is noted and warned', async () => {
  const warnings: string[] = [];
  const state = await captureNodeState(fakeRunner([], { ipset: 'missing', 'ip6tables-save': { code: 4, stdout: '', stderr: "can't initialize ip6tables table `filter'\n" } }), null, (w) => warnings.push(w));
  expect(state.ipsetSave).toBeNull();
  expect(state.ip6tablesSave).toBeNull();
  expect(state.missing).toEqual(["ip6tables-save: exit 4: can't initialize ip6tables table `filter'", 'ipset save: ipset not found']);
  expect(warnings).toEqual(["ip6tables-save failed (exit 4): can't initialize ip6tables table `filter'"]);
});

async function nodeStateCli(argv: string[], runner: Runner): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (s) => void (out += s), stderr: (s) => void (err += s), readFile: async () => '', cwd: '/', stdoutIsTTY: false, env: {} };
  const program = new Command().exitOverride();
  registerNodeState(program, io, runner);
  try {
    await program.parseAsync(['node', 'svcrules', 'node-state', ...argv]);
    return { out, err, code: 0 };
  } catch (e) {
    return { out, err: err + String((e as Error).message), code: (e as { exitCode?: number }).exitCode ?? 1 };
  }
}

test('node-state prints the capture; a bad namespace name is a usage error; nothing captured is an error', async () => {
  const ok = await nodeStateCli([], fakeRunner([]));
  expect(JSON.parse(ok.out)).toMatchObject({ kind: 'svcrules-node-state', netns: null });
  expect(await nodeStateCli(['--netns=../x'], fakeRunner([]))).toMatchObject({ out: '', code: 2, err: '--netns: "../x" is not a namespace name' });
  const none = await nodeStateCli(['--netns=gone'], fakeRunner([], { iptables: { code: 1, stdout: '', stderr: 'Cannot open network namespace "gone"\n' }, ip: { code: 1, stdout: '', stderr: 'Cannot open network namespace "gone"\n' } }));
  expect(none.out).toBe('');
  expect(none.err).toContain('nothing could be captured in network namespace gone');
});

test('trace --node-state uses the rules, addresses and routes of the capture; bad files are named', async () => {
  const state = JSON.stringify(await captureNodeState(fakeRunner([]), null, () => undefined));
  const files = { 'node.json': state, 'bad.json': '{"kind": "svcrules-node-state", "version": 7}', 'other.json': '[1]' };
  const r = await runCli(['trace', '--json', '--node-state', 'node.json', '--from', 'pod', '--src', '10.244.0.5', '--dst', '8.8.8.8:53/udp'], '/', { files });
  expect(r.err).toBe('');
  const j = JSON.parse(r.out) as { rules: { from: string }; outcomes: { verdict: string; inInterface: string; outInterface: string; given: unknown[] }[]; nodeState: { ipsets: number } };
  expect(j.rules.from).toBe('iptables-save in node.json');
  expect(j.nodeState.ipsets).toBe(1);
  expect(j.outcomes.map((o) => [o.verdict, o.inInterface, o.outInterface, o.given.length])).toEqual([['ACCEPT', 'cni0', 'eth0', 0]]);
  expect(await runCli(['trace', '--node-state', 'bad.json', '--src', '10.0.0.1', '--dst', '10.0.0.2:80'], '/', { files })).toEqual({
    out: '',
    code: 1,
    err: 'svcrules: bad.json: node-state version 7 is not supported (this svcrules reads version 1)\n',
  });
  expect((await runCli(['trace', '--node-state', 'other.json', '--src', '10.0.0.1', '--dst', '10.0.0.2:80'], '/', { files })).err).toMatch(/^svcrules: other\.json: not a node-state file/);
  // An empty ip6tables-save is a node without IPv6 rules; a failed one is unknown.
  expect((await runCli(['trace', '--node-state', 'node.json', '--src', 'fd00::1', '--dst', '[fd00::2]:80'], '/', { files })).code).toBe(0);
  const noV6 = JSON.stringify(await captureNodeState(fakeRunner([], { 'ip6tables-save': { code: 4, stdout: '', stderr: 'no ip6tables\n' } }), null, () => undefined));
  expect((await runCli(['trace', '--node-state', 'v4.json', '--src', 'fd00::1', '--dst', '[fd00::2]:80'], '/', { files: { 'v4.json': noV6 } })).err).toBe(
    'svcrules: v4.json: holds no ip6tables-save output for this IPv6 packet\n',
  );
});
