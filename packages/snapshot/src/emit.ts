import type { Endpoint, EndpointSlice } from '@svcrules/core';
import { yamlLib } from './yaml-lib.js';

/** An endpoint may carry the Pod it came from (derived slices do) and a hostname (Endpoints stand-ins). */
type EmittableEndpoint = Endpoint & { readonly hostname?: string; readonly targetRef?: { readonly kind: string; readonly namespace: string; readonly name: string } };

function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k]!;
  return out;
}

function endpointObject(e: EmittableEndpoint): Record<string, unknown> {
  const o: Record<string, unknown> = { addresses: [...e.addresses] };
  const conditions: Record<string, boolean> = {};
  if (e.ready !== undefined) conditions.ready = e.ready;
  if (e.serving !== undefined) conditions.serving = e.serving;
  if (e.terminating !== undefined) conditions.terminating = e.terminating;
  o.conditions = conditions;
  if (e.hostname !== undefined) o.hostname = e.hostname;
  if (e.nodeName !== undefined) o.nodeName = e.nodeName;
  if (e.zone !== undefined) o.zone = e.zone;
  if (e.targetRef) o.targetRef = { kind: e.targetRef.kind, namespace: e.targetRef.namespace, name: e.targetRef.name };
  const hints: Record<string, unknown> = {};
  if (e.zoneHints && e.zoneHints.length > 0) hints.forZones = e.zoneHints.map((name) => ({ name }));
  if (e.nodeHints && e.nodeHints.length > 0) hints.forNodes = e.nodeHints.map((name) => ({ name }));
  if (Object.keys(hints).length > 0) o.hints = hints;
  return o;
}

function sliceObject(s: EndpointSlice): Record<string, unknown> {
  const labels = { ...s.labels };
  if (s.serviceName !== '') labels['kubernetes.io/service-name'] = s.serviceName;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: s.name, namespace: s.namespace, labels: sortedRecord(labels) },
    addressType: s.addressType,
    endpoints: s.endpoints.map((e) => endpointObject(e as EmittableEndpoint)),
    // A port whose name or number is absent (null in the model) is written without that field.
    ports: s.ports.map((p) => ({
      ...(p.name !== null ? { name: p.name } : {}),
      ...(p.port !== null ? { port: p.port } : {}),
      protocol: p.protocol,
    })),
  };
}

/**
 * EndpointSlices as one `kind: List` document that `kubectl apply -f` accepts (discovery.k8s.io/v1).
 * Written with YAML 1.1 quoting, as kubectl's YAML reader is 1.1: `"yes"`, `"on"`, `"010"` stay strings.
 */
export function endpointSlicesToYaml(slices: readonly EndpointSlice[]): string {
  const list = { apiVersion: 'v1', kind: 'List', items: slices.map(sliceObject) };
  return yamlLib().stringify(list, { version: '1.1', lineWidth: 0 });
}
