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
import { createExecNetfilter, ensureNfacctCounters, inNetns, spawnRunner } from '@svcrules/applier';
import type { EndpointSlice, Snapshot } from '@svcrules/core';
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
  /** iptables-restore of the full payload into an empty namespace (median over fresh namespaces). */
  readonly fullRestoreMs: number;
  /** The full restore was stopped at the timeout: `fullRestoreMs` is a lower bound. */
  readonly fullTimedOut: boolean;
  /** When it timed out: the time to load the same rules 250 Services per restore instead. */
  readonly batchedLoadMs?: number;
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

/** Namespaces this process made and has not deleted yet: removed on Ctrl-C / SIGTERM too. */
const live = new Set<string>();
let handlersInstalled = false;

function installSignalCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const ns of live) spawnSync('ip', ['netns', 'del', ns]);
      process.exit(130);
    });
  }
}

/** Runs `fn` in a fresh network namespace, deleted afterwards (also on SIGINT/SIGTERM). */
export async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  installSignalCleanup();
  const ns = `svcr-${process.pid}-${randomBytes(4).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip netns add ${ns}: ${add.stderr}`);
  live.add(ns);
  try {
    return await fn(ns);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    live.delete(ns);
  }
}

/** Full restore vs one-Service partial apply, for one backend, with the rules of `modelFile`. */
/** Loads `snapshot` onto the host in batches of Services (when one full restore is too slow): incremental syncs. */
async function loadInBatches(nf: ReturnType<typeof createExecNetfilter>, snapshot: Snapshot, batch: number): Promise<number> {
  const c = createIncrementalCompiler({ topLevelChains: 'when-changed' });
  const slicesOf = new Map<string, EndpointSlice[]>();
  for (const s of snapshot.endpointSlices) {
    const k = `${s.namespace}/${s.serviceName}`;
    slicesOf.set(k, [...(slicesOf.get(k) ?? []), s]);
  }
  const t0 = performance.now();
  await nf.restore('ipv4', render(c.replace({ ...snapshot, services: [], endpointSlices: [] }).payload), { noflush: true, counters: true });
  for (let i = 0; i < snapshot.services.length; i += batch) {
    const services = snapshot.services.slice(i, i + batch);
    const endpointSlices = services.flatMap((s) => slicesOf.get(`${s.namespace}/${s.name}`) ?? []);
    await nf.restore('ipv4', render(c.update({ services: { upsert: services }, endpointSlices: { upsert: endpointSlices } }).payload), { noflush: true, counters: true });
  }
  return performance.now() - t0;
}

export interface ApplyOptions {
  readonly fullRuns: number;
  readonly partialRuns: number;
  /** A full restore still running after this long is stopped; its time is then a lower bound. */
  readonly timeoutMs: number;
}

/** Full restore vs one-Service partial apply, for one backend, with the rules of `modelFile`. */
export async function measureApply(modelFile: string, backend: ApplyBackend, o: ApplyOptions): Promise<ApplyResult> {
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
    for (let i = 0; i < 2 * Math.ceil(o.partialRuns / 2); i++) {
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
  const restoreBinary = backend === 'nft' ? 'iptables-nft-restore' : 'iptables-legacy-restore';
  /** One full restore into `ns` (as the exec netfilter runs it), or undefined when it hit the timeout. */
  const fullRestore = async (ns: string): Promise<number | undefined> => {
    const t0 = performance.now();
    const r = await inNetns(spawnRunner, ns)(restoreBinary, ['-w', '60', '-W', '100000', '--noflush', '--counters'], {
      stdin: full,
      timeoutMs: o.timeoutMs,
      env: { XTABLES_LOCKFILE: lockFile },
    });
    const t = performance.now() - t0;
    if (r.code === 0) return t;
    if (t >= o.timeoutMs) return undefined;
    throw new Error(`${restoreBinary} of the full ruleset failed: ${r.stderr.split('\n')[0]}`);
  };

  const fullRunsMs: number[] = [];
  let timedOut = false;
  for (let i = 0; i < o.fullRuns - 1 && !timedOut; i++) {
    await withNetns(async (ns) => {
      await ensureNfacctCounters({ netns: ns });
      const t = await fullRestore(ns);
      if (t === undefined) timedOut = true;
      else fullRunsMs.push(t);
    });
  }
  return withNetns(async (ns) => {
    await ensureNfacctCounters({ netns: ns });
    const nf = netfilter(ns);
    let batchedLoadMs: number | undefined;
    const t = timedOut ? undefined : await fullRestore(ns);
    if (t === undefined) {
      // Too slow in one transaction: load the host 250 Services at a time instead.
      timedOut = true;
      batchedLoadMs = await loadInBatches(nf, snapshot, 250);
    } else fullRunsMs.push(t);
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
      fullRestoreMs: timedOut ? o.timeoutMs : median(fullRunsMs),
      fullTimedOut: timedOut,
      fullRunsMs,
      ...(batchedLoadMs !== undefined ? { batchedLoadMs } : {}),
      partialRestoreMs: median(partialRunsMs),
      partialRunsMs,
      minimalLines: minimal.payloads[0]!.split('\n').length - 1,
      minimalRestoreMs: median(minimalRunsMs),
      verified,
    };
  });
}
