/**
 * nftables mode beside iptables mode on the same snapshot: each backend's compile (the shared model
 * plus its renderer) and its text, timed together (median of `runs`), and its renderer alone on an
 * already compiled ruleset, with the output size, so the forms can be compared per byte written.
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

function medianOf<T>(runs: number, fn: () => T): { ms: number; runsMs: number[]; last: T } {
  let last = fn();
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [v, ms] = timed(fn);
    runsMs.push(ms);
    last = v;
  }
  return { ms: median(runsMs), runsMs, last };
}

function measure<R>(runs: number, compileOnce: () => R, renderText: (r: R) => string): BackendRun {
  const total = medianOf(runs, () => renderText(compileOnce()));
  const compiled = compileOnce();
  const alone = medianOf(runs, () => renderText(compiled));
  const text = alone.last;
  return { ms: total.ms, runsMs: total.runsMs, renderMs: alone.ms, bytes: Buffer.byteLength(text), lines: text.split('\n').length - 1 };
}

export function measureBackends(modelFile: string, runs: number): NftBenchResult {
  const snapshot = JSON.parse(readFileSync(modelFile, 'utf8')) as Snapshot;
  const iptables = measure(runs, () => compile(snapshot).ruleset, render);
  const nftables = measure(runs, () => compileNFTables(snapshot).ruleset, renderDump);
  const nftNative = measure(runs, () => compileNFTables(snapshot).ruleset, renderNative);
  return { iptables, nftables, nftNative };
}

const perByte = (ms: number, bytes: number): string => ((ms * 1e6) / bytes).toFixed(1);

/** The three forms as table rows: form, MB, total ms, ns/B, render ms, render ns/B, bytes and ns/B against iptables. */
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
  ];
  return [row('iptables', i), row('nftables Dump', r.nftables), row('nftables native', r.nftNative)];
}

export const BACKEND_HEADER = ['form', 'MB', 'total ms', 'ns/B', 'render ms', 'render ns/B', 'bytes / ipt', 'ns/B / ipt', 'render ns/B / ipt'];

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = measureBackends(process.argv[2]!, Number(process.argv[3] ?? 5));
  process.stdout.write(`${[BACKEND_HEADER, ...backendRows(r)].map((row) => row.join('\t')).join('\n')}\n`);
}
