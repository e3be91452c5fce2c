/**
 * Compile + stream alone, this build beside a base build, for comparing a change on a busy machine:
 *
 *   node packages/bench/dist/pipeline.js [--size 10k×10] [--rounds 3] [--runs 5] [--base DIR]
 *
 * Each round runs one fresh child per build, alternately (base first), with stdout on /dev/null as
 * in `pnpm bench`: compile() `--runs` times (after one warm-up), then compile + stream to stdout as
 * the CLI does, then the one-buffer floor (the same text turned into bytes and written in one call).
 * Wall and CPU time (user + system, GC threads included) are reported, medians per child. DIR is
 * another checkout, built (`pnpm exec tsc -b`); its compile() and renderChunks are loaded from its
 * dist, so any two commits compare. The snapshot is the one `pnpm bench` writes under bench/data.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIZES, syntheticSnapshotText } from './generate.js';
import { measureLoad } from './measure.js';
import { ms, ratio, table } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = join(ROOT, 'bench/data');

interface Times {
  compileMs: number;
  compileCpuMs: number;
  /** compile() then renderChunks to stdout, in one go (the CLI's part after loading). */
  csMs: number;
  csCpuMs: number;
  streamMs: number;
  oneBufferMs: number;
}

// The child: ESM source run with `node --input-type=module -e`, the build's root as argv[1].
const CHILD = `
import { readFileSync, writeSync } from 'node:fs';
const [root, model, runs] = process.argv.slice(1);
const { compile } = await import(root + '/packages/core/dist/index.js');
const { renderChunks } = await import(root + '/packages/iptables/dist/index.js');
const snapshot = JSON.parse(readFileSync(model, 'utf8'));
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const time = (fn) => { const c = cpu(); const t = performance.now(); const v = fn(); return [v, performance.now() - t, cpu() - c]; };
compile(snapshot);
const compiles = [], compileCpus = [];
for (let i = 0; i < Number(runs); i++) { const [, t, c] = time(() => compile(snapshot)); compiles.push(t); compileCpus.push(c); }
const cs = [], csCpu = [], streams = [];
let text = '';
for (let i = 0; i < 3; i++) {
  const [, t, c] = time(() => {
    const r = compile(snapshot);
    const t0 = performance.now();
    for (const chunk of renderChunks(r.ruleset)) process.stdout.write(chunk);
    streams.push(performance.now() - t0);
  });
  cs.push(t); csCpu.push(c);
}
for (const chunk of renderChunks(compile(snapshot).ruleset)) text += chunk;
const floors = [];
for (let i = 0; i < 5; i++) floors.push(time(() => writeSync(1, Buffer.from(text, 'latin1')))[1]);
process.stderr.write(JSON.stringify({ compileMs: med(compiles), compileCpuMs: med(compileCpus), csMs: med(cs), csCpuMs: med(csCpu), streamMs: med(streams), oneBufferMs: med(floors) }) + '\\n');
`;

function measure(root: string, model: string, runs: number): Times {
  const r = spawnSync(process.execPath, ['--max-old-space-size=8192', '--input-type=module', '-e', CHILD, root, model, String(runs)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`pipeline child for ${root} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(last) as Times;
}

function main(argv: readonly string[]): void {
  const opt = (name: string, def: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
  };
  const size = SIZES.find((s) => s.name === opt('--size', '10k×10').replace('x', '×'));
  if (!size) throw new Error(`unknown size; one of ${SIZES.map((s) => s.name).join(', ')}`);
  const rounds = Number(opt('--rounds', '3'));
  const runs = Number(opt('--runs', '5'));
  const base = argv.includes('--base') ? resolve(opt('--base', '')) : undefined;
  // The file names main.ts uses, so a `pnpm bench` run's data is reused.
  const slug = size.name.replace('×', 'x');
  const model = join(DATA, `${slug}.model.json`);
  if (!existsSync(model)) {
    mkdirSync(DATA, { recursive: true });
    const file = join(DATA, `${slug}.v1.json`);
    if (!existsSync(file)) writeFileSync(file, syntheticSnapshotText(size));
    measureLoad(file, model);
  }
  const builds = base ? [['base', base] as const, ['this', ROOT] as const] : [['this', ROOT] as const];
  const rows: string[][] = [];
  const all = new Map<string, Times[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const [name, root] of builds) {
      const t = measure(root, model, runs);
      all.set(name, [...(all.get(name) ?? []), t]);
      rows.push([`${name} #${round}`, ms(t.compileMs), ms(t.compileCpuMs), ms(t.streamMs), ms(t.csMs), ms(t.csCpuMs), ms(t.oneBufferMs), ratio(t.csMs, t.oneBufferMs)]);
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const head = ['build', 'compile', 'compile CPU', 'stream', 'c+s', 'c+s CPU', 'one-buffer floor', 'c+s / floor'];
  let out = `compile + stream, ${size.name}, ms (medians per child; CPU = user + system)\n${table(head, rows)}\n`;
  const thisRuns = all.get('this');
  const baseRuns = all.get('base');
  if (thisRuns && baseRuns) {
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const pair = (f: (t: Times) => number) => (med(thisRuns.map(f)) / med(baseRuns.map(f))).toFixed(2);
    out += `this / base (median of rounds): compile ${pair((t) => t.compileMs)}, compile CPU ${pair((t) => t.compileCpuMs)}, c+s ${pair((t) => t.csMs)}, c+s CPU ${pair((t) => t.csCpuMs)}\n`;
  }
  process.stdout.write(out);
}

main(process.argv.slice(2));
