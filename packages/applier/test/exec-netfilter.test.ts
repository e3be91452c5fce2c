/**
 * The real runner against the real kernel, each test inside a network namespace it creates and
 * deletes: restore, save, error mapping, the lock, hooks and host facts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, mustExec, kernelGate, uniqueName } from '@svcrules/testkit';
import { createExecNetfilter } from '../src/exec-netfilter.js';
import { RestoreError, XtablesLockError } from '../src/errors.js';
import { KUBE_PROXY_HOOK_RULES } from '@svcrules/core';
import { ensureHooks } from '../src/hooks.js';
import { compileOptionsFromFacts, ensureNfacctCounters, explainHost, probeHost } from '../src/host-facts.js';
import { chainExists, listChain } from '../src/netfilter.js';

const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore', 'iptables-legacy', 'iptables-legacy-restore', 'ip6tables-save', 'ip6tables-restore', 'nfacct', 'flock']);
const d = kernel.describe;

async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = uniqueName('nf');
  await mustExec('ip', ['netns', 'add', ns]);
  try {
    return await fn(ns);
  } finally {
    await execFile('ip', ['netns', 'del', ns]);
  }
}

const strip = (save: string) =>
  save
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .join('\n');

d('exec netfilter (real iptables in a netns)', () => {
  test('restore --noflush loads a payload; save reads it back; other chains stay', () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-N', 'FOREIGN']);
      await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'FOREIGN', '-j', 'RETURN']);
      await nf.restore('ipv4', '*nat\n:KUBE-A - [0:0]\n-A KUBE-A -m comment --comment "a b" -j MASQUERADE\nCOMMIT\n', { noflush: true });
      const save = strip(await nf.save('ipv4', 'nat'));
      expect(save).toContain(':KUBE-A - [0:0]');
      expect(save).toContain('-A KUBE-A -m comment --comment "a b" -j MASQUERADE');
      expect(save).toContain('-A FOREIGN -j RETURN');
      expect(await chainExists(nf, 'ipv4', 'nat', 'KUBE-A')).toBe(true);
      expect(await chainExists(nf, 'ipv4', 'nat', 'KUBE-B')).toBe(false);
      expect(await listChain(nf, 'ipv4', 'nat', 'KUBE-A')).toEqual(['-N KUBE-A', '-A KUBE-A -m comment --comment "a b" -j MASQUERADE']);
    }));

  test('a dangling jump fails with the offending line in context; the host keeps its rules', () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      await nf.restore('ipv4', '*nat\n:KUBE-A - [0:0]\n-A KUBE-A -j RETURN\nCOMMIT\n', { noflush: true });
      const before = strip(await nf.save('ipv4'));
      const payload = ['*nat', ':KUBE-A - [0:0]', ':KUBE-B - [0:0]', '-A KUBE-B -j RETURN', '-A KUBE-A -j KUBE-NOPE', '-A KUBE-A -j KUBE-B', 'COMMIT', ''].join('\n');
      const err = await nf.restore('ipv4', payload, { noflush: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RestoreError);
      const r = err as RestoreError;
      // nft reports the COMMIT line; the error points at the rule that jumps to the missing chain.
      expect(r.line).toBe(7);
      expect(r.culpritLine).toBe(5);
      expect(r.reason).toMatch(/KUBE-NOPE/);
      expect(r.excerpt.split('\n')).toEqual([
        '  2 | :KUBE-A - [0:0]',
        '  3 | :KUBE-B - [0:0]',
        '  4 | -A KUBE-B -j RETURN',
        '> 5 | -A KUBE-A -j KUBE-NOPE',
        '  6 | -A KUBE-A -j KUBE-B',
        '  7 | COMMIT',
      ]);
      expect(r.message).toContain('iptables-restore failed at payload line 7');
      expect(strip(await nf.save('ipv4'))).toBe(before);
    }));

  test('an unknown option is reported on its own line; tables committed earlier are named', () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      const payload = ['*nat', ':KUBE-A - [0:0]', '-A KUBE-A -j RETURN', 'COMMIT', '*filter', ':KUBE-F - [0:0]', '-A KUBE-F -p tcp --bogus 1 -j ACCEPT', 'COMMIT', ''].join('\n');
      const err = (await nf.restore('ipv4', payload, { noflush: true }).catch((e: unknown) => e)) as RestoreError;
      expect(err).toBeInstanceOf(RestoreError);
      expect(err.line).toBe(7);
      expect(err.culpritLine).toBeUndefined();
      expect(err.excerpt).toContain('> 7 | -A KUBE-F -p tcp --bogus 1 -j ACCEPT');
      expect(err.committedTables).toEqual(['nat']);
      // iptables-restore commits table by table: nat went in, filter did not.
      expect(await chainExists(nf, 'ipv4', 'nat', 'KUBE-A')).toBe(true);
      expect(await chainExists(nf, 'ipv4', 'filter', 'KUBE-F')).toBe(false);
    }));

  test('--test checks without changing anything', () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      await nf.restore('ipv4', '*nat\n:KUBE-A - [0:0]\nCOMMIT\n', { noflush: true, test: true });
      expect(await chainExists(nf, 'ipv4', 'nat', 'KUBE-A')).toBe(false);
      await expect(nf.restore('ipv4', '*nat\n:KUBE-A - [0:0]\n-A KUBE-A --bogus\nCOMMIT\n', { noflush: true, test: true })).rejects.toBeInstanceOf(RestoreError);
    }));

  test('ip6tables-restore for ipv6', () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      await nf.restore('ipv6', '*nat\n:KUBE-A - [0:0]\n-A KUBE-A -d fd00::1 -j RETURN\nCOMMIT\n', { noflush: true });
      expect(strip(await nf.save('ipv6', 'nat'))).toContain('-A KUBE-A -d fd00::1/128 -j RETURN');
      expect(await chainExists(nf, 'ipv4', 'nat', 'KUBE-A')).toBe(false);
    }));

  test('a held xtables lock gives a bounded wait, then an error naming the lock and its holder', () =>
    withNetns(async (ns) => {
      // A private lock file (XTABLES_LOCKFILE) so the machine's own iptables is never blocked; the
      // legacy backend honours the lock (iptables-nft does not take it at all).
      const dir = mkdtempSync(join(tmpdir(), 'svcr-lock-'));
      const lockFile = join(dir, 'xtables.lock');
      // Its own process group, so killing it also kills the `sleep` that inherits the locked file.
      const holder = spawn('flock', [lockFile, 'sleep', '20'], { stdio: 'ignore', detached: true });
      const release = () => {
        if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, 'SIGKILL');
      };
      try {
        // Wait until flock holds it.
        for (let i = 0; i < 50; i++) {
          const probe = await execFile('flock', ['-n', lockFile, 'true']);
          if (probe.code !== 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const nf = createExecNetfilter({ netns: ns, backend: 'legacy', lockFile, waitSeconds: 1 });
        const started = Date.now();
        const err = await nf.restore('ipv4', '*nat\n:KUBE-A - [0:0]\nCOMMIT\n', { noflush: true }).catch((e: unknown) => e);
        const waited = Date.now() - started;
        expect(err).toBeInstanceOf(XtablesLockError);
        expect((err as Error).message).toContain(`the xtables lock ${lockFile} is held by another process (pid ${holder.pid} (flock))`);
        expect((err as Error).message).toContain('gave up after waiting 1 s');
        expect(waited).toBeGreaterThanOrEqual(900);
        expect(waited).toBeLessThan(5000);
        await expect(nf.run('ipv4', ['-t', 'nat', '-N', 'KUBE-B'])).rejects.toBeInstanceOf(XtablesLockError);
        // Once released, the same call goes through.
        const exited = new Promise((r) => holder.once('exit', r));
        release();
        await exited;
        await nf.restore('ipv4', '*nat\n:KUBE-A - [0:0]\nCOMMIT\n', { noflush: true });
        expect(await chainExists(nf, 'ipv4', 'nat', 'KUBE-A')).toBe(true);
        // Leave no legacy tables behind in the namespace (deleted with it anyway).
      } finally {
        release();
        rmSync(dir, { recursive: true, force: true });
      }
    }));

  test("hooks: kube-proxy's -N / -C / -I sequence, idempotent, in kube-proxy's resulting order", () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-s', '198.51.100.1', '-j', 'ACCEPT']);
      const first = await ensureHooks(nf, 'ipv4');
      expect(first.inserted).toHaveLength(KUBE_PROXY_HOOK_RULES.length);
      const second = await ensureHooks(nf, 'ipv4');
      expect(second.inserted).toEqual([]);
      expect(second.createdChains).toEqual([]);
      const filter = strip(await nf.save('ipv4', 'filter'))
        .split('\n')
        .filter((l) => /^-A (INPUT|FORWARD|OUTPUT) /.test(l));
      expect(filter).toEqual([
        '-A INPUT -j KUBE-FIREWALL',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A INPUT -s 198.51.100.1/32 -j ACCEPT',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A OUTPUT -j KUBE-FIREWALL',
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      ]);
      const nat = strip(await nf.save('ipv4', 'nat'))
        .split('\n')
        .filter((l) => l.startsWith('-A '));
      expect(nat).toEqual([
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      ]);
    }));

  test('host facts: version and backend, nfacct counters, tcp_be_liberal read inside the namespace, kube-proxy canary', () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      // Make sure nf_conntrack is loaded so the sysctl exists (a conntrack match does it).
      await nf.run('ipv4', ['-t', 'filter', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP']);
      const facts = await probeHost({ family: 'ipv4', netfilter: nf, netns: ns });
      const version = await mustExec('iptables', ['--version']);
      expect(facts.iptables?.text).toBe(version.trim());
      expect(facts.iptables?.backend).toBe(version.includes('nf_tables') ? 'nft' : 'legacy');
      expect(facts.randomFully).toBe(true);
      expect(facts.waitFlags).toEqual(['-w', '5', '-W', '100000']);
      expect(facts.kubeProxyCanary).toEqual([]);
      expect(facts.tcpBeLiberal).toBe(false);
      const hasNfacct = (await execFile('sh', ['-c', 'command -v nfacct'])).code === 0;
      expect(facts.nfacctTool).toBe(hasNfacct);
      expect(facts.nfacctCounters).toEqual({ ct_state_invalid_dropped_pkts: false, localhost_nps_accepted_pkts: false });
      if (hasNfacct) {
        expect(await ensureNfacctCounters({ netns: ns })).toEqual({ ct_state_invalid_dropped_pkts: true, localhost_nps_accepted_pkts: true });
        // The counters live in the namespace, not on the machine.
        expect((await mustExec('ip', ['netns', 'exec', ns, 'nfacct', 'list'])).match(/= (\w+);/g)).toEqual([
          '= ct_state_invalid_dropped_pkts;',
          '= localhost_nps_accepted_pkts;',
        ]);
      }
      await mustExec('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_tcp_be_liberal=1']);
      await nf.run('ipv4', ['-t', 'nat', '-N', 'KUBE-PROXY-CANARY']);
      const again = await probeHost({ family: 'ipv4', netfilter: nf, netns: ns });
      expect(again.tcpBeLiberal).toBe(true);
      expect(again.kubeProxyCanary).toEqual(['nat']);
      expect(again.nfacctCounters).toEqual({ ct_state_invalid_dropped_pkts: hasNfacct, localhost_nps_accepted_pkts: hasNfacct });
      expect(compileOptionsFromFacts(again)).toEqual({ randomFully: true, nfacct: hasNfacct, tcpBeLiberal: true });
      const text = explainHost(again);
      expect(text).toContain(`ipv4 (network namespace ${ns}):`);
      expect(text).toContain('nf_conntrack_tcp_be_liberal: 1 -> no INVALID drop rule');
      expect(text).toContain('KUBE-PROXY-CANARY in nat: a live kube-proxy owns the chains');
    }));
});
