/**
 * `svcrules apply --state FILE` on the real kernel (real iptables-restore in network namespaces made
 * here and always deleted): the second run is a partial sync that leaves the host byte for byte as a
 * full sync would, and every reason not to trust the file (missing, corrupt, another namespace, our
 * canary flushed, another writer, kube-proxy) gives a full sync that says why.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, FIXTURES, kernelGate, mustExec, uniqueName } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

const DIR = join(FIXTURES, 'apply');
const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore', 'iptables-legacy-restore', 'flock']);
const d = kernel.describe;

d('svcrules apply --state', () => {
  const ns = uniqueName('st');
  const other = uniqueName('so');
  const reference = uniqueName('sr');
  const dir = mkdtempSync(join(tmpdir(), 'svcr-statef-'));
  const file = join(dir, 'state');
  const apply = (netns: string, step: number, ...extra: string[]) => runCli(['apply', '--netns', netns, '--state', file, ...extra, 'node.yaml', `sequence/step${step}.yaml`], DIR);
  // iptables-save without its timestamp comments and with our canary's token masked (it is random).
  const save = async (netns: string) => (await mustExec('ip', ['netns', 'exec', netns, 'iptables-save'])).replace(/^#.*\n/gm, '').replace(/svcrules:[0-9a-f]{16}/g, 'svcrules:TOKEN');
  /** The host a full sync of `step` leaves on a fresh namespace, without any state. */
  async function fullSyncOf(step: number): Promise<string> {
    await execFile('ip', ['netns', 'del', reference]);
    await mustExec('ip', ['netns', 'add', reference]);
    const r = await runCli(['apply', '--netns', reference, '--no-state', 'node.yaml', `sequence/step${step}.yaml`], DIR);
    expect(r.code).toBe(0);
    return save(reference);
  }

  beforeAll(async () => {
    for (const n of [ns, other]) await mustExec('ip', ['netns', 'add', n]);
  });
  afterAll(async () => {
    for (const n of [ns, other, reference]) await execFile('ip', ['netns', 'del', n]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('missing: a full sync that says so, then partial syncs that leave the host as a full sync would', async () => {
    const first = await apply(ns, 1);
    expect(first.err).toBe('');
    expect(first.out).toMatch(new RegExp(`^ipv4: full sync \\(no state file ${file}\\); \\d+ chains written`));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state']);
    for (const step of [2, 3, 4, 1]) {
      const r = await apply(ns, step);
      expect(r.err).toBe('');
      expect(r.out).toMatch(/^ipv4: partial sync; \d+ chains written \(\d+ changed\)/);
      expect(await save(ns)).toBe(await fullSyncOf(step));
    }
    expect((await apply(ns, 1)).out).toBe('ipv4: partial sync; nothing to change\n');
    expect(await runCli(['diff', '--netns', ns, 'node.yaml', 'sequence/step1.yaml'], DIR)).toEqual({ code: 0, out: '', err: 'ipv4: no changes\n' });
  });

  test('corrupt: a full sync naming the damage; the file is rewritten', async () => {
    writeFileSync(file, 'svcrules-state 2\n{not json');
    const r = await apply(ns, 2);
    expect(r.out).toMatch(new RegExp(`^ipv4: full sync \\(state file ${file} is corrupt: truncated \\(no end line\\)\\); `));
    expect(await save(ns)).toBe(await fullSyncOf(2));
    expect((await apply(ns, 2)).out).toBe('ipv4: partial sync; nothing to change\n');
  });

  test('another host: the state of one namespace is not used for another', async () => {
    const r = await apply(other, 2);
    expect(r.out).toMatch(new RegExp(`^ipv4: full sync \\(state file ${file} does not belong here: it is for another network namespace \\(netns ${ns} \\(inode \\d+\\); this is netns ${other} \\(inode \\d+\\)\\)\\); `));
    expect(await save(other)).toBe(await fullSyncOf(2));
    // Now the file is the other namespace's: back in the first one it is foreign too.
    expect((await apply(ns, 3)).out).toMatch(/^ipv4: full sync \(state file .* does not belong here: it is for another network namespace/);
  });

  test('canary flushed: tables flushed behind our back, or only our canary emptied', async () => {
    await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-F']);
    await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-X']);
    const r = await apply(ns, 4);
    expect(r.out).toMatch(/^ipv4: full sync \(the nat table was flushed \(KUBE-SVCRULES-CANARY is gone\)\); /);
    expect(await save(ns)).toBe(await fullSyncOf(4));
    await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'filter', '-F', 'KUBE-SVCRULES-CANARY']);
    expect((await apply(ns, 1)).out).toMatch(/^ipv4: full sync \(the filter table was written since the state was saved \(KUBE-SVCRULES-CANARY holds no token, not svcrules:[0-9a-f]{16}\)\); /);
    expect(await save(ns)).toBe(await fullSyncOf(1));
  });

  test('another writer: an apply without the state file in between makes the next one full', async () => {
    expect((await runCli(['apply', '--netns', ns, '--no-state', 'node.yaml', 'sequence/step3.yaml'], DIR)).code).toBe(0);
    const r = await apply(ns, 1);
    expect(r.out).toMatch(/^ipv4: full sync \(the (nat|filter) table was written since the state was saved/);
    expect(await save(ns)).toBe(await fullSyncOf(1));
  });

  test("kube-proxy present: refused and the state dropped; with --force, a full sync that says why", async () => {
    await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-N', 'KUBE-PROXY-CANARY']);
    try {
      const refused = await apply(ns, 2);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/^svcrules: refusing to apply: a live kube-proxy owns the ipv4 KUBE-\* chains/);
      expect(readdirSync(dir)).toEqual([]);
      const forced = await apply(ns, 2, '--force');
      expect(forced.out).toMatch(/^ipv4: full sync \(kube-proxy's KUBE-PROXY-CANARY exists: the chains may have changed since the state was saved\); /);
    } finally {
      await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-X', 'KUBE-PROXY-CANARY']);
    }
    // kube-proxy gone: the state the forced run could not keep is missing, so this run is full too.
    expect((await apply(ns, 2)).out).toMatch(new RegExp(`^ipv4: full sync \\(no state file ${file}\\); `));
    expect((await apply(ns, 3)).out).toMatch(/^ipv4: partial sync; /);
  });

  test('a run that fails before changing anything (unreadable snapshot; the xtables lock held while probing) keeps the state', async () => {
    const legacy = join(dir, 'legacy');
    const run = (env: Record<string, string> = {}) => runCli(['apply', '--backend', 'legacy', '--wait', '1', '--netns', other, '--state', legacy, 'node.yaml', 'sequence/step1.yaml'], DIR, { env });
    expect((await run()).code).toBe(0);
    expect((await runCli(['apply', '--backend', 'legacy', '--netns', other, '--state', legacy, 'node.yaml', 'missing.yaml'], DIR)).code).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['legacy', 'state']);
    const lockFile = join(dir, 'xtables.lock');
    const holder = spawn('flock', [lockFile, 'sleep', '20'], { stdio: 'ignore', detached: true });
    try {
      for (let i = 0; i < 50 && (await execFile('flock', ['-n', lockFile, 'true'])).code === 0; i++) await new Promise((r) => setTimeout(r, 50));
      const r = await run({ XTABLES_LOCKFILE: lockFile });
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/the xtables lock .* is held by another process/);
      expect(readdirSync(dir).sort()).toEqual(['legacy', 'state', 'xtables.lock']);
    } finally {
      if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, 'SIGKILL');
    }
    expect((await run()).out).toBe('ipv4: partial sync; nothing to change\n');
  });
});
