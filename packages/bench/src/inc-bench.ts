/**
 * The incremental compiler's section alone (`measureIncremental`: a full sync, then one Service
 * changing back and forth), each measurement in a fresh child process, optionally alternating with
 * a built checkout of another commit (its own measure.js), so a base / this ratio comes from one run.
 *
 *   node packages/bench/dist/inc-bench.js bench/data/1x100k.model.json [--children 3] [--updates 21]
 *        [--mode when-changed|always|both] [--base /path/to/other/checkout]
 *
 * The model file is what `pnpm bench --sizes 1×100k` writes under bench/data/.
 */
import { execFileSync } from 'node:child_process';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncrementalResult } from './measure.js';
import { median, ms, table } from './stats.js';

const HERE = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** One child: the given checkout's measureIncremental, its result as JSON on stdout. */
function runChild(root: string, model: string, updates: number, mode: IncrementalResult['mode']): IncrementalResult {
  const measure = join(root, 'packages/bench/dist/measure.js');
  const script = `const { measureIncremental } = await import(${JSON.stringify(measure)});
process.stdout.write(JSON.stringify(measureIncremental(${JSON.stringify(model)}, ${updates}, ${JSON.stringify(mode)})));`;
  const out = execFileSync(process.execPath, ['--max-old-space-size=8192', '--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out) as IncrementalResult;
}

function main(argv: readonly string[]) {
  const model = resolve(argv[0] ?? '');
  let children = 3;
  let updates = 21;
  let modes: IncrementalResult['mode'][] = ['when-changed', 'always'];
  let base: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--children') children = Number(argv[++i]);
    else if (a === '--updates') updates = Number(argv[++i]);
    else if (a === '--mode') modes = argv[++i] === 'both' ? modes : [argv[i] as IncrementalResult['mode']];
    else if (a === '--base') base = resolve(argv[++i]!);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!argv[0]) throw new Error('usage: inc-bench.js MODEL.json [--children N] [--updates N] [--mode when-changed|always|both] [--base DIR]');
  const builds = base ? [['base', base] as const, ['this', HERE] as const] : [['this', HERE] as const];
  const results = new Map<string, IncrementalResult[]>();
  for (const mode of modes) {
    for (let c = 0; c < children; c++) {
      for (const [name, root] of builds) {
        const r = runChild(root, model, updates, mode);
        const k = `${name} ${mode}`;
        results.set(k, [...(results.get(k) ?? []), r]);
        process.stderr.write(`${k}: warm update ${ms(r.updateMs)} ms, first ${ms(r.firstUpdateMs)} ms\n`);
      }
    }
  }
  const rows = [...results].map(([k, rs]) => {
    const m = (f: (r: IncrementalResult) => number) => ms(median(rs.map(f)));
    return [k, m((r) => r.updateMs), rs.map((r) => ms(r.updateMs)).join(' '), m((r) => r.firstUpdateMs), m((r) => r.payloadRenderMs), m((r) => r.replaceMs), `${((100 * rs[0]!.payloadBytes) / rs[0]!.fullBytes).toFixed(2)} %`];
  });
  process.stdout.write(
    `incremental, ${model}, median of ${children} children × ${updates} warm updates each\n` +
      table(['build / mode', 'update ms', 'per child', 'first update', 'payload render', 'replace', 'payload / full'], rows) +
      '\n',
  );
  if (base) {
    for (const mode of modes) {
      const b = median(results.get(`base ${mode}`)!.map((r) => r.updateMs));
      const t = median(results.get(`this ${mode}`)!.map((r) => r.updateMs));
      const bytes = new Set([...results.get(`base ${mode}`)!, ...results.get(`this ${mode}`)!].map((r) => r.payloadBytes));
      process.stdout.write(`${mode}: this / base = ${(t / b).toFixed(2)}; payload bytes ${bytes.size === 1 ? 'identical' : 'DIFFER'} (${[...bytes].join(', ')})\n`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
