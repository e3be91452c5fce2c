/**
 * nftables mode beside iptables mode on the same snapshot: each backend's compile (the shared model
 * plus its renderer) and its text, timed together (median of `runs`), with the output size, so the
 * two can be compared per byte written.
 */
import { readFileSync } from 'node:fs';
import type { Snapshot } from '@svcrules/core';
import { compile, compileNFTables } from '@svcrules/core';
import { render } from '@svcrules/iptables';
import { renderDump } from '@svcrules/nftables';
import { median, timed } from './stats.js';

export interface BackendRun {
  /** compile + render to one string, median. */
  readonly ms: number;
  readonly runsMs: readonly number[];
  readonly bytes: number;
  readonly lines: number;
}

export interface NftBenchResult {
  readonly iptables: BackendRun;
  readonly nftables: BackendRun;
}

function measure(runs: number, fn: () => string): BackendRun {
  let text = fn();
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [t, ms] = timed(fn);
    runsMs.push(ms);
    text = t;
  }
  return { ms: median(runsMs), runsMs, bytes: Buffer.byteLength(text), lines: text.split('\n').length - 1 };
}

export function measureBackends(modelFile: string, runs: number): NftBenchResult {
  const snapshot = JSON.parse(readFileSync(modelFile, 'utf8')) as Snapshot;
  const iptables = measure(runs, () => render(compile(snapshot).ruleset));
  const nftables = measure(runs, () => renderDump(compileNFTables(snapshot).ruleset));
  return { iptables, nftables };
}
