import fc from 'fast-check';
import { stringify } from 'yaml';
import type { Snapshot } from '@svcrules/core';
import { loadSnapshot, snapshotFromObjects } from '../src/index.js';
import { apiObjects, configObject, endpointsObject, nodeObject, podObject, serviceObject, sliceObject } from './api-objects.js';
import type { ApiObject } from './api-objects.js';

/** The snapshot without positions, every list in a canonical order (the compiler sorts anyway). */
function normalize(s: Snapshot): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) if (k !== 'origin') out[k] = strip((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  const sorted = <T>(xs: readonly T[] | undefined) => (xs ?? []).map(strip).map((x) => JSON.stringify(x)).sort();
  return {
    services: sorted(s.services),
    endpointSlices: sorted(s.endpointSlices),
    nodes: sorted(s.nodes),
    pods: s.pods === undefined ? undefined : sorted(s.pods),
    config: s.config === undefined ? undefined : strip(s.config),
  };
}

const yamlStream = (objects: readonly ApiObject[]) => objects.map((o) => stringify(o)).join('---\n');

describe('properties', () => {
  test('loading is independent of document order (up to order)', () => {
    fc.assert(
      fc.property(
        apiObjects.chain((objs) => fc.tuple(fc.constant(objs), fc.shuffledSubarray(objs, { minLength: objs.length, maxLength: objs.length }))),
        ([objs, shuffled]) => {
          const a = loadSnapshot([{ name: 'a.yaml', text: yamlStream(objs) }]);
          const b = loadSnapshot([{ name: 'b.yaml', text: yamlStream(shuffled) }]);
          expect(a.diagnostics).toEqual([]);
          expect(b.diagnostics).toEqual([]);
          expect(normalize(b.snapshot)).toEqual(normalize(a.snapshot));
        },
      ),
    );
  });

  test('YAML, JSON (object stream and List) and parsed objects load to the same snapshot', () => {
    fc.assert(
      fc.property(apiObjects, (objs) => {
        const fromYaml = loadSnapshot([{ name: 'in.yaml', text: yamlStream(objs) }]);
        const fromJson = loadSnapshot([{ name: 'in.json', text: objs.map((o) => JSON.stringify(o, null, 2)).join('\n') }]);
        const fromList = loadSnapshot([{ name: 'list.json', text: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }) }]);
        const fromObjects = snapshotFromObjects(objs);
        for (const r of [fromYaml, fromJson, fromList, fromObjects]) expect(r.diagnostics).toEqual([]);
        const expected = normalize(fromObjects.snapshot);
        expect(normalize(fromYaml.snapshot)).toEqual(expected);
        expect(normalize(fromJson.snapshot)).toEqual(expected);
        expect(normalize(fromList.snapshot)).toEqual(expected);
        // Same objects, same order: the snapshots are equal without any sorting too.
        expect(JSON.stringify(fromYaml.snapshot, (k, v: unknown) => (k === 'origin' ? undefined : v))).toBe(
          JSON.stringify(fromObjects.snapshot, (k, v: unknown) => (k === 'origin' ? undefined : v)),
        );
      }),
    );
  });
});

// ---- hostile strings -------------------------------------------------------------------------

/** What may reach the output: IPs, CIDRs, names, label words. No blank, quote, `\`, `#`, control or non-ASCII. */
const SAFE_WORD = /^(?![-!])[A-Za-z0-9._/:-]*$/;

function unsafeStrings(v: unknown, path = '', out: string[] = []): string[] {
  if (typeof v === 'string') {
    if (!SAFE_WORD.test(v)) out.push(`${path} = ${JSON.stringify(v)}`);
  } else if (Array.isArray(v)) v.forEach((x, i) => unsafeStrings(x, `${path}[${i}]`, out));
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'origin') continue; // the caller's file name, not input data
      if (!SAFE_WORD.test(k)) out.push(`${path} key ${JSON.stringify(k)}`);
      unsafeStrings(x, `${path}.${k}`, out);
    }
  }
  return out;
}

/** Every place a string sits in an object: values (by path) and mapping keys. */
type Slot = { path: (string | number)[]; key: boolean };
function stringSlots(v: unknown, path: (string | number)[] = [], out: Slot[] = []): Slot[] {
  if (typeof v === 'string') out.push({ path, key: false });
  else if (Array.isArray(v)) v.forEach((x, i) => stringSlots(x, [...path, i], out));
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (path.length > 0 && k !== 'kind' && k !== 'apiVersion') out.push({ path: [...path, k], key: true });
      stringSlots(x, [...path, k], out);
    }
  }
  return out;
}

function replaced(obj: ApiObject, slot: Slot, hostile: string): ApiObject {
  const copy = JSON.parse(JSON.stringify(obj)) as ApiObject;
  let parent: Record<string | number, unknown> = copy;
  for (const seg of slot.path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
  const last = slot.path[slot.path.length - 1]!;
  if (slot.key) {
    const value = parent[last];
    delete parent[last];
    Object.defineProperty(parent, hostile, { value, enumerable: true, writable: true, configurable: true });
  } else parent[last] = hostile;
  return copy;
}

const INJECTIONS = [
  '"; -j ACCEPT',
  'ns1\n-A KUBE-SERVICES -d 10.0.0.1/32 -j ACCEPT',
  '\nCOMMIT\n*filter',
  'p 80',
  "p'80",
  'p"80',
  'p\\80',
  'p\t80',
  '#comment',
  'a\u0000b',
  'p\u00f6rt',
  '\u202eevil',
  '-j',
  '!x',
  ' 10.0.0.1',
  '10.0.0.1 ',
  '10.0.0.1/8 -j DROP',
  '::ffff:10.0.0.1',
  'fe80::1%eth0',
  'veth+ -j ACCEPT',
  '',
];
const DANGER = [' ', '\t', '\n', '\r', '"', "'", '\\', '#', '\u0000', '\u007f', '\u00e9', '\u2028', '`', '$', ';', '!'];

/** Injections, random Unicode, and near-valid words with one dangerous character inserted. */
const hostile = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.tuple(fc.constantFrom('svc1', 'p80', '10.0.0.1', 'fd00::1', '10.0.0.0/8', 'node-1', 'veth', 'zone-a', 'http'), fc.constantFrom(...DANGER), fc.nat()).map(([w, c, at]) => {
    const i = at % (w.length + 1);
    return w.slice(0, i) + c + w.slice(i);
  }),
);

describe('hostile strings', () => {
  const templates = fc.oneof(serviceObject, sliceObject, endpointsObject, nodeObject, podObject, configObject);

  test('no string field lets an unsafe word into the snapshot, from objects or from YAML', () => {
    fc.assert(
      fc.property(
        templates.chain((obj) => fc.tuple(fc.constant(obj), fc.constantFrom(...stringSlots(obj)), hostile)),
        ([obj, slot, bad]) => {
          const evil = replaced(obj, slot, bad);
          for (const r of [snapshotFromObjects([evil]), loadSnapshot([{ name: 'evil.yaml', text: stringify(evil) }]), loadSnapshot([{ name: 'evil.json', text: JSON.stringify(evil) }])]) {
            expect(unsafeStrings(r.snapshot)).toEqual([]);
            // Diagnostics print on one line, with every odd character escaped.
            for (const d of r.diagnostics) expect(`${d.object ?? ''} ${d.path ?? ''} ${d.message}`).toMatch(/^[\x20-\x7e]*$/);
          }
        },
      ),
    );
  });

  test('a hostile value in a field that reaches the output makes the object invalid', () => {
    // The fields that become rule text: names, namespaces, port names, IPs, CIDRs, interface names.
    const cases: [ApiObject, (string | number)[]][] = [
      [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: 'ns1' }, spec: { clusterIP: '10.0.0.1', ports: [{ name: 'p80', port: 80 }] } }, ['metadata', 'namespace']],
      [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: 'ns1' }, spec: { clusterIP: '10.0.0.1', ports: [{ name: 'p80', port: 80 }] } }, ['metadata', 'name']],
      [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: 'ns1' }, spec: { clusterIP: '10.0.0.1', ports: [{ name: 'p80', port: 80 }] } }, ['spec', 'ports', 0, 'name']],
      [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: 'ns1' }, spec: { clusterIP: '10.0.0.1', ports: [{ name: 'p80', port: 80 }] } }, ['spec', 'clusterIP']],
      [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: 'ns1' }, spec: { externalIPs: ['1.2.3.4'], ports: [] } }, ['spec', 'externalIPs', 0]],
      [{ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'ns1' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }] }, ['endpoints', 0, 'addresses', 0]],
      [{ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'ns1' }, addressType: 'IPv4', ports: [{ name: 'p80', port: 80 }] }, ['ports', 0, 'name']],
      [{ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', detectLocal: { interfaceNamePrefix: 'veth' } }, ['detectLocal', 'interfaceNamePrefix']],
      [{ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', detectLocal: { bridgeInterface: 'cbr0' } }, ['detectLocal', 'bridgeInterface']],
    ];
    const dangerous = hostile.filter((s) => s !== '' && /[^A-Za-z0-9._:/-]/.test(s));
    fc.assert(
      fc.property(fc.constantFrom(...cases), dangerous, ([obj, path], bad) => {
        const r = snapshotFromObjects([replaced(obj, { path, key: false }, bad)]);
        expect(r.diagnostics.filter((d) => d.severity === 'error').length).toBeGreaterThan(0);
      }),
    );
  });
});
