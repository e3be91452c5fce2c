/**
 * `svcrules migrate`: what changes for each Service when kube-proxy moves from iptables mode to
 * nftables mode. Compiles the snapshot both ways, traces the flows that matter through each, and
 * prints every flow whose outcome differs, grouped by Service, with the reason and the setting that
 * keeps today's behaviour. Text, or JSON (packages/cli/README-migrate.md). Exit 0 whatever it finds.
 */
import { Command } from 'commander';
import { formatDiagnostic, migrate, parseIP, type FlowDifference, type MigrateReport, type TracedOutcome } from '@svcrules/core';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';
import { addCompileFlags, compileOptionsFrom, loadInputs, plural, type CompileFlags } from '../compile-input.js';
import { serviceCIDRsFrom } from './compile-nft.js';

interface MigrateFlags extends CompileFlags {
  json?: boolean;
  serviceCidr?: string[];
  podIp?: string;
  clientIp?: string;
}

const FROM = { pod: 'from a pod', node: 'from the node', external: 'from a client outside' } as const;

const outcomeText = (o: TracedOutcome) => ('error' in o ? `not traced: ${o.error}` : o.text);

function flowLine(d: FlowDifference): string {
  const f = d.flow;
  const dst = f.dst.includes(':') ? `[${f.dst}]:${f.dport}` : `${f.dst}:${f.dport}`;
  const what =
    f.kind === 'unused-port' ? 'unused port of the cluster IP' : f.kind === 'unallocated-cluster-ip' ? 'unallocated address of the service CIDR' : f.kind === 'health-check' ? 'health-check node port' : f.kind.replace(/-/g, ' ');
  return `${what} ${dst}/${f.protocol} ${FROM[f.from]} (${f.src})`;
}

export function migrateText(r: MigrateReport): string {
  const lines: string[] = [];
  lines.push(`${r.family} node ${r.node || '(none)'}: ${plural(r.flows.length, 'flow', 'flows')} traced (pod ${r.podIP}, node ${r.nodeIP ?? '(none)'}, outside client ${r.externalIP}); ${plural(r.differences.length, 'differs', 'differ')} in nftables mode`);
  const byService = new Map<string, FlowDifference[]>();
  for (const d of r.differences) (byService.get(d.flow.service) ?? byService.set(d.flow.service, []).get(d.flow.service)!).push(d);
  for (const [service, diffs] of [...byService].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    lines.push('', service === '' ? 'No Service (service CIDRs)' : `Service ${service}`);
    for (const d of diffs) {
      lines.push(`  ${flowLine(d)}`);
      lines.push(`    iptables: ${outcomeText(d.iptables)}`);
      lines.push(`    nftables: ${outcomeText(d.nftables)}`);
      lines.push(`    why (${d.reason?.id ?? 'unexplained'}): ${d.reason?.reason ?? 'no known difference between the modes explains this'}`);
      if (d.reason) lines.push(`    keep: ${d.reason.keep ?? 'no setting keeps the iptables-mode behaviour'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function migrateJson(r: MigrateReport): unknown {
  const outcome = (o: TracedOutcome) =>
    'error' in o ? { error: o.error } : { text: o.text, branches: o.branches.map((b) => ({ probability: b.probability, verdict: b.verdict, delivery: b.delivery, endpoint: b.endpoint, masquerade: b.masquerade, accepted: b.accepted })) };
  return {
    family: r.family,
    node: r.node,
    sources: { pod: r.podIP, node: r.nodeIP, external: r.externalIP },
    nodeAddresses: r.nodeAddresses,
    flows: r.flows.length,
    differences: r.differences.map((d) => ({ flow: d.flow, iptables: outcome(d.iptables), nftables: outcome(d.nftables), reason: d.reason })),
    diagnostics: r.diagnostics.map((d) => formatDiagnostic(d)),
  };
}

function checkIP(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !parseIP(value)) throw new UserError(`${flag}: "${value}" is not an IP address`, 2);
  return value;
}

export function registerMigrate(program: Command, io: CliIO): void {
  const cmd = new Command('migrate')
    .description('list the flows whose outcome changes when kube-proxy moves from iptables mode to nftables mode, with the reason and the setting that keeps today\'s behaviour')
    .argument('[file...]', 'snapshot files (YAML or JSON; - for standard input)')
    .option('--service-cidr <cidr>', 'a service CIDR, instead of the ServiceCIDR objects (repeatable)', (v: string, p: string[] | undefined) => [...(p ?? []), v])
    .option('--pod-ip <ip>', 'the source of flows from a pod (default: a free address of the node\'s pod CIDR or the cluster CIDR)')
    .option('--client-ip <ip>', 'the source of flows from outside the cluster (default 198.51.100.2 / 2001:db8:1::2)')
    .option('--json', 'print the report as JSON (documented in packages/cli/README-migrate.md)');
  addCompileFlags(cmd).action(async (files: string[], flags: MigrateFlags) => {
    const serviceCIDRs = serviceCIDRsFrom(flags.serviceCidr);
    const podIP = checkIP(flags.podIp, '--pod-ip');
    const externalIP = checkIP(flags.clientIp, '--client-ip');
    if (flags.existing !== undefined) throw new UserError('--existing has no meaning for migrate (it compares full syncs)', 2);
    const snapshot = await loadInputs(io, files, flags);
    const report = migrate(snapshot, { ...compileOptionsFrom(flags), ...(serviceCIDRs ? { serviceCIDRs } : {}), ...(podIP ? { podIP } : {}), ...(externalIP ? { externalIP } : {}) });
    for (const d of report.diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
    io.stdout(flags.json ? `${JSON.stringify(migrateJson(report), null, 2)}\n` : migrateText(report));
  });
  program.addCommand(cmd);
}
