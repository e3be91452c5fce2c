import * as z from 'zod';
import { ipFamilyOf } from '@svcrules/core';
import type { Pod, Protocol } from '@svcrules/core';
import { EXPECT, isIANASvcName, quote } from '../words.js';
import { anyString, emptyIsUnset, ip, list, oneOf, port, protocol, word } from './fields.js';
import type { KindModule } from './kind.js';
import { namespacedMetadata, subdomainName } from './metadata.js';
import { nodeName } from './endpoint-slice.js';

const containerPort = z.object({
  name: word(isIANASvcName, 'invalid-port-name', EXPECT.ianaSvcName).optional(),
  containerPort: port,
  protocol: emptyIsUnset(protocol.default('TCP')), // SetDefaults_ContainerPort
});

const container = z.object({ ports: list(containerPort).default([]) });
/** Sidecars (init containers with restartPolicy Always) count for named ports, as FindPort reads them. */
const initContainer = z.object({ restartPolicy: anyString.optional(), ports: list(containerPort).default([]) });

/** Pod IPs are endpoint addresses once derived, so they get the endpoint grammar. */
const podIP = ip({ unicast: true });

export const podSchema = z.object({
  metadata: namespacedMetadata(subdomainName()).extend({
    // Any value marks the Pod terminating; it never reaches the output.
    deletionTimestamp: z.unknown().optional(),
  }),
  spec: z
    .object({
      nodeName: nodeName.optional(),
      containers: list(container).default([]),
      initContainers: list(initContainer).default([]),
    })
    .default({ containers: [], initContainers: [] }),
  status: z
    .object({
      phase: oneOf(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'], 'invalid-pod-phase').optional(),
      podIP: podIP.optional(),
      podIPs: list(z.object({ ip: podIP })).optional(),
      conditions: list(z.object({ type: anyString, status: anyString })).default([]),
    })
    .default({ conditions: [] }),
});

export type PodDoc = z.output<typeof podSchema>;

export const podKind: KindModule<PodDoc, Pod> = {
  apiVersion: 'v1',
  kind: 'Pod',
  namespaced: true,
  schema: podSchema,
  build(doc, ctx) {
    const st = doc.status;
    const podIPs = st.podIPs ? st.podIPs.map((p) => p.ip) : st.podIP !== undefined ? [st.podIP] : [];
    if (podIPs.length > 2) {
      ctx.error(['status', 'podIPs'], 'invalid-pod-ips', `expected one IP or two of different families, got ${podIPs.length}`);
    } else if (podIPs.length === 2 && ipFamilyOf(podIPs[0]!) === ipFamilyOf(podIPs[1]!)) {
      ctx.error(['status', 'podIPs', 1, 'ip'], 'invalid-pod-ips', `expected an IP of the other family, got ${quote(podIPs[1]!)}`);
    }
    if (st.podIP !== undefined && st.podIPs && st.podIPs.length > 0 && st.podIPs[0]!.ip !== st.podIP) {
      ctx.error(['status', 'podIPs', 0, 'ip'], 'pod-ip-mismatch', `expected podIPs[0] to equal podIP ${quote(st.podIP)}, got ${quote(st.podIPs[0]!.ip)}`);
    }
    const containerPorts: { name?: string; containerPort: number; protocol: Protocol }[] = [];
    const add = (ports: PodDoc['spec']['containers'][number]['ports']) => {
      for (const p of ports) containerPorts.push({ ...(p.name !== undefined ? { name: p.name } : {}), containerPort: p.containerPort, protocol: p.protocol });
    };
    for (const c of doc.spec.containers) add(c.ports);
    for (const c of doc.spec.initContainers) if (c.restartPolicy === 'Always') add(c.ports);
    return {
      namespace: doc.metadata.namespace,
      name: doc.metadata.name,
      labels: doc.metadata.labels,
      ...(doc.spec.nodeName !== undefined ? { nodeName: doc.spec.nodeName } : {}),
      ...(st.phase !== undefined ? { phase: st.phase } : {}),
      podIPs,
      ready: st.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
      terminating: doc.metadata.deletionTimestamp !== undefined,
      containerPorts,
    };
  },
};
