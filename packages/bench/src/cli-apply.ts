/**
 * `svcrules apply` end to end, as a user runs it, in a network namespace made here (always deleted):
 * the first apply (a full sync replacing the tables, `--replace-tables`), then applies of the same
 * file with one Service changed back and forth, each a new process that finds the state file of the
 * previous one and does a partial sync (load, compile, checks, restore, state saved). For scale, one
 * apply without the state (`--no-state`: a full sync reading the whole host back), which is what
 * every CLI apply cost before the state file.
 *
 * Run alone (round 4: the second apply against a base build, alternately, each build in its own
 * namespace with its own state file; iptables mode on the nft backend, and nftables mode):
 *
 *   node packages/bench/dist/cli-apply.js --base DIR [--size 10k×10] [--nft-size 10k×2] [--runs 6]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, timed } from './stats.js';
import { withNetns } from './apply.js';

export interface CliApplyResult {
  readonly firstMs: number;
  readonly firstLine: string;
  /** `--no-state`: a full sync that reads the host (nothing to change). */
  readonly noStateMs: number;
  readonly noStateLine: string;
  readonly partial: readonly { readonly topLevelChains: 'always' | 'when-changed'; readonly runsMs: readonly number[]; readonly ms: number; readonly line: string }[];
}

/** The same file with the first endpoint of the first EndpointSlice moved to another address. */
export function oneServiceChangedText(text: string): string {
  const slice = text.indexOf('"kind": "EndpointSlice"');
  const m = /"addresses": \[\s*"([0-9.]+)"/.exec(text.slice(slice));
  if (slice < 0 || !m) throw new Error('no EndpointSlice address to change');
  const at = slice + m.index + m[0].length - m[1]!.length - 2;
  return `${text.slice(0, at)}"10.250.0.1"${text.slice(at + m[1]!.length + 2)}`;
}

export async function measureCliApply(bin: string, dataFile: string, runs: number): Promise<CliApplyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'svcr-cli-apply-'));
  try {
    const a = dataFile;
    const b = join(dir, 'changed.json');
    writeFileSync(b, oneServiceChangedText(readFileSync(a, 'utf8')));
    const state = join(dir, 'state');
    return await withNetns(async (ns) => {
      const apply = (file: string, ...flags: string[]) => {
        const [r, ms] = timed(() => spawnSync(process.execPath, [bin, 'apply', '--netns', ns, '--backend', 'nft', '--state', state, ...flags, file], { encoding: 'utf8', maxBuffer: 1 << 26 }));
        if (r.status !== 0) throw new Error(`svcrules apply exited ${r.status}: ${r.stderr}`);
        return { ms, line: r.stdout.trim() };
      };
      const first = apply(a, '--replace-tables');
      const partial: CliApplyResult['partial'][number][] = [];
      for (const mode of ['when-changed', 'always'] as const) {
        const runsMs: number[] = [];
        let line = '';
        for (let i = 0; i < 2 * Math.ceil(runs / 2); i++) {
          const r = apply(i % 2 === 0 ? b : a, '--top-level-chains', mode);
          if (!r.line.startsWith('ipv4: partial sync;')) throw new Error(`expected a partial sync, got: ${r.line}`);
          runsMs.push(r.ms);
          line = r.line;
        }
        partial.push({ topLevelChains: mode, runsMs, ms: median(runsMs), line });
      }
      const noState = apply(a, '--no-state');
      return { firstMs: first.ms, firstLine: first.line, noStateMs: noState.ms, noStateLine: noState.line, partial };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SecondApplyRow {
  readonly what: string;
  /** Per build: wall ms of each run (alternating with the other build), and the last output line. */
  readonly builds: readonly { readonly name: string; readonly runsMs: readonly number[]; readonly ms: number; readonly line: string; readonly err: string }[];
}

/**
 * The second `svcrules apply` with one Service changed, for several builds (bins) alternately:
 * each build gets its own namespace and state file, a first full apply, then `runs` applies of the
 * changed and the original file in turn, build after build.
 */
export async function measureSecondApply(bins: readonly { name: string; bin: string }[], file: string, runs: number, flags: readonly string[], what: string): Promise<SecondApplyRow> {
  const dir = mkdtempSync(join(tmpdir(), 'svcr-second-'));
  try {
    const changed = join(dir, 'changed.json');
    writeFileSync(changed, oneServiceChangedText(readFileSync(file, 'utf8')));
    const nest = async (i: number, spaces: string[]): Promise<SecondApplyRow> => {
      if (i < bins.length) return withNetns((ns) => nest(i + 1, [...spaces, ns]));
      const apply = (k: number, input: string, ...extra: string[]) => {
        const [r, ms] = timed(() => spawnSync(process.execPath, [bins[k]!.bin, 'apply', '--netns', spaces[k]!, '--state', join(dir, `state-${k}`), ...flags, ...extra, input], { encoding: 'utf8', maxBuffer: 1 << 26 }));
        if (r.status !== 0) throw new Error(`${bins[k]!.name}: svcrules apply exited ${r.status}: ${r.stderr}`);
        return { ms, line: r.stdout.trim(), err: r.stderr.trim() };
      };
      for (let k = 0; k < bins.length; k++) apply(k, file, ...(flags.includes('nftables') ? [] : ['--replace-tables']));
      const out = bins.map((b) => ({ name: b.name, runsMs: [] as number[], line: '', err: '' }));
      for (let i = 0; i < runs; i++) {
        for (let k = 0; k < bins.length; k++) {
          const r = apply(k, i % 2 === 0 ? changed : file);
          if (!/^ipv4: partial sync;/.test(r.line)) throw new Error(`${bins[k]!.name}: expected a partial sync, got: ${r.line}`);
          out[k]!.runsMs.push(r.ms);
          out[k]!.line = r.line;
          out[k]!.err = r.err;
        }
      }
      return { what, builds: out.map((o) => ({ ...o, ms: median(o.runsMs) })) };
    };
    return await nest(0, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function standalone(argv: readonly string[]): Promise<void> {
  const { SIZES, syntheticSnapshotText } = await import('./generate.js');
  const { existsSync, mkdirSync } = await import('node:fs');
  const { resolve, dirname } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  let base: string | undefined;
  let size = '10k×10';
  let nftSize = '10k×2';
  let runs = 6;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--base') base = resolve(argv[++i]!);
    else if (a === '--size') size = argv[++i]!;
    else if (a === '--nft-size') nftSize = argv[++i]!;
    else if (a === '--runs') runs = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  const dataOf = (name: string) => {
    const m = /^(\d+)(k?)×(\d+)$/.exec(name);
    if (!m) throw new Error(`bad size ${name}`);
    const s = SIZES.find((x) => x.name === name) ?? { name, services: Number(m[1]) * (m[2] ? 1000 : 1), endpoints: Number(m[3]) };
    const f = join(root, 'bench', 'data', `${name.replace('×', 'x')}.v1.json`);
    mkdirSync(dirname(f), { recursive: true });
    if (!existsSync(f)) writeFileSync(f, syntheticSnapshotText(s));
    return f;
  };
  const bins = [{ name: 'this', bin: join(root, 'packages', 'cli', 'bin', 'svcrules.js') }, ...(base ? [{ name: 'base', bin: join(base, 'packages', 'cli', 'bin', 'svcrules.js') }] : [])];
  const rows: SecondApplyRow[] = [];
  const log = (r: SecondApplyRow) => {
    rows.push(r);
    process.stderr.write(`${r.what}: ${r.builds.map((b) => `${b.name} ${b.ms.toFixed(0)} ms [${b.runsMs.map((x) => x.toFixed(0)).join(' ')}] (${b.line}${b.err ? `; ${b.err.split('\n')[0]}` : ''})`).join('; ')}\n`);
  };
  log(await measureSecondApply(bins, dataOf(size), runs, ['--backend', 'nft', '--top-level-chains', 'when-changed', '--verbose'], `iptables mode ${size}, --top-level-chains when-changed`));
  log(await measureSecondApply(bins, dataOf(size), runs, ['--backend', 'nft', '--top-level-chains', 'always'], `iptables mode ${size}, --top-level-chains always`));
  log(await measureSecondApply(bins, dataOf(nftSize), runs, ['--mode', 'nftables'], `nftables mode ${nftSize}`));
  process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  standalone(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
