import type { CompileOptions, Endpoint, EndpointSlice, Service, Snapshot } from '@svcrules/core';
import { compile } from '@svcrules/core';
import type { Ruleset, TableName } from '@svcrules/iptables';
import { chainsOf, parseRuleset } from '@svcrules/iptables';
import { serviceWithDefaults } from '@svcrules/testkit';
import { defaultSaveForm, type Family, type Netfilter } from '../src/index.js';

export const NODE = 'test-node';

/** A ClusterIP Service at `clusterIP` with API-server defaults; override what the test is about. */
export function service(ns: string, name: string, clusterIP: string, over: Partial<Service> = {}): Service {
  return serviceWithDefaults(ns, name, { clusterIP, ...over });
}

/** Ready endpoints at `ips`, on `node` (default: another node). */
export function endpoints(ips: readonly string[], node = 'other-node'): Endpoint[] {
  return ips.map((ip) => ({ addresses: [ip], ready: true, nodeName: node }));
}

/** One EndpointSlice for `svc` with the given ports (name/port/protocol) and endpoints. */
export function slice(svc: Service, eps: readonly Endpoint[], ports?: EndpointSlice['ports']): EndpointSlice {
  return {
    namespace: svc.namespace,
    name: `${svc.name}-abc`,
    serviceName: svc.name,
    addressType: svc.ipFamilies[0] ?? 'IPv4',
    ports: ports ?? svc.ports.map((p) => ({ name: p.name, port: typeof p.targetPort === 'number' ? p.targetPort : p.port, protocol: p.protocol })),
    endpoints: eps,
    labels: { 'kubernetes.io/service-name': svc.name },
  };
}

export function snapshot(services: readonly Service[], slices: readonly EndpointSlice[], v6 = false): Snapshot {
  return {
    services,
    endpointSlices: slices,
    nodes: [{ name: NODE, addresses: [{ type: 'InternalIP', address: v6 ? 'fd00:192:168::2' : '192.168.0.2' }], podCIDRs: [v6 ? 'fd00:10:180::/64' : '10.180.0.0/16'], labels: {} }],
    config: { hostnameOverride: NODE, clusterCIDRs: [v6 ? 'fd00:10::/32' : '10.0.0.0/8'], detectLocalMode: 'ClusterCIDR' },
  };
}

/** compile(), failing the test on error diagnostics. */
export function rules(snap: Snapshot, options: CompileOptions = {}): Ruleset {
  const r = compile(snap, options);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`compile errors: ${errors.map((d) => d.message).join('; ')}`);
  return r.ruleset;
}

/** The host's KUBE chains of filter and nat, as iptables-save lines per chain (hooks and canaries excluded). */
export async function liveKubeChains(nf: Netfilter, family: Family): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of ['filter', 'nat'] as TableName[]) {
    const chains = chainsOf(parseRuleset(await nf.save(family, t))).get(t);
    for (const [name, list] of chains ?? []) {
      if (!name.startsWith('KUBE-') || name === 'KUBE-SVCRULES-CANARY' || name === 'KUBE-PROXY-CANARY') continue;
      out[`${t} ${name}`] = list.map((r) => r.args.join(' '));
    }
  }
  return out;
}

/**
 * The desired ruleset's chains in the same shape, in save form (what the host should show). The hook
 * rules' `-N` always creates filter KUBE-FIREWALL, even where the ruleset leaves it out.
 */
export function expectedKubeChains(desired: Ruleset, family: Family, hooks = true): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (hooks) out['filter KUBE-FIREWALL'] = [];
  for (const [t, chains] of chainsOf(desired)) for (const [name, list] of chains) out[`${t} ${name}`] = list.map((r) => defaultSaveForm(r.args, family).join(' '));
  return out;
}
