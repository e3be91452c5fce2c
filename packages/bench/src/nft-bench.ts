/**
 * nftables mode beside iptables mode on the same snapshot: each backend's compile (the shared model
 * plus its renderer) and its text, timed together (median of `runs`), and its renderer alone on an
 * already compiled ruleset, with the output size, so the forms can be compared per byte written.
 * The forms take turns within each run.
 * nftables twice: knftables' Dump() lines (kube-proxy's test form, the CLI default) and nft's own
 * block syntax (`--format nft`).
 *
 *   node packages/bench/dist/nft-bench.js MODEL.json [runs]   # this section alone (bench/data/*.model.json)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Snapshot } from '@svcrules/core';
import { compile, compileNFTables } from '@svcrules/core';
import { render } from '@svcrules/iptables';
import { renderDump, renderNative } from '@svcrules/nftables';
import { median, timed } from './stats.js';

export interface BackendRun {
  /** compile + render to one string, median. */
  readonly ms: number;
  readonly runsMs: readonly number[];
  /** compile + render, CPU time of this process (user + system, GC threads included), median: steadier than wall time on a shared machine. */
  readonly cpuMs: number;
  /** render alone, of a ruleset compiled once, median. */
  readonly renderMs: number;
  readonly bytes: number;
  readonly lines: number;
}

export interface NftBenchResult {
  readonly iptables: BackendRun;
  /** Dump() lines. */
  readonly nftables: BackendRun;
  /** One nft table block. */
  readonly nftNative: BackendRun;
}

interface Form<R> {
  readonly compileOnce: () => R;
  readonly renderText: (r: R) => string;
}

const form = <R>(compileOnce: () => R, renderText: (r: R) => string): Form<unknown> => ({ compileOnce, renderText: renderText as (r: unknown) => string });

/**
 * Each form's compile + render, then each renderer alone on a ruleset compiled once, the forms
 * taking turns within every run: on a shared machine a slow stretch then hits all forms alike
 * instead of the one measured in it.
 */
function measureForms(runs: number, forms: readonly Form<unknown>[]): BackendRun[] {
  for (const f of forms) f.renderText(f.compileOnce()); // warm-up
  const totals = forms.map((): number[] => []);
  const cpus = forms.map((): number[] => []);
  for (let i = 0; i < runs; i++) {
    forms.forEach((f, j) => {
      const c0 = process.cpuUsage();
      totals[j]!.push(timed(() => f.renderText(f.compileOnce()))[1]);
      const c = process.cpuUsage(c0);
      cpus[j]!.push((c.user + c.system) / 1000);
    });
  }
  const compiled = forms.map((f) => f.compileOnce());
  const renders = forms.map((): number[] => []);
  const texts: string[] = forms.map(() => '');
  for (let i = 0; i < runs; i++) {
    forms.forEach((f, j) => {
      const [text, ms] = timed(() => f.renderText(compiled[j]));
      renders[j]!.push(ms);
      texts[j] = text;
    });
  }
  return forms.map((_, j) => {
    const text = texts[j]!;
    return { ms: median(totals[j]!), runsMs: totals[j]!, cpuMs: median(cpus[j]!), renderMs: median(renders[j]!), bytes: Buffer.byteLength(text), lines: text.split('\n').length - 1 };
  });
}

export function measureBackends(modelFile: string, runs: number): NftBenchResult {
  const snapshot = JSON.parse(readFileSync(modelFile, 'utf8')) as Snapshot;
  const [iptables, nftables, nftNative] = measureForms(runs, [
    form(() => compile(snapshot).ruleset, render),
    form(() => compileNFTables(snapshot).ruleset, renderDump),
    form(() => compileNFTables(snapshot).ruleset, renderNative),
  ]);
  return { iptables: iptables!, nftables: nftables!, nftNative: nftNative! };
}

const perByte = (ms: number, bytes: number): string => ((ms * 1e6) / bytes).toFixed(1);

/** The three forms as table rows: form, MB, total ms, ns/B, render ms, render ns/B, bytes and ns/B against iptables, total CPU ms and its ns/B against iptables. */
export function backendRows(r: NftBenchResult): string[][] {
  const i = r.iptables;
  const row = (name: string, b: BackendRun): string[] => [
    name,
    (b.bytes / 1e6).toFixed(1),
    b.ms.toFixed(0),
    perByte(b.ms, b.bytes),
    b.renderMs.toFixed(0),
    perByte(b.renderMs, b.bytes),
    (b.bytes / i.bytes).toFixed(2),
    ((b.ms / b.bytes) / (i.ms / i.bytes)).toFixed(2),
    ((b.renderMs / b.bytes) / (i.renderMs / i.bytes)).toFixed(2),
    b.cpuMs.toFixed(0),
    ((b.cpuMs / b.bytes) / (i.cpuMs / i.bytes)).toFixed(2),
  ];
  return [row('iptables', i), row('nftables Dump', r.nftables), row('nftables native', r.nftNative)];
}

export const BACKEND_HEADER = ['form', 'MB', 'total ms', 'ns/B', 'render ms', 'render ns/B', 'bytes / ipt', 'ns/B / ipt', 'render ns/B / ipt', 'total CPU ms', 'CPU ns/B / ipt'];

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = measureBackends(process.argv[2]!, Number(process.argv[3] ?? 5));
  process.stdout.write(`${[BACKEND_HEADER, ...backendRows(r)].map((row) => row.join('\t')).join('\n')}\n`);
}
