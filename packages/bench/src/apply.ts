/**
 * Apply benchmark in real network namespaces (created here, always deleted; never the machine's
 * own): a full restore of a ruleset against a one-Service partial apply of the incremental
 * compiler's payload, per iptables backend. Both payloads go through `iptables-restore -w 5
 * -W 100000 --noflush --counters`, as kube-proxy runs it, via the applier's exec netfilter.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createExecNetfilter, ensureNfacctCounters } from '@svcrules/applier';
import type { Snapshot } from '@svcrules/core';
import { createIncrementalCompiler, serviceChainNames } from '@svcrules/core';
import { render } from '@svcrules/iptables';
import type { AppendCommand, Ruleset } from '@svcrules/iptables';
import { oneServiceChange } from './measure.js';
import { median, timedAsync } from './stats.js';

export type ApplyBackend = 'nft' | 'legacy';

export interface ApplyResult {
  readonly backend: ApplyBackend;
  readonly fullLines: number;
  readonly fullBytes: number;
  readonly partialLines: number;
  readonly partialBytes: number;
  /** iptables-restore of the full payload into an empty namespace (median over `fullRuns` fresh namespaces). */
  readonly fullRestoreMs: number;
  readonly fullRunsMs: readonly number[];
  /** iptables-restore --noflush of the one-Service payload on the loaded namespace (median). */
  readonly partialRestoreMs: number;
  readonly partialRunsMs: readonly number[];
  /** The same change with `topLevelChains: 'when-changed'` (only the Service's own chains). */
  readonly minimalLines: number;
  readonly minimalRestoreMs: number;
  /** After each sequence, the changed Service's SVC chain as `iptables -S` lists it matched the compiled rules. */
  readonly verified: boolean;
}

export interface ApplySkip {
  readonly backend: ApplyBackend;
  readonly skipped: string;
}

function missing(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error !== undefined;
}

/** Why the apply benchmark cannot run here, or undefined. */
export function applySkipReason(backend: ApplyBackend): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (missing('ip')) return '`ip` (iproute2) is not installed';
  const restore = backend === 'nft' ? 'iptables-nft-restore' : 'iptables-legacy-restore';
  if (missing(restore)) return `${restore} is not installed`;
  return undefined;
}

async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `svcr-${process.pid}-${randomBytes(4).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip netns add ${ns}: ${add.stderr}`);
  try {
    return await fn(ns);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** Full restore vs one-Service partial apply, for one backend, with the rules of `modelFile`. */
export async function measureApply(modelFile: string, backend: ApplyBackend, fullRuns: number, partialRuns: number): Promise<ApplyResult> {
  const snapshot = JSON.parse(readFileSync(modelFile, 'utf8')) as Snapshot;
  const inc = createIncrementalCompiler();
  const full = render(inc.replace(snapshot).payload);
  const { before, after } = oneServiceChange(snapshot);
  // One-Service payloads moving the Service back and forth (an even number: the host ends where it
  // started), each valid on the state the previous one left; kube-proxy's form and the minimal one.
  const sequence = (mode: 'always' | 'when-changed') => {
    const c = mode === 'always' ? inc : createIncrementalCompiler({ topLevelChains: mode });
    if (c !== inc) c.replace(snapshot);
    const payloads: string[] = [];
    let ruleset = c.update({}).ruleset;
    for (let i = 0; i < 2 * Math.ceil(partialRuns / 2); i++) {
      const r = c.update({ endpointSlices: { upsert: [i % 2 === 0 ? after : before] } });
      payloads.push(render(r.payload));
      ruleset = r.ruleset;
    }
    return { payloads, ruleset };
  };
  const partial = sequence('always');
  const minimal = sequence('when-changed');
  const lockFile = join(tmpdir(), `svcr-bench-${process.pid}.lock`);
  const netfilter = (ns: string) => createExecNetfilter({ netns: ns, backend, lockFile, waitSeconds: 60 });

  const fullRunsMs: number[] = [];
  for (let i = 0; i < fullRuns - 1; i++) {
    await withNetns(async (ns) => {
      await ensureNfacctCounters({ netns: ns });
      fullRunsMs.push((await timedAsync(() => netfilter(ns).restore('ipv4', full, { noflush: true, counters: true })))[1]);
    });
  }
  return withNetns(async (ns) => {
    await ensureNfacctCounters({ netns: ns });
    const nf = netfilter(ns);
    fullRunsMs.push((await timedAsync(() => nf.restore('ipv4', full, { noflush: true, counters: true })))[1]);
    const port = after.ports[0]!;
    const chain = serviceChainNames(`${after.namespace}/${after.serviceName}${port.name ? `:${port.name}` : ''}`, port.protocol.toLowerCase()).svc;
    // The changed Service's SVC chain on the host has the compiled rules (their jump targets).
    const matches = async (ruleset: Ruleset) => {
      const nat = ruleset.tables.find((t) => t.name === 'nat')!;
      const expected = nat.commands.filter((c): c is AppendCommand => c.kind === 'append' && c.chain === chain);
      const listed = await nf.run('ipv4', ['-t', 'nat', '-S', chain]);
      const rules = listed.stdout.split('\n').filter((l) => l.startsWith('-A '));
      return listed.code === 0 && expected.length > 0 && rules.length === expected.length && rules.every((l, i) => l.endsWith(` ${expected[i]!.args.at(-1)!}`));
    };
    const run = async (payloads: readonly string[]) => {
      const times: number[] = [];
      for (const p of payloads) times.push((await timedAsync(() => nf.restore('ipv4', p, { noflush: true, counters: true })))[1]);
      return times;
    };
    const partialRunsMs = await run(partial.payloads);
    const partialOk = await matches(partial.ruleset);
    const minimalRunsMs = await run(minimal.payloads);
    const verified = partialOk && (await matches(minimal.ruleset));
    return {
      backend,
      fullLines: full.split('\n').length - 1,
      fullBytes: full.length,
      partialLines: partial.payloads[0]!.split('\n').length - 1,
      partialBytes: partial.payloads[0]!.length,
      fullRestoreMs: median(fullRunsMs),
      fullRunsMs,
      partialRestoreMs: median(partialRunsMs),
      partialRunsMs,
      minimalLines: minimal.payloads[0]!.split('\n').length - 1,
      minimalRestoreMs: median(minimalRunsMs),
      verified,
    };
  });
}
