/** `svcrules diff` against a real netns: per-chain +/- lines, colour only on a TTY, exit 0/1/2. */
import { join } from 'node:path';
import { execFile, FIXTURES, mustExec, kernelGate, uniqueName } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

const DIR = join(FIXTURES, 'apply');
const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore', 'nfacct']);
const d = kernel.describe;

const svcrules = (argv: string[], tty = false) => runCli(argv, DIR, { tty });

d('svcrules diff', () => {
  const ns = uniqueName('diff');
  beforeAll(() => mustExec('ip', ['netns', 'add', ns]));
  afterAll(() => execFile('ip', ['netns', 'del', ns]));

  test('an empty host: every hook rule missing and every chain new; exit 1; nothing changed on the host', async () => {
    const r = await svcrules(['diff', '--netns', ns, 'node.yaml', 'sequence/step1.yaml']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('ipv4 filter INPUT (missing jump rules)\n+ -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES\n');
    expect(r.out).toContain('ipv4 nat POSTROUTING (missing jump rules)\n+ -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING\n');
    expect(r.out).toMatch(/^ipv4 nat KUBE-SEP-\w+ \(new\)\n\+ -A KUBE-SEP-\w+ -s 10\.180\.0\.1\/32 -m comment --comment demo\/seq:http -j KUBE-MARK-MASQ$/m);
    expect(r.out).not.toContain('\x1b[');
    expect((await execFile('ip', ['netns', 'exec', ns, 'iptables-save'])).stdout).not.toContain('KUBE-');
  });

  test('after apply: exit 0 and no output; a scale-down shows the removed rules and deleted chains', async () => {
    expect((await svcrules(['apply', '--netns', ns, 'node.yaml', 'sequence/step1.yaml'])).code).toBe(0);
    expect(await svcrules(['diff', '--netns', ns, 'node.yaml', 'sequence/step1.yaml'])).toEqual({ code: 0, out: '', err: 'ipv4: no changes\n' });
    const r = await svcrules(['diff', '--netns', ns, 'node.yaml', 'sequence/step2.yaml']);
    expect(r.code).toBe(1);
    const svc = /^ipv4 nat (KUBE-SVC-\w+) \(changed\)$/m.exec(r.out)?.[1];
    expect(svc).toBeDefined();
    // 3 endpoints -> 1: the two probability rules and the two jumps to the gone endpoints go.
    const block = r.out.slice(r.out.indexOf(`ipv4 nat ${svc} (changed)`)).split('\n').slice(1);
    const body = block.slice(0, block.findIndex((l) => !/^[-+] /.test(l)));
    expect(body.filter((l) => l.startsWith('- '))).toHaveLength(3);
    expect(body.filter((l) => l.startsWith('+ '))).toHaveLength(1);
    expect(body.some((l) => l.includes('--probability 0.33333333349'))).toBe(true);
    expect(r.out.match(/^ipv4 nat KUBE-SEP-\w+ \(deleted\)$/gm)).toHaveLength(2);
    expect(r.out).toMatch(/^ipv4 nat KUBE-SERVICES \(changed\)\n\+ -A KUBE-SERVICES -d 172\.30\.0\.51\/32 -p tcp -m comment --comment "demo\/extra:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-\w+$/m);
  });

  test('colour on a TTY only', async () => {
    const r = await svcrules(['diff', '--netns', ns, 'node.yaml', 'sequence/step2.yaml'], true);
    expect(r.code).toBe(1);
    expect(r.out).toContain('\x1b[31m- -A ');
    expect(r.out).toContain('\x1b[32m+ -A ');
  });

  test('trouble is exit 2: bad input, a missing namespace', async () => {
    const missing = await svcrules(['diff', '--netns', ns, 'node.yaml', 'no-such-file.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no-such-file.yaml');
    const nons = await svcrules(['diff', '--netns', `${ns}-absent`, 'node.yaml', 'sequence/step1.yaml']);
    expect(nons.code).toBe(2);
    expect(nons.err).toMatch(new RegExp(`^svcrules: --netns ${ns}-absent: Cannot open network namespace`));
  });
});
