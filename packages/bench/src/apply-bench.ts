/**
 * Apply benchmark in a real network namespace (never the machine's own): a host with N services is
 * loaded once (full restore), then one service changes and the Applier loads only that (partial
 * apply). Prints both, and the ratio, per iptables backend. Run: `node packages/bench/dist/apply-bench.js
 * [services=1000] [endpoints-per-service=10] [runs=5] [backends=default,legacy]` after `pnpm -s build`
 * (root required).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { EndpointSlice, Service, Snapshot } from '@svcrules/core';
import { compile } from '@svcrules/core';
import type { Ruleset } from '@svcrules/iptables';
import { render } from '@svcrules/iptables';
import { createApplier, createExecNetfilter, ensureNfacctCounters, type Backend, type Netfilter } from '@svcrules/applier';
import { serviceWithDefaults } from '@svcrules/testkit';

function octets(i: number): string {
  return `${(i >> 8) & 255}.${i & 255}`;
}

/** N ClusterIP services (every 4th a NodePort), `eps` ready endpoints each, one port. */
export function syntheticSnapshot(n: number, eps: number, changed?: number): Snapshot {
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const name = `svc-${i}`;
    const nodePort = i % 4 === 0 ? 30000 + (i % 2700) : 0;
    services.push(
      serviceWithDefaults('bench', name, { type: nodePort ? 'NodePort' : 'ClusterIP', clusterIP: `172.30.${octets(i)}`, ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort }] }),
    );
    // The changed service drops its first endpoint and gains a new one.
    const first = i === changed ? 1 : 0;
    const extra = i === changed ? 1 : 0;
    endpointSlices.push({
      namespace: 'bench',
      name: `${name}-abc`,
      serviceName: name,
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: eps - first + extra }, (_, k) => ({ addresses: [`10.${100 + ((i * eps + k + first) >> 16)}.${octets(i * eps + k + first)}`], ready: true, nodeName: 'other' })),
      labels: { 'kubernetes.io/service-name': name },
    });
  }
  return {
    services,
    endpointSlices,
    nodes: [{ name: 'bench-node', addresses: [{ type: 'InternalIP', address: '192.168.0.2' }], podCIDRs: ['10.100.0.0/16'], labels: {} }],
    config: { hostnameOverride: 'bench-node', clusterCIDRs: ['10.0.0.0/8'], detectLocalMode: 'ClusterCIDR' },
  };
}

function sh(args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr.toString()}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface ApplyBenchResult {
  readonly backend: Backend;
  readonly services: number;
  readonly endpoints: number;
  readonly fullPayloadBytes: number;
  readonly fullPayloadLines: number;
  /** One iptables-restore --noflush of the whole ruleset into an empty namespace (median). */
  readonly fullRestoreMs: number;
  /** The Applier's first apply on an empty namespace: hooks, nfacct, read, plan, restore (median). */
  readonly fullApplyMs: number;
  /** The Applier's full sync on the loaded host when nothing changed (what each CLI run costs). */
  readonly fullSyncNoChangeMs: number;
  readonly partialPayloadBytes: number;
  readonly partialPayloadLines: number;
  /** The Applier's partial apply of one changed service (median; canary checks + plan + restore). */
  readonly partialApplyMs: number;
  /** Of which iptables-restore alone (median). */
  readonly partialRestoreMs: number;
  /** The same with topLevelChains 'when-changed': only the service's own chains are loaded. */
  readonly minimalPayloadLines: number;
  readonly minimalApplyMs: number;
  readonly minimalRestoreMs: number;
}

async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `svcr-${process.pid}-${randomBytes(3).toString('hex')}-bench`;
  sh(['ip', 'netns', 'add', ns]);
  try {
    return await fn(ns);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

export async function benchApply(services: number, eps: number, backend: Backend, runs = 5): Promise<ApplyBenchResult> {
  const opts = { randomFully: true, nfacct: true, tcpBeLiberal: false };
  const base = compile(syntheticSnapshot(services, eps), opts).ruleset;
  const variants: Ruleset[] = [];
  for (let r = 0; r < runs; r++) variants.push(compile(syntheticSnapshot(services, eps, 17 + r * 101), opts).ruleset);
  const payload = render(base);

  const fullRestore: number[] = [];
  const fullApply: number[] = [];
  for (let r = 0; r < Math.min(runs, 3); r++) {
    await withNetns(async (ns) => {
      await ensureNfacctCounters({ netns: ns });
      const nf = createExecNetfilter({ netns: ns, backend });
      const t0 = performance.now();
      await nf.restore('ipv4', payload, { noflush: true, counters: true });
      fullRestore.push(performance.now() - t0);
    });
    await withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns, backend });
      const applier = createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync: async () => void (await ensureNfacctCounters({ netns: ns })) });
      const t0 = performance.now();
      await applier.apply(base);
      fullApply.push(performance.now() - t0);
    });
  }

  return withNetns(async (ns) => {
    const inner = createExecNetfilter({ netns: ns, backend });
    // Times each iptables-restore, to split the apply into the restore and everything else.
    const restores: number[] = [];
    const nf: Netfilter = {
      save: (f, t) => inner.save(f, t),
      run: (f, a) => inner.run(f, a),
      async restore(f, p, o) {
        const t = performance.now();
        await inner.restore(f, p, o);
        restores.push(performance.now() - t);
      },
    };
    const beforeFullSync = async () => void (await ensureNfacctCounters({ netns: ns }));
    const applier = createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync });
    await applier.apply(base);
    let t0 = performance.now();
    const noChange = await createApplier({ netfilter: nf, family: 'ipv4' }).apply(base);
    const fullSyncNoChangeMs = performance.now() - t0;
    if (noChange.payload !== '') throw new Error('a full sync of the same ruleset should change nothing');
    const measure = async (a: ReturnType<typeof createApplier>) => {
      const total: number[] = [];
      const restore: number[] = [];
      let payload = '';
      for (const v of variants) {
        // Alternate base -> variant -> base so every measured apply changes exactly one service.
        restores.length = 0;
        t0 = performance.now();
        const r = await a.apply(v);
        total.push(performance.now() - t0);
        restore.push(restores[0] ?? 0);
        if (r.mode !== 'partial') throw new Error(`expected a partial apply, got ${r.mode} (${r.reason})`);
        payload = r.payload;
        await a.apply(base);
      }
      return { total: median(total), restore: median(restore), payload };
    };
    const partial = await measure(applier);
    const minimalApplier = createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync, topLevelChains: 'when-changed' });
    await minimalApplier.apply(base);
    const minimal = await measure(minimalApplier);
    const partialPayload = partial.payload;
    return {
      backend,
      services,
      endpoints: services * eps,
      fullPayloadBytes: Buffer.byteLength(payload),
      fullPayloadLines: payload.split('\n').length - 1,
      fullRestoreMs: median(fullRestore),
      fullApplyMs: median(fullApply),
      fullSyncNoChangeMs,
      partialPayloadBytes: Buffer.byteLength(partialPayload),
      partialPayloadLines: partialPayload.split('\n').length - 1,
      partialApplyMs: partial.total,
      partialRestoreMs: partial.restore,
      minimalPayloadLines: minimal.payload.split('\n').length - 1,
      minimalApplyMs: minimal.total,
      minimalRestoreMs: minimal.restore,
    };
  });
}

export function formatApplyBench(r: ApplyBenchResult): string {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  return [
    `backend ${r.backend}: ${r.services} services x ${r.endpoints / r.services} endpoints (${r.fullPayloadLines} lines, ${(r.fullPayloadBytes / 1e6).toFixed(2)} MB)`,
    `  full iptables-restore (empty netns)      ${ms(r.fullRestoreMs)}`,
    `  Applier first apply (full sync)          ${ms(r.fullApplyMs)}`,
    `  Applier full sync, nothing changed       ${ms(r.fullSyncNoChangeMs)}   (what one CLI run costs)`,
    `  Applier partial apply, one service       ${ms(r.partialApplyMs)}   (restore ${ms(r.partialRestoreMs)}; ${r.partialPayloadLines} lines, ${r.partialPayloadBytes} bytes: top-level chains always rewritten)`,
    `  same, topLevelChains 'when-changed'      ${ms(r.minimalApplyMs)}   (restore ${ms(r.minimalRestoreMs)}; ${r.minimalPayloadLines} lines)`,
    `  ratio full restore / partial apply       ${(r.fullRestoreMs / r.partialApplyMs).toFixed(1)}x   ('when-changed': ${(r.fullRestoreMs / r.minimalApplyMs).toFixed(1)}x)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const services = Number(process.argv[2] ?? 1000);
  const eps = Number(process.argv[3] ?? 10);
  const runs = Number(process.argv[4] ?? 5);
  const backends = (process.argv[5] ?? 'default,legacy').split(',') as Backend[];
  for (const backend of backends) console.log(formatApplyBench(await benchApply(services, eps, backend, runs)));
}

if (process.argv[1] !== undefined && /apply-bench\.js$/.test(process.argv[1])) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
