/**
 * Opening one IP family of a host (or of a network namespace) for apply and diff: one runner inside the
 * namespace, the facts probed through it, the netfilter whose wait flags the iptables version allows,
 * and the compile options the facts imply.
 */
import type { CompileOptions } from '@svcrules/core';
import { runnerIn, type Runner } from './exec.js';
import { binaryName, createExecNetfilter, type Backend } from './exec-netfilter.js';
import { compileOptionsFromFacts, probeFacts, probeIptables, waitFlagsFor, type HostFacts } from './host-facts.js';
import type { Family, Netfilter } from './netfilter.js';

export interface OpenHostOptions {
  readonly family: Family;
  /** Work inside this network namespace (a name `isNetnsName` accepts). */
  readonly netns?: string;
  readonly backend?: Backend;
  /** Seconds to wait for the xtables lock; default 5, as kube-proxy. */
  readonly waitSeconds?: number;
  /** A private xtables lock file (`XTABLES_LOCKFILE`). */
  readonly lockFile?: string;
  /** Spawns processes on the host; default: the real spawner. */
  readonly runner?: Runner;
}

/** One family of an opened host. */
export interface Host {
  readonly family: Family;
  readonly netns: string | undefined;
  /** Runs tools (nfacct, conntrack) inside the namespace, or on the host. */
  readonly runner: Runner;
  readonly netfilter: Netfilter;
  readonly facts: HostFacts;
  /** The compile options the facts decide (family, random-fully, nfacct, tcp_be_liberal). */
  readonly compileOptions: CompileOptions;
}

/** The namespace cannot be entered (`ip netns exec NAME true` failed); `detail` is what ip said. */
export class NetnsUnavailableError extends Error {
  constructor(
    readonly netns: string,
    readonly detail: string,
  ) {
    super(`network namespace ${netns}: ${detail}`);
    this.name = 'NetnsUnavailableError';
  }
}

/** The iptables binary of the family and backend is not installed (in the namespace). */
export class IptablesNotFoundError extends Error {
  constructor(
    readonly binary: string,
    readonly netns: string | undefined,
  ) {
    super(`${binary} not found${netns ? ` in network namespace ${netns}` : ''}`);
    this.name = 'IptablesNotFoundError';
  }
}

/**
 * Probes one family of the host without changing anything. The iptables version comes first: it
 * decides the wait flags of every later iptables call (the canary check included).
 */
export async function openHost(o: OpenHostOptions): Promise<Host> {
  const runner = runnerIn(o);
  const backend = o.backend ?? 'default';
  // Whether the namespace can be entered is asked only when the version probe fails (one process
  // less per apply): a namespace that cannot be entered fails every command in it.
  const netnsProblem = async (): Promise<void> => {
    if (!o.netns) return;
    const r = await runner('true', []).catch((e: unknown) => ({ code: 1, stderr: String(e) }));
    if (r.code !== 0) throw new NetnsUnavailableError(o.netns, r.stderr.trim() || 'cannot enter the network namespace');
  };
  const iptables = await probeIptables(runner, o.family, backend).catch(async (e: unknown) => {
    await netnsProblem();
    throw e;
  });
  if (!iptables) {
    await netnsProblem();
    throw new IptablesNotFoundError(binaryName(o.family, '', backend), o.netns);
  }
  const waitSeconds = o.waitSeconds ?? 5;
  const netfilter = createExecNetfilter({
    runner,
    backend,
    waitSeconds,
    ...waitFlagsFor(iptables, waitSeconds),
    ...(o.lockFile !== undefined ? { lockFile: o.lockFile } : {}),
  });
  const netns = o.netns !== undefined ? { netns: o.netns } : {};
  const facts = await probeFacts(runner, { family: o.family, netfilter, ...netns }, iptables);
  const compileOptions: CompileOptions = { family: o.family === 'ipv6' ? 'IPv6' : 'IPv4', ...compileOptionsFromFacts(facts) };
  return { family: o.family, netns: o.netns, runner, netfilter, facts, compileOptions };
}
