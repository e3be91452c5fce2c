/**
 * `svcrules apply` on the real kernel with real traffic. A network-namespace "cluster" (node, pods
 * with TCP/UDP servers answering "<pod> <source it saw>", an external client) is built once for the
 * file and deleted in afterAll, even when a test fails. Nothing touches the machine's own namespace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '@svcrules/core';
import { loadSnapshot } from '@svcrules/snapshot';
import { createApplier, createExecNetfilter, ensureNfacctCounters, RestoreError, spawnRunner, type Runner } from '@svcrules/applier';
import { CLIENT_IPS, errorsOf, execFile, FIXTURES, NetnsCluster, NODE_IP, kernelGate, podsOf, type ProbeResult } from '@svcrules/testkit';
import { run } from '../src/program.js';
import { runCli } from './run-cli.js';

const DIR = join(FIXTURES, 'apply');
const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore', 'iptables-legacy', 'conntrack', 'nfacct', 'flock']);
const d = kernel.describe;

const svcrules = (argv: string[], env: Record<string, string> = {}) => runCli(argv, DIR, { env });

const WEB = ['web-a', 'web-b', 'web-c'];
const CLIENT_POD_IP = '10.180.0.100';
const sources = (rs: readonly ProbeResult[]) => [...new Set(rs.filter((r) => r.ok).map((r) => (r as { source: string }).source))].sort();

d('svcrules apply in a network-namespace cluster', () => {
  let c: NetnsCluster;
  const node = () => c.node;
  // Without iptables-save's '# Generated/Completed on <time>' lines, which change every second.
  const save = async (table: string) => (await c.exec(node(), 'iptables-save', ['-t', table])).stdout.replace(/^#.*\n/gm, '');
  const tcp = (from: string, host: string, port: number, count = 1, timeoutMs = 1500, localAddress?: string) =>
    c.probe(from, { proto: 'tcp', host, port, count, timeoutMs, ...(localAddress ? { localAddress } : {}) });

  beforeAll(async () => {
    c = await NetnsCluster.create({
      pods: [
        { name: 'web-a', ip: '10.180.0.1', tcpPorts: [8080], udpPorts: [5353] },
        { name: 'web-b', ip: '10.180.0.2', tcpPorts: [8080], udpPorts: [5353] },
        { name: 'web-c', ip: '10.180.0.3', tcpPorts: [8080], udpPorts: [5353] },
        { name: 'local-d', ip: '10.180.0.4', tcpPorts: [8080], udpPorts: [5353] },
        { name: 'client', ip: CLIENT_POD_IP },
      ],
    });
    // The test's own rules, which every apply must leave alone.
    await c.exec(node(), 'iptables', ['-t', 'nat', '-N', 'MY-CHAIN']);
    await c.exec(node(), 'iptables', ['-t', 'nat', '-A', 'MY-CHAIN', '-s', '198.51.100.7', '-j', 'RETURN']);
    await c.exec(node(), 'iptables', ['-A', 'INPUT', '-s', '198.51.100.8', '-j', 'ACCEPT']);
  }, 60_000);
  afterAll(async () => {
    await c?.destroy();
  });

  async function foreignRulesSurvive() {
    expect(await save('nat')).toContain('-A MY-CHAIN -s 198.51.100.7/32 -j RETURN');
    expect(await save('filter')).toContain('-A INPUT -s 198.51.100.8/32 -j ACCEPT');
  }

  describe('one snapshot, every kind of traffic', () => {
    beforeAll(async () => {
      const r = await svcrules(['apply', '--netns', c.node, 'node.yaml', 'traffic/snapshot.yaml']);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      // Every chain of the compiled ruleset was written; all but the empty filter KUBE-NODEPORTS changed.
      const compiled = await svcrules(['compile', 'node.yaml', 'traffic/snapshot.yaml']);
      const chains = compiled.out.split('\n').filter((l) => l.startsWith(':')).length;
      expect(r.out).toMatch(/^ipv4: full sync \(no state file \/\S+\/netns-[\w-]+\.ipv4\.state\); /);
      expect(r.out.replace(/\(no state file \S+\)/, '(no state file)')).toBe(`ipv4: full sync (no state file); ${chains} chains written (${chains - 1} changed); 14 jump rules inserted\n`);
    }, 30_000);

    test('ClusterIP from a pod reaches every backend and only those, without SNAT', async () => {
      const rs = await tcp(c.pod('client'), '172.30.0.41', 80, 30);
      expect(errorsOf(rs)).toEqual([]);
      expect(podsOf(rs)).toEqual(WEB);
      expect(sources(rs)).toEqual([CLIENT_POD_IP]);
    });

    test('ClusterIP from the node itself reaches every backend, masqueraded to the node IP', async () => {
      const rs = await tcp(c.node, '172.30.0.41', 80, 30);
      expect(podsOf(rs)).toEqual(WEB);
      expect(sources(rs)).toEqual([NODE_IP]);
    });

    test('NodePort from the external client via the node IP works (eTP Cluster: SNAT to the node)', async () => {
      const rs = await tcp(c.client, NODE_IP, 30080, 30);
      expect(errorsOf(rs)).toEqual([]);
      expect(podsOf(rs)).toEqual(WEB);
      expect(sources(rs)).toEqual([NODE_IP]);
    });

    test('no endpoints: connection refused (REJECT) on the ClusterIP and on the NodePort', async () => {
      expect(errorsOf(await tcp(c.pod('client'), '172.30.0.42', 80))).toEqual(['ECONNREFUSED']);
      expect(errorsOf(await tcp(c.node, '172.30.0.42', 80))).toEqual(['ECONNREFUSED']);
      expect(errorsOf(await tcp(c.client, NODE_IP, 30081))).toEqual(['ECONNREFUSED']);
    });

    test('externalTrafficPolicy Local without local endpoints drops external traffic (the ClusterIP still works)', async () => {
      expect(errorsOf(await tcp(c.client, NODE_IP, 30082, 1, 700))).toEqual(['TIMEOUT']);
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.43', 80, 10))).not.toEqual([]);
    });

    test('externalTrafficPolicy Local with a local endpoint keeps the client source', async () => {
      const rs = await tcp(c.client, NODE_IP, 30083, 5);
      expect(podsOf(rs)).toEqual(['local-d']);
      expect(sources(rs)).toEqual([CLIENT_IPS[0]]);
    });

    test('loadBalancerSourceRanges admit 203.0.113.0/25 and drop other clients', async () => {
      const admitted = await tcp(c.client, '1.2.3.4', 80, 10, 1500, CLIENT_IPS[0]);
      expect(errorsOf(admitted)).toEqual([]);
      expect(podsOf(admitted).every((p) => WEB.includes(p))).toBe(true);
      expect(sources(admitted)).toEqual([NODE_IP]);
      expect(errorsOf(await tcp(c.client, '1.2.3.4', 80, 1, 700, CLIENT_IPS[1]))).toEqual(['TIMEOUT']);
      // The node port of the same Service is not subject to the source ranges.
      expect(podsOf(await tcp(c.client, NODE_IP, 30084, 3, 1500, CLIENT_IPS[1])).length).toBeGreaterThan(0);
    });

    test('session affinity sticks to one backend per client', async () => {
      const fromPod = await tcp(c.pod('client'), '172.30.0.46', 80, 12);
      expect(errorsOf(fromPod)).toEqual([]);
      expect(podsOf(fromPod)).toHaveLength(1);
      const fromNode = await tcp(c.node, '172.30.0.46', 80, 12);
      expect(podsOf(fromNode)).toHaveLength(1);
    });

    test('UDP ClusterIP reaches the backends', async () => {
      const rs = await c.probe(c.pod('client'), { proto: 'udp', host: '172.30.0.47', port: 53, count: 20 });
      expect(errorsOf(rs)).toEqual([]);
      expect(podsOf(rs)).toEqual(WEB);
      expect(sources(rs)).toEqual([CLIENT_POD_IP]);
    });

    test('a second apply changes nothing; diff agrees; foreign rules are intact', async () => {
      const again = await svcrules(['apply', '--netns', c.node, 'node.yaml', 'traffic/snapshot.yaml']);
      expect(again.out).toBe('ipv4: partial sync; nothing to change\n');
      const diff = await svcrules(['diff', '--netns', c.node, 'node.yaml', 'traffic/snapshot.yaml']);
      expect(diff).toEqual({ out: '', err: 'ipv4: no changes\n', code: 0 });
      await foreignRulesSurvive();
    });

    test('dry run prints the payload and checks it, changing nothing', async () => {
      const before = await save('nat');
      const r = await svcrules(['apply', '--dry-run', '--netns', c.node, 'node.yaml', 'sequence/step1.yaml']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^\*filter\n/);
      expect(r.out).toContain('-X KUBE-SEP-');
      const [checked, ...wouldDelete] = r.err.trimEnd().split('\n');
      expect(checked).toBe('ipv4: payload checked with iptables-restore --test: ok');
      // step1 drops the dns Service: its UDP flows would be cleared.
      expect(wouldDelete).toEqual(['10.180.0.1', '10.180.0.2', '10.180.0.3'].map((ip) => `ipv4: would delete conntrack entries for udp 172.30.0.47:53 -> ${ip}:5353`));
      expect(await save('nat')).toBe(before);
    });

    test('UDP: removing an endpoint deletes exactly its conntrack entries; the flow moves on', async () => {
      // A steady UDP flow from a fixed source port: one conntrack entry, DNATed to one backend.
      const flow = { proto: 'udp' as const, host: '172.30.0.47', port: 53, localPort: 40053 };
      const [first] = await c.probe(c.pod('client'), flow);
      expect(first?.ok).toBe(true);
      const victim = (first as { pod: string }).pod;
      const keep = WEB.filter((p) => p !== victim);
      const ct = async () => (await c.exec(c.node, 'conntrack', ['-L', '-p', 'udp', '--orig-dst', '172.30.0.47'])).stdout;
      const entriesTo = (text: string, ip: string) => text.split('\n').filter((l) => l.includes(`src=${ip} dst=${CLIENT_POD_IP}`)).length;
      const ips: Record<string, string> = { 'web-a': '10.180.0.1', 'web-b': '10.180.0.2', 'web-c': '10.180.0.3' };
      const before = await ct();
      expect(before).toContain('sport=40053');
      // Scale the dns Service down to the other two pods (Pods keep their labels; the victim goes).
      const text = await readFile(join(DIR, 'traffic/snapshot.yaml'), 'utf8');
      const tmp = mkdtempSync(join(tmpdir(), 'svcr-apply-'));
      try {
        const file = join(tmp, 'scaled.yaml');
        await import('node:fs/promises').then((fs) => fs.writeFile(file, text.replace(`name: ${victim}, namespace: demo, labels: {app: web}`, `name: ${victim}, namespace: demo, labels: {app: gone}`)));
        const r = await svcrules(['apply', '--netns', c.node, 'node.yaml', file]);
        expect(r.code).toBe(0);
        // Exactly the victim's entries went (earlier probes left some too); the others' stay.
        const n = entriesTo(before, ips[victim]!);
        expect(n).toBeGreaterThan(0);
        expect(r.out).toContain(`ipv4: conntrack: udp 172.30.0.47:53 -> ${ips[victim]}:5353: ${n} entr${n === 1 ? 'y' : 'ies'} deleted\n`);
        const after = await ct();
        expect(after).not.toContain('sport=40053');
        expect(entriesTo(after, ips[victim]!)).toBe(0);
        for (const p of keep) expect(entriesTo(after, ips[p]!)).toBe(entriesTo(before, ips[p]!));
        const [next] = await c.probe(c.pod('client'), flow);
        expect(next?.ok && keep.includes((next as { pod: string }).pod)).toBe(true);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
        // Back to the full snapshot for the tests that follow.
        await svcrules(['apply', '--netns', c.node, 'node.yaml', 'traffic/snapshot.yaml']);
      }
    });

    test('fault: a broken payload injected through the runner leaves the previous rules (and traffic); the next apply is full', async () => {
      const snap = loadSnapshot(
        await Promise.all(['node.yaml', 'sequence/step1.yaml'].map(async (f) => ({ name: f, text: await readFile(join(DIR, f), 'utf8') }))),
      ).snapshot;
      const desired = compile(snap, {}).ruleset;
      let corrupt = true;
      const runner: Runner = (cmd, args, opts) =>
        // The last filter line before its COMMIT becomes a jump to nowhere (line numbers unchanged).
        spawnRunner(cmd, args, corrupt && args.includes('iptables-restore') && opts?.stdin ? { ...opts, stdin: opts.stdin.replace(/\n[^\n]*\nCOMMIT\n/, '\n-A KUBE-SERVICES -j KUBE-DOES-NOT-EXIST\nCOMMIT\n') } : opts);
      const nf = createExecNetfilter({ netns: c.node, runner });
      const applier = createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync: async () => void (await ensureNfacctCounters({ netns: c.node })) });
      const before = (await c.exec(c.node, 'iptables-save', [])).stdout.replace(/^#.*\n/gm, '');
      const err = await applier.apply(desired).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RestoreError);
      const e = err as RestoreError;
      expect(e.message).toMatch(/^iptables-restore failed at payload line \d+: Chain 'KUBE-DOES-NOT-EXIST' does not exist\n/);
      // The failing line is filter's COMMIT, shown with 3 lines of context; nothing was committed.
      expect(e.excerpt.split('\n')).toHaveLength(7);
      expect(e.excerpt.split('\n')[3]).toMatch(/^> +\d+ \| COMMIT$/);
      expect(e.committedTables).toEqual([]);
      expect((await c.exec(c.node, 'iptables-save', [])).stdout.replace(/^#.*\n/gm, '')).toBe(before);
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.41', 80, 20))).toEqual(WEB);
      expect(applier.pendingFullSync).toMatch(/^the previous apply failed/);
      corrupt = false;
      const r = await applier.apply(desired);
      expect(r.mode).toBe('full');
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.50', 80, 20))).toEqual(WEB);
      await foreignRulesSurvive();
    });
  });

  describe('a sequence of snapshots', () => {
    const serviceChains = (text: string) => [...text.matchAll(/^:(KUBE-(?:SVC|SVL|SEP|EXT|FW)-\w+) /gm)].map((m) => m[1]).sort();

    async function step(n: number) {
      const files = ['node.yaml', `sequence/step${n}.yaml`];
      const r = await svcrules(['apply', '--netns', c.node, ...files]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      // Stale chains are gone: the host's service chains are exactly the compiled ones.
      const compiled = await svcrules(['compile', ...files]);
      expect(serviceChains(await save('nat'))).toEqual(serviceChains(compiled.out));
      // A second apply is a no-op.
      const again = await svcrules(['apply', '--netns', c.node, ...files]);
      expect(again.out).toBe('ipv4: partial sync; nothing to change\n');
      await foreignRulesSurvive();
      return r;
    }

    test('3 -> 1 -> 0 -> 2 endpoints, a Service added then removed, a port changed: traffic right after each step', async () => {
      await step(1);
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.50', 80, 30))).toEqual(WEB);
      expect(podsOf(await tcp(c.client, NODE_IP, 30090, 30))).toEqual(WEB);
      // The traffic snapshot's Services are gone.
      expect(errorsOf(await tcp(c.pod('client'), '172.30.0.41', 80, 1, 500))).toEqual(['TIMEOUT']);

      await step(2);
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.50', 80, 10))).toEqual(['web-b']);
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.51', 80, 5))).toEqual(['local-d']);

      await step(3);
      expect(errorsOf(await tcp(c.pod('client'), '172.30.0.50', 80))).toEqual(['ECONNREFUSED']);
      expect(errorsOf(await tcp(c.client, NODE_IP, 30090))).toEqual(['ECONNREFUSED']);
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.51', 80, 5))).toEqual(['local-d']);

      await step(4);
      expect(podsOf(await tcp(c.pod('client'), '172.30.0.50', 81, 30))).toEqual(['web-a', 'web-c']);
      expect(podsOf(await tcp(c.client, NODE_IP, 30091, 30))).toEqual(['web-a', 'web-c']);
      expect(errorsOf(await tcp(c.pod('client'), '172.30.0.50', 80, 1, 500))).toEqual(['TIMEOUT']);
      expect(errorsOf(await tcp(c.pod('client'), '172.30.0.51', 80, 1, 500))).toEqual(['TIMEOUT']);
    }, 60_000);
  });

  describe('refusals and the lock', () => {
    test("kube-proxy's canary makes apply refuse (exit 1); --force applies", async () => {
      await c.exec(c.node, 'iptables', ['-t', 'nat', '-N', 'KUBE-PROXY-CANARY']);
      try {
        const r = await svcrules(['apply', '--netns', c.node, 'node.yaml', 'sequence/step1.yaml']);
        expect(r.code).toBe(1);
        expect(r.err).toBe(
          'svcrules: refusing to apply: a live kube-proxy owns the ipv4 KUBE-* chains (its KUBE-PROXY-CANARY chain exists in nat). Two writers would overwrite each other; stop kube-proxy first, or pass --force to override.\n',
        );
        const forced = await svcrules(['apply', '--force', '--netns', c.node, 'node.yaml', 'sequence/step1.yaml']);
        expect(forced.code).toBe(0);
      } finally {
        await c.exec(c.node, 'iptables', ['-t', 'nat', '-X', 'KUBE-PROXY-CANARY']);
      }
    });

    test('--explain-host prints what was probed', async () => {
      const r = await svcrules(['apply', '--explain-host', '--netns', c.node]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`ipv4 (network namespace ${c.node}):\n  iptables: iptables v1.8`);
      expect(r.out).toMatch(/random-fully: yes/);
      expect(r.out).toMatch(/nfacct: tool present; ct_state_invalid_dropped_pkts present, localhost_nps_accepted_pkts present/);
    });

    test('a held xtables lock: bounded wait, then exit 1 naming the lock (private lock file, legacy backend)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'svcr-lock-'));
      const lockFile = join(dir, 'xtables.lock');
      const holder = spawn('flock', [lockFile, 'sleep', '20'], { stdio: 'ignore', detached: true });
      try {
        for (let i = 0; i < 50 && (await execFile('flock', ['-n', lockFile, 'true'])).code === 0; i++) await new Promise((r) => setTimeout(r, 50));
        const started = Date.now();
        const r = await svcrules(['apply', '--backend', 'legacy', '--wait', '1', '--netns', c.node, 'node.yaml', 'sequence/step1.yaml'], { XTABLES_LOCKFILE: lockFile });
        expect(Date.now() - started).toBeLessThan(8000);
        expect(r.code).toBe(1);
        expect(r.err).toMatch(new RegExp(`^svcrules: iptables(-legacy)?: the xtables lock ${lockFile.replace(/[.]/g, '\\.')} is held by another process \\(pid ${holder.pid} \\(flock\\)\\); gave up after waiting 1 s\\.`));
      } finally {
        if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
