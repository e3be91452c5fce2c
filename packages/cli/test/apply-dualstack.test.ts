/** `svcrules apply --family both`: one restore per family, each into its own tables, both idempotent. */
import { join } from 'node:path';
import { execFile, FIXTURES, mustExec, kernelGate, uniqueName } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

const DIR = join(FIXTURES, 'apply');
const kernel = kernelGate(['ip', 'iptables', 'ip6tables', 'iptables-save', 'ip6tables-save', 'iptables-restore', 'ip6tables-restore', 'nfacct']);
const d = kernel.describe;

const svcrules = (argv: string[]) => runCli(argv, DIR);

d('svcrules apply --family both', () => {
  const ns = uniqueName('ds');
  beforeAll(() => mustExec('ip', ['netns', 'add', ns]));
  afterAll(() => execFile('ip', ['netns', 'del', ns]));

  test('loads IPv4 and IPv6 rules, then finds nothing to change; diff agrees', async () => {
    const r = await svcrules(['apply', '--family', 'both', '--netns', ns, 'dualstack.yaml']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ipv4: full sync \(no state file \S+\.ipv4\.state\); \d+ chains written \(\d+ changed\); 14 jump rules inserted\nipv6: full sync \(no state file \S+\.ipv6\.state\); \d+ chains written \(\d+ changed\); 14 jump rules inserted\n$/);
    const v4 = (await mustExec('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'])).replace(/^#.*\n/gm, '');
    const v6 = (await mustExec('ip', ['netns', 'exec', ns, 'ip6tables-save', '-t', 'nat'])).replace(/^#.*\n/gm, '');
    expect(v4).toMatch(/-A KUBE-SERVICES -d 172\.30\.0\.60\/32 -p tcp .* -j KUBE-SVC-/);
    expect(v6).toMatch(/-A KUBE-SERVICES -d fd00:172:30::60\/128 -p tcp .* -j KUBE-SVC-/);
    expect(v6).toContain('-j DNAT --to-destination [fd00:10:180::1]:8080');
    expect(v4).not.toContain('fd00:');
    const again = await svcrules(['apply', '--family', 'both', '--netns', ns, 'dualstack.yaml']);
    expect(again.out).toBe('ipv4: partial sync; nothing to change\nipv6: partial sync; nothing to change\n');
    expect(await svcrules(['diff', '--family', 'both', '--netns', ns, 'dualstack.yaml'])).toEqual({ code: 0, out: '', err: 'ipv4: no changes\nipv6: no changes\n' });
    const dry = await svcrules(['apply', '--dry-run', '--family', 'both', '--netns', ns, 'dualstack.yaml']);
    expect(dry).toEqual({ code: 0, out: '# ipv4\n# ipv6\n', err: 'ipv4: nothing to change\nipv6: nothing to change\n' });
  });
});
