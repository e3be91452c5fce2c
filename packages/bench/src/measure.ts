/**
 * What one benchmark child process measures for one size. Each mode runs in its own process (see
 * main.ts) so that peak RSS belongs to what was measured, and the child's stdout is /dev/null so
 * that writing the output costs what `svcrules compile ... > /dev/null` costs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { EndpointSlice, Snapshot } from '@svcrules/core';
import { compile, createIncrementalCompiler } from '@svcrules/core';
import { render, renderChunks } from '@svcrules/iptables';
import type { Ruleset } from '@svcrules/iptables';
import { loadSnapshot } from '@svcrules/snapshot';
import { median, peakRssMB, timed } from './stats.js';

export interface LoadResult {
  readonly inputBytes: number;
  readonly loadMs: number;
  readonly loadPeakRssMB: number;
  readonly services: number;
  readonly endpointSlices: number;
  readonly diagnostics: number;
}

/** Reads and loads the snapshot file through the real loader; writes the loaded model for the other children. */
export function measureLoad(file: string, modelFile: string): LoadResult {
  const [loaded, loadMs] = timed(() => {
    const text = readFileSync(file, 'utf8');
    return { text, result: loadSnapshot([{ name: file, text }]) };
  });
  const errors = loaded.result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`the synthetic snapshot does not load: ${errors[0]!.message}`);
  const loadPeakRssMB = peakRssMB();
  writeFileSync(modelFile, JSON.stringify(loaded.result.snapshot));
  return {
    inputBytes: Buffer.byteLength(loaded.text),
    loadMs,
    loadPeakRssMB,
    services: loaded.result.snapshot.services.length,
    endpointSlices: loaded.result.snapshot.endpointSlices.length,
    diagnostics: loaded.result.diagnostics.length,
  };
}

const readModel = (modelFile: string): Snapshot => JSON.parse(readFileSync(modelFile, 'utf8')) as Snapshot;

/** Writes like the CLI: `process.stdout.write(chunk)` per ~64 KiB chunk (stdout is /dev/null here). */
function stream(ruleset: Ruleset): number {
  let bytes = 0;
  for (const chunk of renderChunks(ruleset)) {
    bytes += chunk.length;
    process.stdout.write(chunk);
  }
  return bytes;
}

export interface PipelineResult {
  readonly compileRunsMs: readonly number[];
  readonly compileMs: number;
  readonly renderMs: number;
  readonly streamMs: number;
  /** Writing the rendered chunks (strings) as the CLI does. */
  readonly floorMs: number;
  /** Writing one precomputed Buffer in 64 KiB slices. */
  readonly bufferFloorMs: number;
  /** The one-buffer write: the whole text turned into bytes (Buffer.from) and written in one call. */
  readonly oneBufferFloorMs: number;
  /** The same into a file (`svcrules compile > file`), tmpfs or disk wherever the OS temp dir is. */
  readonly fileFloorMs: number;
  readonly bytes: number;
  readonly lines: number;
  readonly servicePorts: number;
  readonly endpoints: number;
  readonly largeClusterMode: boolean;
}

/** compile() (median of `runs`), render (chunks, discarded), stream (chunks to stdout), and the floor. */
export function measurePipeline(modelFile: string, runs: number): PipelineResult {
  const snapshot = readModel(modelFile);
  const compileRunsMs: number[] = [];
  let result = compile(snapshot);
  for (let i = 0; i < runs; i++) {
    const [r, t] = timed(() => compile(snapshot));
    compileRunsMs.push(t);
    result = r;
  }
  const renders: number[] = [];
  const streams: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    renders.push(
      timed(() => {
        let n = 0;
        for (const chunk of renderChunks(result.ruleset)) n += chunk.length;
        return n;
      })[1],
    );
    const [b, t] = timed(() => stream(result.ruleset));
    streams.push(t);
    bytes = b;
  }
  // The floor: the same bytes, already rendered, written the same way: the CLI's string chunks,
  // and one precomputed buffer in 64 KiB slices (no encoding at all).
  const chunks = [...renderChunks(result.ruleset)];
  const text = chunks.join('');
  const buffer = Buffer.from(text, 'latin1');
  const lines = text.split('\n').length - 1;
  const floors: number[] = [];
  const bufferFloors: number[] = [];
  const oneBufferFloors: number[] = [];
  const fileFloors: number[] = [];
  const tmp = join(mkdtempSync(join(tmpdir(), 'svcr-bench-')), 'out');
  for (let i = 0; i < 5; i++) {
    oneBufferFloors.push(timed(() => writeSync(1, Buffer.from(text, 'latin1')))[1]);
    fileFloors.push(timed(() => writeFileSync(tmp, Buffer.from(text, 'latin1')))[1]);
    floors.push(
      timed(() => {
        for (const chunk of chunks) process.stdout.write(chunk);
      })[1],
    );
    bufferFloors.push(
      timed(() => {
        for (let off = 0; off < buffer.length; off += 65536) process.stdout.write(buffer.subarray(off, off + 65536));
      })[1],
    );
  }
  rmSync(dirname(tmp), { recursive: true, force: true });
  return {
    compileRunsMs,
    compileMs: median(compileRunsMs),
    renderMs: median(renders),
    streamMs: median(streams),
    floorMs: median(floors),
    bufferFloorMs: median(bufferFloors),
    oneBufferFloorMs: median(oneBufferFloors),
    fileFloorMs: median(fileFloors),
    bytes,
    lines,
    servicePorts: result.stats.servicePorts,
    endpoints: result.stats.endpoints,
    largeClusterMode: result.stats.largeClusterMode,
  };
}

export interface RssResult {
  /** After reading the model (the Snapshot objects a node agent would hold). */
  readonly modelRssMB: number;
  /** Peak over model + one compile() + streaming the output. */
  readonly peakRssMB: number;
  /** Wall time of that one cold compile + stream, in a fresh process. */
  readonly coldMs: number;
}

/** One cold compile + stream in a fresh process: its peak RSS is what the CLI needs beyond loading. */
export function measureRss(modelFile: string): RssResult {
  const snapshot = readModel(modelFile);
  const modelRssMB = process.memoryUsage().rss / 1048576;
  const [, coldMs] = timed(() => stream(compile(snapshot).ruleset));
  return { modelRssMB, peakRssMB: peakRssMB(), coldMs };
}

/** A one-Service change: the slice at the middle of the list with its first endpoint moved. */
export function oneServiceChange(snapshot: Snapshot): { before: EndpointSlice; after: EndpointSlice } {
  const slices = snapshot.endpointSlices;
  const mid = slices.length >> 1;
  for (const before of [...slices.slice(mid), ...slices.slice(0, mid)]) {
    const first = before.endpoints[0];
    if (!first || before.addressType !== 'IPv4') continue;
    const after: EndpointSlice = { ...before, endpoints: [{ ...first, addresses: ['10.250.0.1'] }, ...before.endpoints.slice(1)] };
    return { before, after };
  }
  throw new Error('no slice with endpoints to change');
}

export interface IncrementalResult {
  readonly mode: 'always' | 'when-changed';
  readonly initialMs: number;
  /** The first update after the full sync (cold code). */
  readonly firstUpdateMs: number;
  readonly updateRunsMs: readonly number[];
  readonly updateMs: number;
  /** Rendering the partial payload (what is handed to iptables-restore). */
  readonly payloadRenderMs: number;
  /** replace() with a whole new snapshot (all objects new) that differs in one Service. */
  readonly replaceMs: number;
  /** Materialising the new full ruleset (lazy) after one update. */
  readonly fullRulesetMs: number;
  readonly payloadBytes: number;
  readonly fullBytes: number;
  readonly changedServices: number;
  readonly sync: string;
}

/** The incremental compiler: one full sync, then one-Service changes back and forth. */
export function measureIncremental(modelFile: string, updates: number, mode: 'always' | 'when-changed'): IncrementalResult {
  const snapshot = readModel(modelFile);
  const inc = createIncrementalCompiler({ topLevelChains: mode });
  const [first, initialMs] = timed(() => inc.replace(snapshot));
  const fullBytes = render(first.payload).length;
  const { before, after } = oneServiceChange(snapshot);
  const updateRunsMs: number[] = [];
  const renderRunsMs: number[] = [];
  const fullRunsMs: number[] = [];
  let payloadBytes = 0;
  let changedServices = 0;
  let sync = '';
  // The first updates run cold (JIT); a node agent's are warm. Report the first, measure after 5.
  let firstUpdateMs = 0;
  let current = before;
  for (let i = 0; i < 5; i++) {
    current = i % 2 === 0 ? after : before;
    const t = timed(() => inc.update({ endpointSlices: { upsert: [current] } }))[1];
    if (i === 0) firstUpdateMs = t;
  }
  for (let i = 0; i < updates; i++) {
    const slice = i % 2 === 0 ? before : after;
    current = slice;
    const [r, t] = timed(() => inc.update({ endpointSlices: { upsert: [slice] } }));
    if (r.changedServices.length !== 1 || r.sync !== 'partial') throw new Error(`expected a one-Service partial sync, got ${r.sync} ${r.changedServices.length}`);
    updateRunsMs.push(t);
    const [payload, tr] = timed(() => render(r.payload));
    renderRunsMs.push(tr);
    fullRunsMs.push(timed(() => r.ruleset)[1]);
    payloadBytes = payload.length;
    changedServices = r.changedServices.length;
    sync = r.sync;
  }
  // The same one-Service change given as a whole new snapshot (new objects, compared by value).
  const fresh = readModel(modelFile);
  const target = current === after ? before : after;
  const changedSnapshot = { ...fresh, endpointSlices: fresh.endpointSlices.map((s) => (s.namespace === target.namespace && s.name === target.name ? target : s)) };
  const [replaced, replaceMs] = timed(() => inc.replace(changedSnapshot));
  if (replaced.changedServices.length !== 1) throw new Error(`replace: expected one changed Service, got ${replaced.changedServices.length}`);
  return {
    mode,
    initialMs,
    replaceMs,
    firstUpdateMs,
    updateRunsMs,
    updateMs: median(updateRunsMs),
    payloadRenderMs: median(renderRunsMs),
    fullRulesetMs: median(fullRunsMs),
    payloadBytes,
    fullBytes,
    changedServices,
    sync,
  };
}
