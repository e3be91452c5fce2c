/**
 * `pnpm bench`: synthetic clusters written as kubectl JSON under bench/data/ (gitignored), loaded
 * through the real loader, compiled, rendered and streamed, plus the incremental compiler and, as
 * root, restores in network namespaces. Prints tables and writes bench/results.json.
 *
 *   pnpm bench [--sizes 1k×10,10k×10] [--runs 5] [--updates 21] [--no-cli]
 *              [--no-apply] [--apply-size 10k×10] [--full-restores 1] [--restore-timeout 300]
 *              [--no-restores] [--cli-apply-runs 4] [--yaml-max-endpoints 100000]
 *              [--cli-runs 1] [--cli-base DIR] [--cli-only]
 *              [--no-nft-apply] [--nft-sizes 1k×2,10k×2] [--nft-partial-runs 5] [--nft-kube-proxy-timeout 120]
 *
 * Each measurement runs in its own child process (so peak RSS is per size and per phase) whose
 * stdout is /dev/null (so streaming costs what `svcrules compile ... > /dev/null` costs).
 */
import { fork, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { SIZES, syntheticList, syntheticSnapshotText } from './generate.js';
import type { Size } from './generate.js';
import { applySkipReason, measureApply } from './apply.js';
import type { ApplyBackend, ApplyResult, ApplySkip } from './apply.js';
import { measureCliApply, type CliApplyResult } from './cli-apply.js';
import { measureNftApply, type NftApplyBenchResult } from './nft-apply-bench.js';
import { measureIncremental, measureLoad, measurePipeline, measureRss } from './measure.js';
import type { IncrementalResult, LoadResult, PipelineResult, RssResult } from './measure.js';
import { mb, ms, ratio, table, timed } from './stats.js';
import { BACKEND_HEADER, backendRows, measureBackends } from './nft-bench.js';
import type { NftBenchResult } from './nft-bench.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = join(ROOT, 'bench', 'data');
const MAIN = fileURLToPath(import.meta.url);
/** Bump when the generator changes, so stale data files are not reused. */
const DATA_VERSION = 1;

const slug = (s: Size) => s.name.replace('×', 'x');
const dataFile = (s: Size) => join(DATA, `${slug(s)}.v${DATA_VERSION}.json`);
/** The same cluster as `kubectl get -o yaml` prints it, and the ClusterIP-only mix. */
const yamlFile = (s: Size) => join(DATA, `${slug(s)}.v${DATA_VERSION}.yaml`);
const clusterIPFile = (s: Size) => join(DATA, `${slug(s)}.clusterip.v${DATA_VERSION}.json`);
const modelFile = (s: Size) => join(DATA, `${slug(s)}.model.json`);

interface Options {
  sizes: Size[];
  runs: number;
  updates: number;
  apply: boolean;
  applySize: Size;
  fullRestores: number;
  restoreTimeoutS: number;
  cli: boolean;
  /** The backends' full and partial restores (minutes on nft); the CLI apply runs regardless. */
  restores: boolean;
  cliApplyRuns: number;
  /** YAML end to end only up to this many endpoints (the YAML parser is slow). */
  yamlMaxEndpoints: number;
  /** Runs per CLI end-to-end measurement (the median is reported). */
  cliRuns: number;
  /** Another checkout (built) whose CLI runs beside this one's, alternately, for ratios from one run. */
  cliBase?: string;
  /** Only the CLI end to end per size (no load/compile/incremental children). */
  cliOnly: boolean;
  /** The nftables applier (kube-proxy-shaped tables, Services × endpoints). */
  nftApply: boolean;
  nftSizes: { services: number; endpoints: number }[];
  nftPartialRuns: number;
  nftKubeProxyTimeoutS: number;
}

/** `10k×2` (or `10kx2`): Services × endpoints. */
function nftSize(text: string): { services: number; endpoints: number } {
  const m = /^(\d+)(k?)[×x](\d+)$/.exec(text);
  if (!m) throw new Error(`bad nft size ${text}; expected e.g. 10k×2`);
  return { services: Number(m[1]) * (m[2] ? 1000 : 1), endpoints: Number(m[3]) };
}
const nftSizeName = (s: { services: number; endpoints: number }) => `${s.services % 1000 === 0 ? `${s.services / 1000}k` : s.services}×${s.endpoints}`;

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { sizes: [...SIZES], runs: 5, updates: 21, apply: true, applySize: SIZES[1]!, fullRestores: 1, restoreTimeoutS: 300, cli: true, restores: true, cliApplyRuns: 4, yamlMaxEndpoints: 100_000, cliRuns: 1, cliOnly: false, nftApply: true, nftSizes: [nftSize('1k×2'), nftSize('10k×2')], nftPartialRuns: 5, nftKubeProxyTimeoutS: 120 };
  const size = (name: string) => {
    const s = SIZES.find((x) => x.name === name || slug(x) === name);
    if (!s) throw new Error(`unknown size ${name}; known: ${SIZES.map((x) => x.name).join(', ')}`);
    return s;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--sizes') o.sizes = argv[++i]!.split(',').map(size);
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--updates') o.updates = Number(argv[++i]);
    else if (a === '--no-apply') o.apply = false;
    else if (a === '--apply-size') o.applySize = size(argv[++i]!);
    else if (a === '--full-restores') o.fullRestores = Number(argv[++i]);
    else if (a === '--restore-timeout') o.restoreTimeoutS = Number(argv[++i]);
    else if (a === '--no-cli') o.cli = false;
    else if (a === '--no-restores') o.restores = false;
    else if (a === '--cli-apply-runs') o.cliApplyRuns = Number(argv[++i]);
    else if (a === '--yaml-max-endpoints') o.yamlMaxEndpoints = Number(argv[++i]);
    else if (a === '--cli-runs') o.cliRuns = Number(argv[++i]);
    else if (a === '--cli-base') o.cliBase = resolve(argv[++i]!);
    else if (a === '--cli-only') o.cliOnly = true;
    else if (a === '--no-nft-apply') o.nftApply = false;
    else if (a === '--nft-sizes') o.nftSizes = argv[++i]!.split(',').map(nftSize);
    else if (a === '--nft-partial-runs') o.nftPartialRuns = Number(argv[++i]);
    else if (a === '--nft-kube-proxy-timeout') o.nftKubeProxyTimeoutS = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

type ChildMode = 'load' | 'pipeline' | 'rss' | 'incremental' | 'apply' | 'cli-apply' | 'backends' | 'nft-apply';

const running = new Set<ChildProcess>();

/** Runs one measurement in a fresh process with stdout on /dev/null; resolves with what it sends back. */
function child<T>(mode: ChildMode, args: readonly string[]): Promise<T> {
  const devnull = openSync('/dev/null', 'w');
  return new Promise<T>((resolvePromise, reject) => {
    const p = fork(MAIN, ['--child', mode, ...args], { stdio: ['ignore', devnull, 'inherit', 'ipc'], execArgv: ['--max-old-space-size=8192'] });
    running.add(p);
    p.on('exit', () => running.delete(p));
    let message: { ok: true; value: T } | { ok: false; error: string } | undefined;
    p.on('message', (m) => (message = m as typeof message));
    p.on('error', reject);
    p.on('exit', (code) => {
      closeSync(devnull);
      if (message?.ok) resolvePromise(message.value);
      else reject(new Error(`bench child ${mode} ${args.join(' ')} failed (exit ${code}): ${message && !message.ok ? message.error : 'no result'}`));
    });
  });
}

async function runChild(mode: ChildMode, args: readonly string[]): Promise<unknown> {
  switch (mode) {
    case 'load':
      return measureLoad(args[0]!, args[1]!);
    case 'pipeline':
      return measurePipeline(args[0]!, Number(args[1]));
    case 'rss':
      return measureRss(args[0]!);
    case 'incremental':
      return measureIncremental(args[0]!, Number(args[1]), args[2] as 'always' | 'when-changed');
    case 'apply':
      return measureApply(args[0]!, args[1] as ApplyBackend, { fullRuns: Number(args[2]), partialRuns: Number(args[3]), timeoutMs: Number(args[4]) });
    case 'cli-apply':
      return measureCliApply(args[0]!, args[1]!, Number(args[2]));
    case 'backends':
      return measureBackends(args[0]!, Number(args[1]));
    case 'nft-apply':
      return measureNftApply({ services: Number(args[0]), endpoints: Number(args[1]), partialRuns: Number(args[2]), kubeProxyTimeoutMs: Number(args[3]) });
  }
}

/** The child's peak RSS, reported on exit (an --import module; spawnSync does not return it). */
const RSS_REPORTER = `data:text/javascript,import{writeSync}from"node:fs";process.on("exit",()=>writeSync(2,"\\nsvcrules-bench-maxrss "+process.resourceUsage().maxRSS+"\\n"))`;

export interface CliRun {
  readonly ms: number;
  readonly rssMB: number;
}

const cliBin = (root: string) => join(root, 'packages', 'cli', 'bin', 'svcrules.js');

/** `svcrules compile FILE > /dev/null`, end to end (wall time and peak RSS), when the CLI is built. */
function cliEndToEnd(file: string, root = ROOT): CliRun | { skipped: string } {
  const bin = cliBin(root);
  if (!existsSync(bin)) return { skipped: `the CLI is not built in ${root}` };
  const [r, t] = timed(() => spawnSync(process.execPath, ['--import', RSS_REPORTER, bin, 'compile', file], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 24 }));
  if (r.status !== 0) return { skipped: `svcrules compile exited ${r.status}: ${(r.stderr ?? '').split('\n')[0]}` };
  const kb = Number(/svcrules-bench-maxrss (\d+)/.exec(r.stderr ?? '')?.[1] ?? NaN);
  return { ms: t, rssMB: kb / 1024 };
}

type CliResult = CliRun | { skipped: string };

/** The median (by time) of `runs` CLI runs, and as many of the base checkout's, alternating. */
function cliMedian(file: string, o: Options): { run: CliResult; base?: CliResult } {
  const mine: CliResult[] = [];
  const base: CliResult[] = [];
  for (let i = 0; i < o.cliRuns; i++) {
    if (o.cliBase !== undefined) base.push(cliEndToEnd(file, o.cliBase));
    mine.push(cliEndToEnd(file));
  }
  const pick = (xs: CliResult[]): CliResult => {
    const ok = xs.filter((x): x is CliRun => 'ms' in x).sort((a, b) => a.ms - b.ms);
    return ok.length === xs.length ? ok[(ok.length - 1) >> 1]! : xs.find((x) => !('ms' in x))!;
  };
  return { run: pick(mine), ...(o.cliBase !== undefined ? { base: pick(base) } : {}) };
}

interface SizeResult {
  readonly size: Size;
  readonly loadavg: readonly number[];
  /** Absent with --cli-only. */
  readonly load?: LoadResult;
  readonly pipeline?: PipelineResult;
  readonly rss?: RssResult;
  readonly incremental?: readonly IncrementalResult[];
  readonly backends?: NftBenchResult;
  readonly cli?: CliRun | { skipped: string };
  readonly cliYaml?: CliRun | { skipped: string };
  readonly cliClusterIP?: CliRun | { skipped: string };
  /** The same three with --cli-base's CLI, measured alternately with this one's. */
  readonly cliBase?: { readonly json?: CliResult; readonly clusterIP?: CliResult; readonly yaml?: CliResult };
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    try {
      const value = await runChild(argv[1] as ChildMode, argv.slice(2));
      process.send!({ ok: true, value }, () => process.exit(0));
    } catch (e) {
      process.send!({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, () => process.exit(1));
    }
    return;
  }
  const o = parseArgs(argv);
  // A terminated bench stops its children, which delete their network namespaces.
  process.on('SIGTERM', () => {
    for (const p of running) p.kill('SIGTERM');
    process.exit(143);
  });
  mkdirSync(DATA, { recursive: true });
  const log = (s: string) => process.stderr.write(s);
  log(`svcrules bench: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);

  const results: SizeResult[] = [];
  for (const size of o.sizes) {
    const file = dataFile(size);
    if (!existsSync(file)) {
      log(`${size.name}: generating ${file}\n`);
      writeFileSync(file, syntheticSnapshotText(size));
    }
    const before = loadavg();
    let compiled: Required<Pick<SizeResult, 'load' | 'pipeline' | 'rss' | 'incremental' | 'backends'>> | undefined;
    if (!o.cliOnly) {
      log(`${size.name}: load`);
      const load = await child<LoadResult>('load', [file, modelFile(size)]);
      log(` ${ms(load.loadMs)} ms; compile ×${o.runs}`);
      const pipeline = await child<PipelineResult>('pipeline', [modelFile(size), String(o.runs)]);
      log(` ${ms(pipeline.compileMs)} ms; rss`);
      const rss = await child<RssResult>('rss', [modelFile(size)]);
      log(` ${rss.peakRssMB.toFixed(0)} MB; incremental`);
      const incremental: IncrementalResult[] = [];
      for (const mode of ['always', 'when-changed'] as const) incremental.push(await child<IncrementalResult>('incremental', [modelFile(size), String(o.updates), mode]));
      log(` ${incremental.map((i) => ms(i.updateMs)).join(' / ')} ms; nftables`);
      const backends = await child<NftBenchResult>('backends', [modelFile(size), String(o.runs)]);
      log(` ${ms(backends.nftables.ms)} ms, native ${ms(backends.nftNative.ms)} ms (iptables ${ms(backends.iptables.ms)} ms)`);
      compiled = { load, pipeline, rss, incremental, backends };
    } else log(size.name);
    let cli: SizeResult['cli'];
    let cliYaml: SizeResult['cliYaml'];
    let cliClusterIP: SizeResult['cliClusterIP'];
    const cliBase: NonNullable<SizeResult['cliBase']> = {};
    if (o.cli) {
      const show = (c: { run: CliResult; base?: CliResult }) => [c.base, c.run].filter((x) => x !== undefined).map((x) => ('ms' in x ? `${ms(x.ms)} ms ${x.rssMB.toFixed(0)} MB` : x.skipped)).join(' (base) / ');
      log('; cli');
      const json = cliMedian(file, o);
      cli = json.run;
      log(` ${show(json)}`);
      if (!existsSync(clusterIPFile(size))) writeFileSync(clusterIPFile(size), syntheticSnapshotText(size, { clusterIPOnly: true }));
      const clusterIP = cliMedian(clusterIPFile(size), o);
      cliClusterIP = clusterIP.run;
      log(`; ClusterIP-only ${show(clusterIP)}`);
      let yaml: ReturnType<typeof cliMedian> | undefined;
      if (size.services * size.endpoints <= o.yamlMaxEndpoints) {
        if (!existsSync(yamlFile(size))) writeFileSync(yamlFile(size), stringify(syntheticList(size), { aliasDuplicateObjects: false }));
        yaml = cliMedian(yamlFile(size), o);
        cliYaml = yaml.run;
        log(`; YAML ${show(yaml)}`);
      }
      Object.assign(cliBase, { json: json.base, clusterIP: clusterIP.base, yaml: yaml?.base });
    }
    log('\n');
    results.push({ size, loadavg: [...before, ...loadavg()], ...compiled, ...(cli ? { cli } : {}), ...(cliYaml ? { cliYaml } : {}), ...(cliClusterIP ? { cliClusterIP } : {}), ...(o.cliBase !== undefined ? { cliBase } : {}) });
  }

  const apply: (ApplyResult | ApplySkip)[] = [];
  let cliApply: CliApplyResult | { skipped: string } | undefined;
  if (o.apply) {
    const skip = applySkipReason('nft');
    const bin = join(ROOT, 'packages', 'cli', 'bin', 'svcrules.js');
    const file = dataFile(o.applySize);
    if (!existsSync(file)) writeFileSync(file, syntheticSnapshotText(o.applySize));
    if (skip) cliApply = { skipped: skip };
    else {
      log(`cli apply (${o.applySize.name}, nft): first apply (--replace-tables), then ${o.cliApplyRuns} partial syncs from the state file per mode, then one --no-state apply\n`);
      cliApply = await child<CliApplyResult>('cli-apply', [bin, file, String(o.cliApplyRuns)]);
    }
  }
  if (o.apply && o.restores) {
    const size = o.applySize;
    if (!existsSync(modelFile(size))) {
      if (!existsSync(dataFile(size))) writeFileSync(dataFile(size), syntheticSnapshotText(size));
      await child<LoadResult>('load', [dataFile(size), modelFile(size)]);
    }
    for (const backend of ['nft', 'legacy'] as const) {
      const skip = applySkipReason(backend);
      if (skip) {
        log(`apply ${backend}: skipped: ${skip}\n`);
        apply.push({ backend, skipped: skip });
        continue;
      }
      log(`apply ${backend} (${size.name}): full and partial restores in a network namespace (full restores stop after ${o.restoreTimeoutS} s)\n`);
      apply.push(await child<ApplyResult>('apply', [modelFile(size), backend, String(o.fullRestores), '8', String(o.restoreTimeoutS * 1000)]));
    }
  }

  const nftApply: (NftApplyBenchResult | { size: string; skipped: string })[] = [];
  if (o.nftApply) {
    const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : spawnSync('nft', ['--version'], { stdio: 'ignore' }).error ? '`nft` is not installed' : undefined;
    for (const size of o.nftSizes) {
      if (skip) {
        nftApply.push({ size: nftSizeName(size), skipped: skip });
        continue;
      }
      log(`nft apply (${nftSizeName(size)}): full sync, ${o.nftPartialRuns} one-Service syncs, kube-proxy's transaction shape (stopped after ${o.nftKubeProxyTimeoutS} s), part by part\n`);
      nftApply.push(await child<NftApplyBenchResult>('nft-apply', [String(size.services), String(size.endpoints), String(o.nftPartialRuns), String(o.nftKubeProxyTimeoutS * 1000)]));
    }
  }

  const out = report(results, apply, o, cliApply) + (nftApply.length > 0 ? '\n' + nftReport(nftApply, o) : '');
  process.stdout.write(out);
  const json = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, date: new Date().toISOString(), loadavg: loadavg(), sizes: results, apply, cliApply, nftApply };
  writeFileSync(join(ROOT, 'bench', 'results.json'), JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(`\nwritten: bench/results.json\n`);
}

type Compiled = SizeResult & Required<Pick<SizeResult, 'load' | 'pipeline' | 'rss' | 'incremental' | 'backends'>>;

function report(all: readonly SizeResult[], apply: readonly (ApplyResult | ApplySkip)[], o: Options, cliApply: CliApplyResult | { skipped: string } | undefined): string {
  const parts: string[] = [];
  const results = all.filter((r): r is Compiled => r.pipeline !== undefined);
  if (cliApply !== undefined) {
    parts.push(
      `svcrules apply end to end (${o.applySize.name}, nft, in a network namespace; wall time of the whole process, ms)\n` +
        ('skipped' in cliApply
          ? `skipped: ${cliApply.skipped}`
          : table(
              ['run', 'ms', 'output'],
              [
                ['first apply (--replace-tables)', ms(cliApply.firstMs), cliApply.firstLine],
                ...cliApply.partial.map((p) => [`one Service changed, state file, --top-level-chains ${p.topLevelChains} (median of ${p.runsMs.length})`, ms(p.ms), p.line]),
                ['nothing changed, --no-state (reads the host)', ms(cliApply.noStateMs), cliApply.noStateLine],
              ],
            )),
    );
  }
  if (results.length > 0) {
    parts.push(
      'Full compile (compile: median of ' + o.runs + '; render/stream/floor: median of 3/3/5; times in ms)\n' +
        table(
          ['size', 'lines', 'MB', 'load', 'compile', 'render', 'stream', 'c+s', 'floor', 'c+s / floor', 'buffer floor', 'one-buffer floor', 'c+s / it', 'file floor', 'RSS c+s MB', 'RSS load MB'],
          results.map((r) => {
            const p = r.pipeline;
            const cs = p.compileMs + p.streamMs;
            return [
              r.size.name,
              String(p.lines),
              mb(p.bytes),
              ms(r.load.loadMs),
              ms(p.compileMs),
              ms(p.renderMs),
              ms(p.streamMs),
              ms(cs),
              ms(p.floorMs),
              ratio(cs, p.floorMs),
              ms(p.bufferFloorMs),
              ms(p.oneBufferFloorMs),
              ratio(cs, p.oneBufferFloorMs),
              ms(p.fileFloorMs),
              r.rss.peakRssMB.toFixed(0),
              r.load.loadPeakRssMB.toFixed(0),
            ];
          }),
        ),
    );
  }
  if (results.length > 0) {
    parts.push(
      'nftables mode beside iptables mode (total = compile + render to text; render = the renderer alone on a compiled ruleset; median of ' + o.runs + '; ns/B = time per output byte)\n' +
        table(['size', ...BACKEND_HEADER], results.flatMap((r) => backendRows(r.backends).map((row) => [r.size.name, ...row]))),
    );
  }
  if (all.some((r) => r.cli !== undefined)) {
    const cell = (c: CliRun | { skipped: string } | undefined) => (c === undefined ? '-' : 'ms' in c ? ms(c.ms) : 'n/a');
    const rss = (c: CliRun | { skipped: string } | undefined) => (c === undefined || !('ms' in c) ? '-' : c.rssMB.toFixed(0));
    parts.push(
      `\`svcrules compile FILE > /dev/null\` end to end (wall ms, Node start-up included; peak RSS MB${o.cliRuns > 1 ? `; median of ${o.cliRuns}` : ''})\n` +
        table(
          ['size', 'JSON (mix)', 'RSS', 'JSON (ClusterIP only)', 'RSS', 'YAML (mix)', 'RSS', 'YAML / JSON'],
          all.map((r) => [
            r.size.name,
            cell(r.cli),
            rss(r.cli),
            cell(r.cliClusterIP),
            rss(r.cliClusterIP),
            cell(r.cliYaml),
            rss(r.cliYaml),
            r.cli && r.cliYaml && 'ms' in r.cli && 'ms' in r.cliYaml ? ratio(r.cliYaml.ms, r.cli.ms) : '-',
          ]),
        ),
    );
  }
  if (o.cliBase !== undefined) {
    const cell = (c: CliResult | undefined) => (c === undefined ? '-' : 'ms' in c ? `${ms(c.ms)} / ${c.rssMB.toFixed(0)}` : 'n/a');
    const vs = (b: CliResult | undefined, c: CliResult | undefined) => (b && c && 'ms' in b && 'ms' in c ? `${ratio(b.ms, c.ms)} / ${ratio(b.rssMB, c.rssMB)}` : '-');
    parts.push(
      `The same against ${o.cliBase} (its CLI run alternately with this one's; ms / MB; base / this)\n` +
        table(
          ['size', 'JSON base', 'JSON', 'base / this', 'ClusterIP base', 'ClusterIP', 'base / this', 'YAML base', 'YAML', 'base / this'],
          all.map((r) => [r.size.name, cell(r.cliBase?.json), cell(r.cli), vs(r.cliBase?.json, r.cli), cell(r.cliBase?.clusterIP), cell(r.cliClusterIP), vs(r.cliBase?.clusterIP, r.cliClusterIP), cell(r.cliBase?.yaml), cell(r.cliYaml), vs(r.cliBase?.yaml, r.cliYaml)]),
        ),
    );
  }
  if (results.length > 0) {
    parts.push(
      'Incremental compiler (one Service changes: its slice\'s first endpoint moves; median of ' + o.updates + ' warm updates)\n' +
        table(
          ['size', 'top-level chains', 'first (full) sync', 'first update', 'update', 'payload KB', 'payload / full', 'render payload', 'full ruleset (lazy)', 'replace()'],
          results.flatMap((r) =>
            r.incremental.map((i) => [
              r.size.name,
              i.mode,
              ms(i.initialMs),
              ms(i.firstUpdateMs),
              ms(i.updateMs),
              (i.payloadBytes / 1000).toFixed(1),
              `${((100 * i.payloadBytes) / i.fullBytes).toFixed(2)} %`,
              ms(i.payloadRenderMs),
              ms(i.fullRulesetMs),
              ms(i.replaceMs),
            ]),
          ),
        ),
    );
  }
  if (apply.length > 0) {
    parts.push(
      `Apply in a network namespace (${o.applySize.name}; iptables-restore --noflush --counters; full: median of ${o.fullRestores} fresh namespace(s), partial: median of 8)\n` +
        table(
          ['backend', 'full lines', 'full restore', 'partial lines', 'partial restore', 'full / partial', "'when-changed' lines", 'restore', 'full / it', 'host matches'],
          apply.map((a) =>
            'skipped' in a
              ? [a.backend, '-', `skipped: ${a.skipped}`, '-', '-', '-', '-', '-', '-', '-']
              : [
                  a.backend,
                  String(a.fullLines),
                  a.fullTimedOut ? `> ${ms(a.fullRestoreMs)}` : ms(a.fullRestoreMs),
                  String(a.partialLines),
                  ms(a.partialRestoreMs),
                  (a.fullTimedOut ? '> ' : '') + ratio(a.fullRestoreMs, a.partialRestoreMs),
                  String(a.minimalLines),
                  ms(a.minimalRestoreMs),
                  (a.fullTimedOut ? '> ' : '') + ratio(a.fullRestoreMs, a.minimalRestoreMs),
                  a.verified ? 'yes' : 'NO',
                ],
          ),
        ),
    );
  }
  const applyNotes = apply.flatMap((a) =>
    'skipped' in a || a.batchedLoadMs === undefined
      ? []
      : [`apply ${a.backend}: the full restore was stopped after ${ms(a.fullRestoreMs)} ms (so the ratios are lower bounds); the host was loaded 250 Services per restore instead, in ${ms(a.batchedLoadMs)} ms.`],
  );
  const notes = results.map((r) => {
    const skipped = r.cli && 'skipped' in r.cli ? ` cli: ${r.cli.skipped}.` : '';
    return `${r.size.name}: ${r.pipeline.servicePorts} service ports, ${r.pipeline.endpoints} endpoints${r.pipeline.largeClusterMode ? ' (large-cluster mode)' : ''}; compile runs ${r.pipeline.compileRunsMs.map((x) => x.toFixed(0)).join(', ')}; load average ${r.loadavg.map((x) => x.toFixed(1)).join(' → ')}.${skipped}`;
  });
  return parts.join('\n\n') + '\n\n' + [...notes, ...applyNotes].join('\n') + '\n';
}

function nftReport(rows: readonly (NftApplyBenchResult | { size: string; skipped: string })[], o: Options): string {
  const name = (r: NftApplyBenchResult) => nftSizeName(r);
  const done = rows.filter((r): r is NftApplyBenchResult => !('skipped' in r));
  const parts =
    `nftables applier in a network namespace (kube-proxy-shaped ip kube-proxy table; ms; one Service = its first endpoint moved, median of ${o.nftPartialRuns})\n` +
    table(
      ['size', 'chains', 'rules', 'elements', 'full sync (ours)', 'of which nft', "kube-proxy's transaction shape", 'kube-proxy / ours', 'one Service', 'of which nft', 'ops', 'nft: one add rule', 'nft: list our set', 'nft: list one chain'],
      rows.map((r) =>
        'skipped' in r
          ? [r.size, '-', '-', '-', `skipped: ${r.skipped}`, '-', '-', '-', '-', '-', '-', '-', '-', '-']
          : [
              name(r),
              String(r.chains),
              String(r.rules),
              String(r.elements),
              ms(r.fullMs),
              ms(r.fullNftMs),
              (r.kubeProxyShapeTimedOut ? '> ' : '') + ms(r.kubeProxyShapeMs),
              (r.kubeProxyShapeTimedOut ? '> ' : '') + ratio(r.kubeProxyShapeMs, r.fullMs),
              ms(r.partialMs),
              ms(r.partialNftMs),
              String(r.partialOperations),
              ms(r.oneRuleMs),
              ms(r.listSetMs),
              ms(r.listChainMs),
            ],
      ),
    );
  const split = done.map(
    (r) => `${name(r)}, the table loaded part by part (one transaction each, in this order): ` + r.parts.map((p) => `${p.part} ${ms(p.ms)}`).join('; '),
  );
  for (const r of done) split.push(`${name(r)}, nft on the loaded table: ` + r.floors.map((f) => `${f.what} ${ms(f.ms)}`).join('; '), `${name(r)}, one transaction into an empty namespace: ` + r.shapes.map((x) => `${x.shape} ${ms(x.ms)}`).join('; '), `${name(r)}, opt-in unrolled shape through the library: full sync ${ms(r.unrolledFullMs)}, one Service ${ms(r.unrolledPartialMs)} (nft ${ms(r.unrolledPartialNftMs)})`);
  const published = "kube-proxy's published figures: first sync of 10k Services × 2 endpoints 3 min 14 s (kubernetes PR #130119); 5k Services / 250k endpoints: minutes per sync (issue #135639).";
  return [parts, ...split, published].join('\n') + '\n';
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
