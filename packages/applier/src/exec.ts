import { spawn } from 'node:child_process';

/** What one finished process reported. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the child's stdin, then stdin is closed (the restore payload goes here, never in argv). */
  readonly stdin?: string;
  /** Extra environment variables (e.g. XTABLES_LOCKFILE). */
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the child after this many milliseconds (a last resort; iptables has its own -w bound). */
  readonly timeoutMs?: number;
}

/**
 * Runs one binary with an argument array: the knftables "execer" seam. The real one spawns without a
 * shell; tests wrap it to inject faults or record calls. A missing binary rejects with CommandNotFound.
 */
export type Runner = (command: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** A binary the host does not have. */
export class CommandNotFoundError extends Error {
  constructor(readonly command: string) {
    super(`${command}: command not found (is it installed and on PATH?)`);
    this.name = 'CommandNotFoundError';
  }
}

/** The real runner: `spawn(command, args)` with `shell: false`; never throws for a non-zero exit. */
export const spawnRunner: Runner = (command, args, options = {}) =>
  new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, [...args], {
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ? { ...process.env, ...options.env } : process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(e.code === 'ENOENT' ? new CommandNotFoundError(command) : e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: signal ? `${stderr}${stderr.endsWith('\n') || stderr === '' ? '' : '\n'}killed by ${signal}\n` : stderr,
      });
    });
    // A child that exits before reading all of stdin gives EPIPE; its exit status tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });

/**
 * A network namespace name svcrules passes to `ip netns exec`: a letter, digit or `_` first (never an
 * option, `.` or `..`), then letters, digits, `_`, `.`, `-`; at most 64 characters. The CLI checks its
 * --netns flags with it.
 */
export function isNetnsName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name);
}

/**
 * Runs every command inside network namespace `netns` (`ip netns exec NAME cmd args...`).
 * `ip netns exec` reports a missing command as a non-zero exit with "exec of ... failed"; map that back.
 */
export function inNetns(runner: Runner, netns: string): Runner {
  if (!isNetnsName(netns)) throw new Error(`invalid network namespace name ${JSON.stringify(netns)}`);
  return async (command, args, options) => {
    const r = await runner('ip', ['netns', 'exec', netns, command, ...args], options);
    if (r.code !== 0 && /^exec of ".*" failed: No such file or directory/m.test(r.stderr)) throw new CommandNotFoundError(command);
    return r;
  };
}

/** `runner` (default: the real spawner) inside `netns` when one is given, else on the host. */
export function runnerIn(o: { readonly runner?: Runner | undefined; readonly netns?: string | undefined }): Runner {
  const base = o.runner ?? spawnRunner;
  return o.netns ? inNetns(base, o.netns) : base;
}

/** Whether `command` exists (runs `command --version`-like probe args and checks for ENOENT only). */
export async function hasCommand(runner: Runner, command: string, probeArgs: readonly string[] = ['--version']): Promise<boolean> {
  try {
    await runner(command, probeArgs, { timeoutMs: 10_000 });
    return true;
  } catch (e) {
    if (e instanceof CommandNotFoundError) return false;
    throw e;
  }
}
