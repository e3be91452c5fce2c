/**
 * Throwaway network namespaces for tests that run real iptables: create one with a unique name,
 * run commands inside it (argument arrays, never a shell string), always delete it.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { uniqueName } from './cluster.js';

export interface RunResult {
  /** Exit status; 128 + signal number when killed by a signal. */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin. */
  readonly input?: string;
}

function run(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, [...args], { input: options.input ?? '', encoding: 'utf8', maxBuffer: 1 << 30, shell: false });
  if (r.error) throw r.error;
  const status = r.status ?? 128 + (r.signal ? constants.signals[r.signal] : 0);
  return { status, stdout: r.stdout, stderr: r.stderr };
}

/** Creates a namespace named `svcr-<pid>-<random>-<prefix>` and returns its name. */
export function createNetns(prefix = 'ns'): string {
  const name = uniqueName(prefix);
  const r = run('ip', ['netns', 'add', name]);
  if (r.status !== 0) throw new Error(`ip netns add ${name} failed: ${r.stderr.trim()}`);
  return name;
}

/** Deletes the namespace; a namespace that is already gone is not an error. */
export function deleteNetns(name: string): void {
  const r = run('ip', ['netns', 'del', name]);
  if (r.status !== 0 && !/No such file|not found/i.test(r.stderr)) {
    throw new Error(`ip netns del ${name} failed: ${r.stderr.trim()}`);
  }
}

/** Runs `cmd args` inside namespace `ns` (`ip netns exec`), synchronously; never throws for a non-zero exit. */
export function runIn(ns: string, cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], options);
}

/** Like runIn, but throws with the command and its stderr on a non-zero exit; returns stdout. */
export function mustRunIn(ns: string, cmd: string, args: readonly string[], options: RunOptions = {}): string {
  const r = runIn(ns, cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${ns} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs `fn` with a fresh namespace and deletes it afterwards, also when `fn` throws. */
export async function withNetns<T>(fn: (ns: string) => T | Promise<T>, prefix = 'ns'): Promise<T> {
  const ns = createNetns(prefix);
  try {
    return await fn(ns);
  } finally {
    deleteNetns(ns);
  }
}
