/**
 * `svcrules apply` end to end, as a user runs it, in a network namespace made here (always deleted):
 * the first apply (a full sync replacing the tables, `--replace-tables`), then applies of the same
 * file with one Service changed back and forth, each a new process that finds the state file of the
 * previous one and does a partial sync (load, compile, checks, restore, state saved). For scale, one
 * apply without the state (`--no-state`: a full sync reading the whole host back), which is what
 * every CLI apply cost before the state file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
