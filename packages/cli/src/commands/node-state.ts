/**
 * `svcrules node-state [--netns NAME]`: captures what `trace --node-state` needs from a node, read-only:
 * iptables-save and ip6tables-save, `ip -j address show`, `nft -j list ruleset`, `ip -j route show table all` for both
 * families, `ipset save` where ipset exists, and the sysctls that change a trace. Prints one JSON object
 * (kind svcrules-node-state, version 1). A command that is missing or fails is listed in `missing`,
 * with a warning on stderr; the capture goes on without it.
 */
import { Command } from 'commander';
import { CommandNotFoundError, isNetnsName, runnerIn, spawnRunner, type Runner } from '@svcrules/applier';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';
import type { NodeStateFile } from './trace-node-input.js';

/** The sysctls a trace depends on: forwarding, loopback routing, br_netfilter, conntrack's TCP window check. */
export const NODE_SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.route_localnet',
  'net.ipv4.conf.all.rp_filter',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_tcp_be_liberal',
] as const;

/** Captures the node state with `run` (inside `netns` when given). */
export async function captureNodeState(run: Runner, netns: string | null, warn: (line: string) => void): Promise<NodeStateFile> {
  const missing: string[] = [];
  // inNetns maps `ip netns exec`'s "exec of ... failed" to CommandNotFoundError, as on the host.
  const runIn = runnerIn({ runner: run, netns: netns ?? undefined });
  const exec = async (cmd: string, args: string[]): Promise<string | null> => {
    const what = [cmd, ...args].join(' ');
    try {
      const r = await runIn(cmd, args, { timeoutMs: 60_000 });
      if (r.code !== 0) {
        const first = r.stderr.trim().split('\n')[0] ?? '';
        missing.push(`${what}: exit ${r.code}: ${first}`);
        warn(`${what} failed (exit ${r.code}): ${first}`);
        return null;
      }
      return r.stdout;
    } catch (err) {
      if (err instanceof CommandNotFoundError) {
        missing.push(`${what}: ${cmd} not found`);
        return null;
      }
      throw err;
    }
  };
  const json = async (args: string[]): Promise<unknown> => {
    const out = await exec('ip', args);
    if (out === null) return null;
    try {
      return JSON.parse(out === '' ? '[]' : out);
    } catch {
      missing.push(`ip ${args.join(' ')}: output is not JSON (iproute2 too old for -j?)`);
      return null;
    }
  };
  const iptablesSave = await exec('iptables-save', []);
  const ip6tablesSave = await exec('ip6tables-save', []);
  const ipAddress = await json(['-j', 'address', 'show']);
  const ipRoute4 = await json(['-j', '-4', 'route', 'show', 'table', 'all']);
  const ipRoute6 = await json(['-j', '-6', 'route', 'show', 'table', 'all']);
  const ipsetSave = await exec('ipset', ['save']);
  // nftables mode's tables (kube-proxy's `ip kube-proxy` and every other), for trace --mode nftables.
  const nftRuleset = await exec('nft', ['-j', 'list', 'ruleset']);
  const sysctls: Record<string, string> = {};
  for (const name of NODE_SYSCTLS) {
    // /proc/sys/net belongs to the reader's network namespace: read it from inside.
    const r = await runIn('cat', [`/proc/sys/${name.replace(/\./g, '/')}`]).catch(() => null);
    if (r && r.code === 0) sysctls[name] = r.stdout.trim();
  }
  return { kind: 'svcrules-node-state', version: 1, netns, iptablesSave, ip6tablesSave, ipAddress, ipRoute4, ipRoute6, ipsetSave, nftRuleset, sysctls, missing };
}

export function registerNodeState(program: Command, io: CliIO, run: Runner = spawnRunner): void {
  const cmd = new Command('node-state')
    .description("capture this node's rules, addresses, routes, ipsets and sysctls (read-only) for `svcrules trace --node-state FILE`")
    .option('--netns <name>', 'capture inside this network namespace (ip netns exec NAME ...)')
    .action(async (flags: { netns?: string }) => {
      const netns = flags.netns ?? null;
      // What inNetns accepts, checked first: a bad name is a usage error, not a crash.
      if (netns !== null && !isNetnsName(netns)) throw new UserError(`--netns: "${netns}" is not a namespace name`, 2);
      const state = await captureNodeState(run, netns, (line) => io.stderr(`svcrules: warning: ${line}\n`));
      if (state.iptablesSave === null && state.ipAddress === null) throw new UserError(`nothing could be captured${netns ? ` in network namespace ${netns}` : ''}: ${state.missing.join('; ')}`);
      io.stdout(`${JSON.stringify(state, null, 2)}\n`);
    });
  program.addCommand(cmd);
}
