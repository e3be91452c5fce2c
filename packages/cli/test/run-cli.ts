import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../src/program.js';
import type { CliIO } from '../src/io.js';

export interface CliRun {
  readonly out: string;
  readonly err: string;
  readonly code: number;
}

/** `svcrules apply` keeps its state here (not /var/lib/svcrules): one directory per test file, removed after it. */
const stateDir = mkdtempSync(join(tmpdir(), 'svcr-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/**
 * Runs `svcrules <argv>` in process (`SVCRULES_STATE_DIR` defaults to a temporary directory). Files come from disk relative to `dir`, or from `options.files` when
 * given (a path missing from it reads as ENOENT); stdout and stderr are captured.
 */
export async function runCli(
  argv: readonly string[],
  dir: string,
  options: { files?: Readonly<Record<string, string | Uint8Array>>; env?: Readonly<Record<string, string>>; tty?: boolean } = {},
): Promise<CliRun> {
  const { files, env = {}, tty = false } = options;
  let out = '';
  let err = '';
  const readBytes = async (p: string): Promise<Uint8Array> => {
    if (!files) return readFile(resolve(dir, p));
    const content = files[p];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  };
  const io: CliIO = {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    readFile: async (p) => Buffer.from(await readBytes(p)).toString('utf8'),
    readBytes,
    cwd: dir,
    stdoutIsTTY: tty,
    env: argv[0] === 'apply' && !('SVCRULES_STATE_DIR' in env) ? { SVCRULES_STATE_DIR: stateDir, ...env } : env,
  };
  const code = await run(argv, io);
  return { out, err, code };
}
