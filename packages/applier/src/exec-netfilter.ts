import { readFile, stat } from 'node:fs/promises';
import { runnerIn, type RunResult, type Runner } from './exec.js';
import { NetfilterCommandError, payloadExcerpt, RestoreError, tablesCommittedBefore, XtablesLockError } from './errors.js';
import type { Family, Netfilter, RestoreOptions } from './netfilter.js';

/** Which iptables binaries to run: the distribution's default (`iptables`), or one backend explicitly. */
export type Backend = 'default' | 'nft' | 'legacy';

export interface ExecNetfilterOptions {
  /** Spawns processes; default: the real spawner. Tests wrap it to inject faults. */
  readonly runner?: Runner;
  /** Run everything inside this network namespace (`ip netns exec NAME ...`). */
  readonly netns?: string;
  readonly backend?: Backend;
  /** Seconds to wait for the xtables lock (`-w N`); default 5, as kube-proxy. */
  readonly waitSeconds?: number;
  /**
   * Wait flags for `iptables` and `iptables-restore`, when the installed version needs other ones
   * (host-facts derives them from `iptables --version`). Default `-w <waitSeconds> -W 100000`.
   */
  readonly waitFlags?: readonly string[];
  readonly restoreWaitFlags?: readonly string[];
  /** A private lock file (`XTABLES_LOCKFILE`; honoured by the legacy backend). Default /run/xtables.lock. */
  readonly lockFile?: string;
}

export const DEFAULT_LOCK_FILE = '/run/xtables.lock';

/** `iptables`, `iptables-nft-save`, `ip6tables-legacy-restore`, ... */
export function binaryName(family: Family, tool: '' | '-save' | '-restore', backend: Backend): string {
  const base = family === 'ipv6' ? 'ip6tables' : 'iptables';
  return backend === 'default' ? `${base}${tool}` : `${base}-${backend}${tool}`;
}

const LOCK_HELD = /Another app is currently holding the xtables lock/;

/** Who holds the lock, from /proc/locks (best effort: `pid N (comm)`), for the error message. */
async function lockHolder(lockFile: string): Promise<string | undefined> {
  try {
    const st = await stat(lockFile);
    const locks = await readFile('/proc/locks', 'utf8');
    for (const line of locks.split('\n')) {
      // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"
      const m = /^\d+:\s+(?:->\s+)?\S+\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
      if (m && Number(m[2]) === st.ino) {
        const comm = (await readFile(`/proc/${m[1]}/comm`, 'utf8').catch(() => '')).trim();
        return comm ? `pid ${m[1]} (${comm})` : `pid ${m[1]}`;
      }
    }
  } catch {
    // Unreadable /proc or no lock file: the message still names the lock.
  }
  return undefined;
}

/** Parses iptables-restore's complaint into the payload line and the reason. */
export function parseRestoreFailure(stderr: string): { line: number | undefined; reason: string } {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^Try `/.test(l));
  let line: number | undefined;
  const at = /Error occurred at line: (\d+)/.exec(stderr) ?? /line (\d+) failed/.exec(stderr) ?? /at line:? (\d+)/.exec(stderr);
  if (at) line = Number(at[1]);
  const reason = lines
    .filter((l) => !/^Error occurred at line/.test(l) && !/^Ignoring deprecated --wait-interval/.test(l))
    .map((l) => l.replace(/^i?p6?tables-restore(?: v[\d.]+ \([^)]*\))?: /, ''))
    .join('; ');
  return { line, reason: reason || 'no message' };
}

/**
 * nft validates jump targets at COMMIT and reports the COMMIT line; point at the first rule of that
 * table that jumps to the missing chain instead.
 */
export function findCulprit(payload: string, line: number, reason: string): number | undefined {
  const missing = /Chain '([^']+)' does not exist/.exec(reason) ?? /Couldn't load target `([^':]+)/.exec(reason);
  const lines = payload.split('\n');
  if (!missing || lines[line - 1]?.trim() !== 'COMMIT') return undefined;
  let start = line - 1;
  while (start > 0 && !lines[start - 1]!.startsWith('*')) start--;
  const target = missing[1]!;
  for (let n = start; n < line; n++) {
    const words = lines[n - 1]!.split(/\s+/);
    for (let i = 0; i + 1 < words.length; i++) if ((words[i] === '-j' || words[i] === '-g') && words[i + 1] === target) return n;
  }
  return undefined;
}

/** The real Netfilter: spawns iptables binaries with argument arrays, the payload on stdin. */
export function createExecNetfilter(options: ExecNetfilterOptions = {}): Netfilter {
  const runner = runnerIn(options);
  const backend = options.backend ?? 'default';
  const wait = options.waitSeconds ?? 5;
  const waitFlags = options.waitFlags ?? ['-w', String(wait), '-W', '100000'];
  const restoreWaitFlags = options.restoreWaitFlags ?? ['-w', String(wait), '-W', '100000'];
  const lockFile = options.lockFile ?? DEFAULT_LOCK_FILE;
  const env = options.lockFile ? { XTABLES_LOCKFILE: options.lockFile } : undefined;
  const runOpts = env ? { env } : {};

  async function lockError(command: string): Promise<XtablesLockError> {
    return new XtablesLockError(lockFile, wait, await lockHolder(lockFile), command);
  }

  return {
    async save(family, table) {
      const cmd = binaryName(family, '-save', backend);
      const args = table ? ['-t', table] : [];
      const r = await runner(cmd, args, runOpts);
      if (r.code !== 0) {
        if (LOCK_HELD.test(r.stderr)) throw await lockError(cmd);
        throw new NetfilterCommandError(cmd, args, r.code, r.stderr);
      }
      return r.stdout;
    },

    async restore(family, payload, opts: RestoreOptions) {
      const cmd = binaryName(family, '-restore', backend);
      const args = [...restoreWaitFlags];
      if (opts.noflush) args.push('--noflush');
      if (opts.counters ?? true) args.push('--counters');
      if (opts.test) args.push('--test');
      const r = await runner(cmd, args, { ...runOpts, stdin: payload });
      if (r.code === 0) return;
      if (LOCK_HELD.test(r.stderr)) throw await lockError(cmd);
      const { line, reason } = parseRestoreFailure(r.stderr);
      const culprit = line === undefined ? undefined : findCulprit(payload, line, reason);
      const shown = culprit ?? line;
      throw new RestoreError(
        family,
        cmd,
        line,
        culprit,
        reason,
        shown === undefined ? '' : payloadExcerpt(payload, shown),
        line === undefined ? [] : tablesCommittedBefore(payload, line),
        r.stderr,
      );
    },

    async run(family, args): Promise<RunResult> {
      const cmd = binaryName(family, '', backend);
      const r = await runner(cmd, [...waitFlags, ...args], runOpts);
      if (r.code !== 0 && LOCK_HELD.test(r.stderr)) throw await lockError(cmd);
      return r;
    },
  };
}
