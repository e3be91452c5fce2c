/**
 * The gate of every real-kernel test (iptables-restore, iptables-save, nfacct... inside network
 * namespaces). Without root, a tool or network namespaces, a kernel test must neither pass without
 * checking anything nor vanish from the count:
 *   - under CI (`CI` set and not "0"/"false"; .ci/run installs every tool) it is a failing test that
 *     names what is missing;
 *   - elsewhere its tests are skipped, counted by jest as skipped, under a name that says why.
 */
import { netnsSkipReason } from './cluster.js';

export type KernelDecision = 'run' | 'fail' | 'skip';

/** Whether this run must have the kernel tools: CI is set (and not "0" or "false"). */
export function kernelRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env['CI'] ?? '').trim().toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false';
}

/** What a kernel test does given why it cannot run (undefined: it can). */
export function kernelDecision(missing: string | undefined, env: NodeJS.ProcessEnv = process.env): KernelDecision {
  if (missing === undefined) return 'run';
  return kernelRequired(env) ? 'fail' : 'skip';
}

/** The name of a skipped kernel test or block: the reason is part of it, so every listing shows it. */
export const skippedName = (name: string, missing: string): string => `${name} [skipped: ${missing}]`;

/** The message of the failing test that stands for kernel tests that cannot run under CI. */
export const requiredMessage = (missing: string): string =>
  `the real-kernel tests cannot run (${missing}) and CI is set, where .ci/run installs every tool: run as root with iptables, conntrack, nfacct, iproute2 and nftables installed`;

export interface KernelGate {
  /** Why the kernel tests cannot run here, or undefined when they can. */
  readonly missing: string | undefined;
  readonly decision: KernelDecision;
  /** `describe` that runs the block, fails it (CI), or skips its tests with the reason in the name. */
  describe(name: string, fn: () => void): void;
  /** `test` likewise, for a single test. */
  test(name: string, fn: jest.ProvidesCallback, timeout?: number): void;
}

/** A gate over an explicit reason (e.g. one computed per IP family). */
export function gateFor(missing: string | undefined, env: NodeJS.ProcessEnv = process.env): KernelGate {
  const decision = kernelDecision(missing, env);
  const why = missing ?? '';
  const failing = () => {
    throw new Error(requiredMessage(why));
  };
  return {
    missing,
    decision,
    describe(name, fn) {
      if (decision === 'run') describe(name, fn);
      else if (decision === 'skip') describe.skip(skippedName(name, why), fn);
      else describe(name, () => test(`requires the kernel tools (CI is set): ${why}`, failing));
    },
    test(name, fn, timeout) {
      if (decision === 'run') test(name, fn, timeout);
      else if (decision === 'skip') test.skip(skippedName(name, why), fn, timeout);
      else test(`${name}: requires the kernel tools (CI is set): ${why}`, failing);
    },
  };
}

/** The gate for tests needing root, network namespaces and `commands` on PATH. */
export function kernelGate(commands: readonly string[], env: NodeJS.ProcessEnv = process.env): KernelGate {
  return gateFor(netnsSkipReason(commands), env);
}
