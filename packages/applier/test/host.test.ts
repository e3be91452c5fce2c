import { CommandNotFoundError, inNetns, IptablesNotFoundError, isNetnsName, NetnsUnavailableError, openHost, type RunResult, type Runner } from '../src/index.js';

const ok = (stdout: string): RunResult => ({ code: 0, stdout, stderr: '' });

/**
 * A host whose `iptables --version` prints `version`; every command line is recorded. Inside a
 * namespace the command after `ip netns exec NAME` is what answers.
 */
function fakeHost(calls: string[], version: string | 'missing', answers: Record<string, RunResult> = {}): Runner {
  return async (command, args) => {
    const line = [command, ...args].join(' ');
    calls.push(line);
    const inner = command === 'ip' && args[0] === 'netns' ? args.slice(3) : [command, ...args];
    const key = inner.join(' ');
    const given = Object.entries(answers).find(([k]) => key.startsWith(k))?.[1];
    if (given) return given;
    if (/^ip6?tables(-nft|-legacy)?$/.test(inner[0]!) && inner[1] === '--version') {
      if (version === 'missing') throw new CommandNotFoundError(inner[0]!);
      return ok(`${inner[0]} ${version}\n`);
    }
    if (key === 'true') return ok('');
    if (/^ip6?tables(-nft|-legacy)?-save$/.test(inner[0]!)) return ok('');
    if (key.startsWith('nfacct')) throw new CommandNotFoundError('nfacct');
    if (key.startsWith('cat /proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal')) return ok('1\n');
    if (key.startsWith('conntrack')) return ok('conntrack v1.4.7\n');
    // `iptables ... -S KUBE-PROXY-CANARY 1`: the chain is absent.
    return { code: 1, stdout: '', stderr: 'iptables: No chain/target/match by that name.\n' };
  };
}

test('openHost probes the iptables version first, then checks the canary with the wait flags that version takes', async () => {
  const calls: string[] = [];
  const host = await openHost({ family: 'ipv4', runner: fakeHost(calls, 'v1.4.21'), waitSeconds: 7 });
  expect(calls[0]).toBe('iptables --version');
  // 1.4.20-1.4.21 take a bare -w (kube-proxy's WaitMinVersion); the default `-w 5 -W 100000` fails there and would hide a canary.
  expect(calls.filter((c) => c.includes('KUBE-PROXY-CANARY'))).toEqual(['iptables -w -t nat -S KUBE-PROXY-CANARY 1', 'iptables -w -t filter -S KUBE-PROXY-CANARY 1']);
  expect(host.facts).toMatchObject({ family: 'ipv4', netns: undefined, randomFully: false, tcpBeLiberal: true, nfacctTool: false, conntrackTool: true, kubeProxyCanary: [] });
  expect(host.compileOptions).toEqual({ family: 'IPv4', randomFully: false, nfacct: false, tcpBeLiberal: true });
});

test('openHost in a namespace: one runner inside it for every probe, the netfilter and the tools; ipv6 compiles for IPv6', async () => {
  const calls: string[] = [];
  const host = await openHost({ family: 'ipv6', netns: 'node-1', backend: 'legacy', runner: fakeHost(calls, 'v1.8.9 (legacy)') });
  // Entering the namespace is not checked on its own when the version probe answers.
  expect(calls[0]).toBe('ip netns exec node-1 ip6tables-legacy --version');
  expect(calls).not.toContain('ip netns exec node-1 true');
  expect(calls.every((c) => c.startsWith('ip netns exec node-1 '))).toBe(true);
  expect(calls).toContain('ip netns exec node-1 ip6tables-legacy -w 5 -W 100000 -t nat -S KUBE-PROXY-CANARY 1');
  expect(host).toMatchObject({ family: 'ipv6', netns: 'node-1', facts: { netns: 'node-1', randomFully: true }, compileOptions: { family: 'IPv6', randomFully: true, nfacct: false, tcpBeLiberal: true } });
  calls.length = 0;
  await host.netfilter.save('ipv6', 'nat');
  await host.runner('conntrack', ['-L']);
  expect(calls).toEqual(['ip netns exec node-1 ip6tables-legacy-save -t nat', 'ip netns exec node-1 conntrack -L']);
});

test('openHost says which namespace cannot be entered and which iptables is missing', async () => {
  // A namespace that cannot be entered fails every command in it: the version probe, then the check.
  const goneCalls: string[] = [];
  const gone = fakeHost(goneCalls, 'v1.8.9', { '': { code: 1, stdout: '', stderr: 'Cannot open network namespace "gone": No such file or directory\n' } });
  const err = await openHost({ family: 'ipv4', netns: 'gone', runner: gone }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NetnsUnavailableError);
  expect(err).toMatchObject({ netns: 'gone', detail: 'Cannot open network namespace "gone": No such file or directory' });
  expect(goneCalls).toEqual(['ip netns exec gone iptables --version', 'ip netns exec gone true']);

  const calls: string[] = [];
  const missing = await openHost({ family: 'ipv6', netns: 'n1', backend: 'nft', runner: fakeHost(calls, 'missing') }).catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(IptablesNotFoundError);
  expect((missing as Error).message).toBe('ip6tables-nft not found in network namespace n1');
  // Nothing else is probed on a host without the binary.
  expect(calls).toEqual(['ip netns exec n1 ip6tables-nft --version', 'ip netns exec n1 true']);
  expect(((await openHost({ family: 'ipv4', runner: fakeHost([], 'missing') }).catch((e: unknown) => e)) as Error).message).toBe('iptables not found');
});

test('one namespace-name rule: a letter, digit or _ first (never an option, . or ..), at most 64 characters', () => {
  for (const name of ['n1', 'svcr-123-ab_c.d', 'A', '9x', '_x', 'a'.repeat(64)]) expect(isNetnsName(name)).toBe(true);
  for (const name of ['', '.', '..', '.x', '../x', '-x', 'a b', 'a/b', 'a'.repeat(65), 'x;reboot']) expect(isNetnsName(name)).toBe(false);
  expect(() => inNetns(async () => ok(''), '-x')).toThrow('invalid network namespace name "-x"');
});
