/**
 * The endpoint condition table: ready, serving and terminating each true, false or unset (27 rows),
 * against a literal expectation, through the endpoint cache and CategorizeEndpoints, for Cluster and
 * Local policies. Unset as kube-proxy reads it (pkg/proxy/endpointslicecache.go addEndpoints):
 * ready/serving unset = true, terminating unset = false. The kinds (pkg/proxy/topology.go):
 *   ready     used whenever the policy's endpoints are chosen
 *   fallback  not ready but serving AND terminating: used only when no ready endpoint is left
 *   none      never used
 * The compile goldens fixtures/compile/feature-endpoint-conditions-{cluster,local} cover the same table.
 */
import { buildEndpointsMap, categorizeEndpoints, portKey, type EndpointInfo } from '../src/endpoints.js';
import type { Endpoint } from '../src/model.js';
import { servicePortInfos } from '../src/service-port.js';
import { service, slice } from './helpers.js';

const NODE = 'test-node';
type Cond = boolean | undefined;
type Kind = 'ready' | 'fallback' | 'none';

// [ready, serving, terminating] as written -> [ready, serving, terminating] as read, and the kind.
const TABLE: [Cond, Cond, Cond, [boolean, boolean, boolean], Kind][] = [
  [true, true, true, [true, true, true], 'ready'],
  [true, true, false, [true, true, false], 'ready'],
  [true, true, undefined, [true, true, false], 'ready'],
  [true, false, true, [true, false, true], 'ready'],
  [true, false, false, [true, false, false], 'ready'],
  [true, false, undefined, [true, false, false], 'ready'],
  [true, undefined, true, [true, true, true], 'ready'],
  [true, undefined, false, [true, true, false], 'ready'],
  [true, undefined, undefined, [true, true, false], 'ready'],
  [false, true, true, [false, true, true], 'fallback'],
  [false, true, false, [false, true, false], 'none'],
  [false, true, undefined, [false, true, false], 'none'],
  [false, false, true, [false, false, true], 'none'],
  [false, false, false, [false, false, false], 'none'],
  [false, false, undefined, [false, false, false], 'none'],
  [false, undefined, true, [false, true, true], 'fallback'],
  [false, undefined, false, [false, true, false], 'none'],
  [false, undefined, undefined, [false, true, false], 'none'],
  [undefined, true, true, [true, true, true], 'ready'],
  [undefined, true, false, [true, true, false], 'ready'],
  [undefined, true, undefined, [true, true, false], 'ready'],
  [undefined, false, true, [true, false, true], 'ready'],
  [undefined, false, false, [true, false, false], 'ready'],
  [undefined, false, undefined, [true, false, false], 'ready'],
  [undefined, undefined, true, [true, true, true], 'ready'],
  [undefined, undefined, false, [true, true, false], 'ready'],
  [undefined, undefined, undefined, [true, true, false], 'ready'],
];

const word = (c: Cond) => (c === undefined ? 'unset' : String(c));
const rows = TABLE.map(([ready, serving, terminating, read, kind]) => ({
  name: `ready=${word(ready)} serving=${word(serving)} terminating=${word(terminating)} -> ${kind}`,
  conds: { ready, serving, terminating },
  read,
  kind,
}));
type Row = (typeof rows)[number];

/** The endpoint as the API sends it: unset conditions are absent keys. */
function endpoint(ip: string, node: string, c: { ready: Cond; serving: Cond; terminating: Cond }): Endpoint {
  return {
    addresses: [ip],
    nodeName: node,
    ...(c.ready !== undefined ? { ready: c.ready } : {}),
    ...(c.serving !== undefined ? { serving: c.serving } : {}),
    ...(c.terminating !== undefined ? { terminating: c.terminating } : {}),
  };
}

const READY = { ready: true, serving: true, terminating: false };
const SERVING_TERMINATING = { ready: false, serving: true, terminating: true };
const ROW_IP = '10.180.0.1';
const OTHER_IP = '10.180.0.2';

function categorize(list: Endpoint[], over: Parameters<typeof service>[2] = {}) {
  const svc = servicePortInfos(service('ns1', 'svc1', over), 'IPv4')[0]!;
  const infos = buildEndpointsMap([slice('ns1', 'svc1', { endpoints: list })], 'IPv4', NODE).get(portKey('ns1/svc1:p80', 'tcp')) ?? [];
  const c = categorizeEndpoints(infos, svc, NODE, '');
  const ips = (xs: readonly EndpointInfo[]) => xs.map((e) => e.ip).sort();
  return { infos, cluster: ips(c.cluster), local: ips(c.local), reachable: ips(c.allReachable), hasAny: c.hasAny };
}

const ITP_LOCAL: Parameters<typeof service>[2] = { internalTrafficPolicy: 'Local' };
const ETP_LOCAL: Parameters<typeof service>[2] = { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30080 }] };

describe('endpoint condition table', () => {
  test('the table is the whole cross product, each row once', () => {
    expect(new Set(rows.map((r) => r.name)).size).toBe(27);
  });

  test.each(rows.map((r) => [r.name, r] as const))('%s: read with the API defaults', (_n, r: Row) => {
    const { infos } = categorize([endpoint(ROW_IP, 'node-b', r.conds)]);
    expect(infos.map((e) => [e.ready, e.serving, e.terminating])).toEqual([r.read]);
  });

  describe('Cluster policy', () => {
    test.each(rows.map((r) => [r.name, r] as const))('%s: alone', (_n, r: Row) => {
      const c = categorize([endpoint(ROW_IP, 'node-b', r.conds)]);
      const used = r.kind !== 'none';
      expect({ cluster: c.cluster, hasAny: c.hasAny }).toEqual({ cluster: used ? [ROW_IP] : [], hasAny: used });
    });

    test.each(rows.map((r) => [r.name, r] as const))('%s: beside a ready endpoint', (_n, r: Row) => {
      const c = categorize([endpoint(ROW_IP, 'node-b', r.conds), endpoint(OTHER_IP, 'node-c', READY)]);
      expect(c.cluster).toEqual(r.kind === 'ready' ? [ROW_IP, OTHER_IP] : [OTHER_IP]);
    });

    test.each(rows.map((r) => [r.name, r] as const))('%s: beside a serving, terminating endpoint', (_n, r: Row) => {
      const c = categorize([endpoint(ROW_IP, 'node-b', r.conds), endpoint(OTHER_IP, 'node-c', SERVING_TERMINATING)]);
      expect(c.cluster).toEqual({ ready: [ROW_IP], fallback: [ROW_IP, OTHER_IP], none: [OTHER_IP] }[r.kind]);
    });
  });

  describe('internalTrafficPolicy Local', () => {
    test.each(rows.map((r) => [r.name, r] as const))('%s: local, beside a remote ready endpoint', (_n, r: Row) => {
      const c = categorize([endpoint(ROW_IP, NODE, r.conds), endpoint(OTHER_IP, 'node-b', READY)], ITP_LOCAL);
      const used = r.kind !== 'none';
      expect(c).toMatchObject({ cluster: [], local: used ? [ROW_IP] : [], reachable: used ? [ROW_IP] : [], hasAny: true });
    });

    test.each(rows.map((r) => [r.name, r] as const))('%s: local, alone', (_n, r: Row) => {
      const c = categorize([endpoint(ROW_IP, NODE, r.conds)], ITP_LOCAL);
      const used = r.kind !== 'none';
      expect({ local: c.local, hasAny: c.hasAny }).toEqual({ local: used ? [ROW_IP] : [], hasAny: used });
    });

    test.each(rows.map((r) => [r.name, r] as const))('%s: local, beside a local serving, terminating endpoint', (_n, r: Row) => {
      const c = categorize([endpoint(ROW_IP, NODE, r.conds), endpoint(OTHER_IP, NODE, SERVING_TERMINATING)], ITP_LOCAL);
      expect(c.local).toEqual({ ready: [ROW_IP], fallback: [ROW_IP, OTHER_IP], none: [OTHER_IP] }[r.kind]);
    });
  });

  describe('externalTrafficPolicy Local (both policies)', () => {
    test.each(rows.map((r) => [r.name, r] as const))('%s: local, beside a remote ready endpoint', (_n, r: Row) => {
      const c = categorize([endpoint(ROW_IP, NODE, r.conds), endpoint(OTHER_IP, 'node-b', READY)], ETP_LOCAL);
      expect(c).toEqual({
        infos: expect.anything(),
        cluster: r.kind === 'ready' ? [ROW_IP, OTHER_IP] : [OTHER_IP],
        local: r.kind === 'none' ? [] : [ROW_IP],
        // Both chains' endpoints get KUBE-SEP chains.
        reachable: r.kind === 'none' ? [OTHER_IP] : [ROW_IP, OTHER_IP],
        hasAny: true,
      });
    });
  });
});
