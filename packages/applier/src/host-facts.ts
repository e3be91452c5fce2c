import type { TableName } from '@svcrules/iptables';
import { CANARY_TABLES, KUBE_PROXY_CANARY, NFACCT_COUNTERS, type NfacctCounter } from '@svcrules/core';
import { CommandNotFoundError, hasCommand, runnerIn, type Runner } from './exec.js';
import { binaryName, type Backend } from './exec-netfilter.js';
import { chainExists, type Family, type Netfilter } from './netfilter.js';


export interface IptablesVersion {
  readonly text: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** From the `(nf_tables)` / `(legacy)` suffix of `iptables --version`; iptables < 1.8 prints none (legacy). */
  readonly backend: 'nft' | 'legacy';
}

/** What was found on the host for one IP family; every compile-relevant fact is probed, not guessed. */
export interface HostFacts {
  readonly family: Family;
  readonly netns: string | undefined;
  /** undefined when the iptables binary is missing. */
  readonly iptables: IptablesVersion | undefined;
  /** MASQUERADE --random-fully: iptables >= 1.6.2. */
  readonly randomFully: boolean;
  /** Wait flags for `iptables` (>= 1.6.1: `-w 5 -W 100000`) and `iptables-restore` (>= 1.6.2). */
  readonly waitFlags: readonly string[];
  readonly restoreWaitFlags: readonly string[];
  /** Whether the `nfacct` tool exists, and which counters already exist in this namespace. */
  readonly nfacctTool: boolean;
  readonly nfacctCounters: Readonly<Record<NfacctCounter, boolean>>;
  /** `net.netfilter.nf_conntrack_tcp_be_liberal` != 0; undefined when unreadable (nf_conntrack not loaded). */
  readonly tcpBeLiberal: boolean | undefined;
  readonly conntrackTool: boolean;
  /** Tables in which kube-proxy's KUBE-PROXY-CANARY chain exists (non-empty: a live kube-proxy). */
  readonly kubeProxyCanary: readonly TableName[];
}

export function parseIptablesVersion(text: string): IptablesVersion | undefined {
  const m = /v(\d+)\.(\d+)\.(\d+)(?:\s+\(([^)]+)\))?/.exec(text);
  if (!m) return undefined;
  return {
    text: text.trim(),
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    backend: m[4] === 'nf_tables' ? 'nft' : 'legacy',
  };
}

function atLeast(v: IptablesVersion, major: number, minor: number, patch: number): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

/** kube-proxy's version rules (pkg/util/iptables: WaitMinVersion ... WaitRestoreMinVersion). */
export function waitFlagsFor(v: IptablesVersion | undefined, waitSeconds = 5): { waitFlags: string[]; restoreWaitFlags: string[] } {
  if (!v) return { waitFlags: [], restoreWaitFlags: [] };
  const w = String(waitSeconds);
  const waitFlags = atLeast(v, 1, 6, 1) ? ['-w', w, '-W', '100000'] : atLeast(v, 1, 4, 22) ? ['-w', w] : atLeast(v, 1, 4, 20) ? ['-w'] : [];
  const restoreWaitFlags = atLeast(v, 1, 6, 2) ? ['-w', w, '-W', '100000'] : [];
  return { waitFlags, restoreWaitFlags };
}

export interface ProbeOptions {
  readonly family: Family;
  /** Reads the KUBE-PROXY-CANARY chains. */
  readonly netfilter: Netfilter;
  /** Runs the other tools (iptables --version, nfacct, conntrack, cat); default: the real spawner. */
  readonly runner?: Runner;
  readonly netns?: string;
  readonly backend?: Backend;
}

async function nfacctHas(run: Runner, name: string): Promise<boolean> {
  const r = await run('nfacct', ['get', name]);
  return r.code === 0;
}

/** `iptables --version` (of the family and backend) through `run`; undefined when the binary is missing. */
export async function probeIptables(run: Runner, family: Family, backend: Backend = 'default'): Promise<IptablesVersion | undefined> {
  try {
    const r = await run(binaryName(family, '', backend), ['--version']);
    return parseIptablesVersion(r.stdout + r.stderr);
  } catch (e) {
    if (!(e instanceof CommandNotFoundError)) throw e;
    return undefined;
  }
}

/** Probes one family of the host (or of `netns`) without changing anything. */
export async function probeHost(o: ProbeOptions): Promise<HostFacts> {
  const run = runnerIn(o);
  return probeFacts(run, o, await probeIptables(run, o.family, o.backend));
}

/**
 * The facts beside the iptables version, probed through `run` (already inside `o.netns`). Split from
 * probeHost because openHost needs the version first: it decides the wait flags of `o.netfilter`.
 */
export async function probeFacts(run: Runner, o: { family: Family; netns?: string; netfilter: Netfilter }, iptables: IptablesVersion | undefined): Promise<HostFacts> {
  // The probes are independent: run at once, a CLI apply waits for the slowest, not for the sum.
  const nfacct = (async () => {
    const tool = await hasCommand(run, 'nfacct', ['version']);
    const counters = { ct_state_invalid_dropped_pkts: false, localhost_nps_accepted_pkts: false };
    if (tool) await Promise.all(NFACCT_COUNTERS.map(async (c) => void (counters[c] = await nfacctHas(run, c))));
    return { tool, counters };
  })();
  const liberal = (async () => {
    try {
      const r = await run('cat', ['/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal']);
      if (r.code === 0 && /^\s*\d+\s*$/.test(r.stdout)) return Number(r.stdout.trim()) !== 0;
    } catch (e) {
      if (!(e instanceof CommandNotFoundError)) throw e;
    }
    return undefined;
  })();
  const conntrack = hasCommand(run, 'conntrack', ['--version']);
  const canaries = iptables ? Promise.all(CANARY_TABLES.map((t) => chainExists(o.netfilter, o.family, t, KUBE_PROXY_CANARY))) : Promise.resolve([]);
  const [{ tool: nfacctTool, counters: nfacctCounters }, tcpBeLiberal, conntrackTool, found] = await Promise.all([nfacct, liberal, conntrack, canaries]);
  const kubeProxyCanary = CANARY_TABLES.filter((_, i) => found[i] === true);
  return {
    family: o.family,
    netns: o.netns,
    iptables,
    randomFully: iptables !== undefined && atLeast(iptables, 1, 6, 2),
    ...waitFlagsFor(iptables),
    nfacctTool,
    nfacctCounters,
    tcpBeLiberal,
    conntrackTool,
    kubeProxyCanary,
  };
}

/**
 * Creates kube-proxy's nfacct counters that are missing (kube-proxy's ensure at full sync). Returns
 * which counters exist afterwards; without the tool, none (compile then leaves out `-m nfacct`).
 */
export async function ensureNfacctCounters(o: { runner?: Runner; netns?: string }): Promise<Record<NfacctCounter, boolean>> {
  const run = runnerIn(o);
  const out = { ct_state_invalid_dropped_pkts: false, localhost_nps_accepted_pkts: false };
  if (!(await hasCommand(run, 'nfacct', ['version']))) return out;
  for (const c of NFACCT_COUNTERS) {
    if (!(await nfacctHas(run, c))) await run('nfacct', ['add', c]);
    out[c] = await nfacctHas(run, c);
  }
  return out;
}

/**
 * The compile options these facts imply. nfacct counts as available when both counters exist or the
 * tool can create them (apply creates them before loading the rules).
 */
export function compileOptionsFromFacts(f: HostFacts): { randomFully: boolean; nfacct: boolean; tcpBeLiberal: boolean } {
  return {
    randomFully: f.randomFully,
    nfacct: f.nfacctTool || (f.nfacctCounters.ct_state_invalid_dropped_pkts && f.nfacctCounters.localhost_nps_accepted_pkts),
    tcpBeLiberal: f.tcpBeLiberal ?? false,
  };
}

/** Human-readable report of what was probed and what it means for the rules (`svcrules apply --explain-host`). */
export function explainHost(f: HostFacts): string {
  const o = compileOptionsFromFacts(f);
  const lines: string[] = [];
  const where = f.netns ? ` (network namespace ${f.netns})` : '';
  lines.push(`${f.family}${where}:`);
  if (!f.iptables) lines.push(`  iptables: ${binaryName(f.family, '', 'default')} not found`);
  else {
    lines.push(`  iptables: ${f.iptables.text} -> backend ${f.iptables.backend}`);
    lines.push(`  random-fully: ${f.randomFully ? 'yes (>= 1.6.2): MASQUERADE gets --random-fully' : 'no (< 1.6.2)'}`);
    lines.push(`  wait flags: iptables ${f.waitFlags.join(' ') || '(none)'}; restore ${f.restoreWaitFlags.join(' ') || '(none)'}`);
  }
  const counters = NFACCT_COUNTERS.map((c) => `${c} ${f.nfacctCounters[c] ? 'present' : 'absent'}`).join(', ');
  lines.push(
    `  nfacct: ${f.nfacctTool ? `tool present; ${counters}` : `tool absent; ${counters}`} -> ${o.nfacct ? '-m nfacct matches on (missing counters are created on apply)' : 'compiled without -m nfacct'}`,
  );
  lines.push(
    `  nf_conntrack_tcp_be_liberal: ${f.tcpBeLiberal === undefined ? 'unreadable (nf_conntrack not loaded); assuming 0' : f.tcpBeLiberal ? '1 -> no INVALID drop rule' : '0 -> INVALID drop rule kept'}`,
  );
  lines.push(`  conntrack tool: ${f.conntrackTool ? 'present (stale UDP flows are cleared after apply)' : 'absent (stale UDP flows are not cleared)'}`);
  lines.push(
    `  kube-proxy: ${f.kubeProxyCanary.length > 0 ? `KUBE-PROXY-CANARY in ${f.kubeProxyCanary.join(', ')}: a live kube-proxy owns the chains; apply refuses without --force` : 'no KUBE-PROXY-CANARY chain'}`,
  );
  return lines.join('\n') + '\n';
}
