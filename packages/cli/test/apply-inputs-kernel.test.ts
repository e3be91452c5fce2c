/**
 * `svcrules apply --state FILE --top-level-chains when-changed` with one JSON list, on the real
 * kernel (real iptables-restore in network namespaces made here and always deleted): the state
 * records the input per object, so the next run compiles and loads only the Services whose objects
 * changed. After every run the host is byte for byte what one full sync of the same input leaves,
 * and each reason not to trust the record (missing, corrupt, another namespace, our canary
 * flushed, kube-proxy present, options changed, an input change the record cannot vouch for)
 * compiles every Service or syncs fully, and says why.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, kernelGate, mustExec, uniqueName } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore']);
const d = kernel.describe;

type Json = Record<string, unknown>;

interface Svc {
  readonly name: string;
  readonly ip: string;
  readonly udp?: boolean;
  readonly nodePort?: number;
  /** Endpoint addresses of its one slice. */
  readonly endpoints: readonly string[];
}

const BASE: readonly Svc[] = [
  { name: 'web', ip: '172.30.0.10', endpoints: ['10.1.0.1', '10.1.0.2', '10.1.0.3'] },
  { name: 'dns', ip: '172.30.0.11', udp: true, nodePort: 30053, endpoints: ['10.1.1.1', '10.1.1.2'] },
  { name: 'api', ip: '172.30.0.12', nodePort: 30080, endpoints: ['10.1.2.1'] },
];

function list(svcs: readonly Svc[], o: { zone?: string; twice?: boolean } = {}): string {
  const items: Json[] = [
    { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'iptables', hostnameOverride: 'node-0', clusterCIDR: '10.0.0.0/8', detectLocalMode: 'ClusterCIDR' },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-0', labels: { 'topology.kubernetes.io/zone': o.zone ?? 'zone-a' } }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }] } },
  ];
  for (const s of svcs) {
    const protocol = s.udp ? 'UDP' : 'TCP';
    const port = { name: 'p', protocol, port: 80, targetPort: 8080, ...(s.nodePort ? { nodePort: s.nodePort } : {}) };
    items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: s.name, namespace: 'ns' }, spec: { type: s.nodePort ? 'NodePort' : 'ClusterIP', clusterIP: s.ip, clusterIPs: [s.ip], ports: [port] } });
    items.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${s.name}-1`, namespace: 'ns', labels: { 'kubernetes.io/service-name': s.name } },
      addressType: 'IPv4',
      endpoints: s.endpoints.map((a) => ({ addresses: [a], conditions: { ready: true }, nodeName: 'node-1' })),
      ports: [{ name: 'p', protocol, port: 8080 }],
    });
  }
  if (o.twice) items.push(items[items.length - 1]!);
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items }, null, 2) + '\n';
}

const withEndpoints = (name: string, endpoints: readonly string[]) => BASE.map((s) => (s.name === name ? { ...s, endpoints } : s));

d('svcrules apply --state: only the changed Services', () => {
  const ns = uniqueName('si');
  const other = uniqueName('sj');
  const reference = uniqueName('sk');
  const dir = mkdtempSync(join(tmpdir(), 'svcr-inputs-'));
  const file = join(dir, 'state');
  const apply = (netns: string, text: string, ...extra: string[]) =>
    runCli(['apply', '--netns', netns, '--state', file, '--top-level-chains', 'when-changed', '--verbose', ...extra, 'in.json'], dir, { files: { 'in.json': text } });
  const save = async (netns: string) => (await mustExec('ip', ['netns', 'exec', netns, 'iptables-save'])).replace(/^#.*\n/gm, '').replace(/svcrules:[0-9a-f]{16}/g, 'svcrules:TOKEN');
  /** The host one full sync of `text` leaves on a fresh namespace, without any state. */
  async function fullSyncOf(text: string, ...extra: string[]): Promise<string> {
    await execFile('ip', ['netns', 'del', reference]);
    await mustExec('ip', ['netns', 'add', reference]);
    const r = await runCli(['apply', '--netns', reference, '--no-state', ...extra, 'in.json'], dir, { files: { 'in.json': text } });
    expect(r).toMatchObject({ code: 0 });
    return save(reference);
  }
  /** Applies `text` in `ns` and checks the host against a full sync; returns what the run said. */
  async function step(text: string, ...extra: string[]): Promise<{ out: string; err: string }> {
    const r = await apply(ns, text, ...extra);
    expect(r.code).toBe(0);
    expect(await save(ns)).toBe(await fullSyncOf(text, ...extra));
    return r;
  }

  beforeAll(async () => {
    for (const n of [ns, other]) await mustExec('ip', ['netns', 'add', n]);
  });
  afterAll(async () => {
    for (const n of [ns, other, reference]) await execFile('ip', ['netns', 'del', n]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('missing: a full sync; then a changed endpoint compiles and loads that Service alone; unchanged input changes nothing', async () => {
    const first = await step(list(BASE));
    expect(first.out).toMatch(new RegExp(`^ipv4: full sync \\(no state file ${file}\\); `));
    expect(first.err).toBe('');
    const moved = await step(list(withEndpoints('web', ['10.1.0.1', '10.1.0.2', '10.1.0.9'])));
    expect(moved.err).toBe('ipv4: 1 Service compiled (changed since the state was saved); the rest as recorded\n');
    expect(moved.out).toBe('ipv4: partial sync; 2 chains written (2 changed); 1 stale chains deleted\n');
    // Same length, one byte different: the digest still tells.
    const sameLength = await step(list(withEndpoints('web', ['10.1.0.1', '10.1.0.2', '10.1.0.8'])));
    expect(sameLength.err).toBe('ipv4: 1 Service compiled (changed since the state was saved); the rest as recorded\n');
    expect(sameLength.out).toMatch(/^ipv4: partial sync; 2 chains written/);
    // A UDP Service losing an endpoint: its conntrack entries are stale.
    const udp = await step(list(withEndpoints('dns', ['10.1.1.1']).map((s) => (s.name === 'web' ? { ...s, endpoints: ['10.1.0.1', '10.1.0.2', '10.1.0.8'] } : s))));
    expect(udp.err).toMatch(/^ipv4: 1 Service compiled/);
    expect(udp.out).toMatch(/^ipv4: partial sync; 1 chains written \(1 changed\); 1 stale chains deleted\n/);
    const again = await apply(ns, list(withEndpoints('dns', ['10.1.1.1']).map((s) => (s.name === 'web' ? { ...s, endpoints: ['10.1.0.1', '10.1.0.2', '10.1.0.8'] } : s))));
    expect(again).toEqual({ code: 0, out: 'ipv4: partial sync; nothing to change\n', err: 'ipv4: 0 Services compiled (changed since the state was saved); the rest as recorded\n' });
  });

  test('input changes the record cannot vouch for compile every Service and say why', async () => {
    const cases: [string, string][] = [
      [list(BASE.map((s) => (s.name === 'api' ? { ...s, ip: '172.30.0.99' } : s))), 'the top-level rules of ns/api change'],
      [list(BASE.filter((s) => s.name !== 'api')), 'the top-level rules of ns/api change'],
      [list(withEndpoints('web', [])), 'the top-level rules of ns/web change'],
      [list(BASE, { zone: 'zone-b' }), 'a Node changed'],
      [list(BASE).replace('"resourceVersion": ""', '"resourceVersion": "7"'), 'the file around the objects changed'],
      [list(BASE).replace('"kind": "List",', '"kind":"List", '), 'the options, the configuration, the Nodes or the file around the objects changed'],
      [list(BASE).replace('"kind": "Node",', '"kind": "Node", '), 'a Node changed'],
    ];
    for (const [text, why] of cases) {
      await apply(ns, list(BASE));
      expect(await apply(ns, list(BASE))).toMatchObject({ code: 0, out: 'ipv4: partial sync; nothing to change\n' });
      const r = await step(text);
      expect(r.err).toBe(`svcrules: note: ipv4: compiling every Service: ${why}\n`);
      expect(r.out).toMatch(/^ipv4: partial sync; /);
    }
    // The same object twice: not trusted, and the whole load refuses the duplicate.
    await apply(ns, list(BASE));
    const twice = await apply(ns, list(BASE, { twice: true }));
    expect(twice.err).toMatch(/^svcrules: note: ipv4: compiling every Service: an object appears twice\n/);
  });

  test('options changed: every Service compiled with the new options', async () => {
    await step(list(BASE));
    const r = await step(list(BASE), '--masquerade-mark', '0x4000');
    expect(r.err).toBe('svcrules: note: ipv4: compiling every Service: the options, the configuration, the Nodes or the file around the objects changed\n');
    expect(r.out).toMatch(/^ipv4: partial sync; \d+ chains written/);
    expect((await apply(ns, list(BASE), '--masquerade-mark', '0x4000')).out).toBe('ipv4: partial sync; nothing to change\n');
  });

  test('corrupt, another namespace, canary flushed: a full sync that says why, never a partial from the record', async () => {
    await step(list(BASE));
    writeFileSync(file, 'svcrules-state 2\n{not json');
    const corrupt = await step(list(withEndpoints('web', ['10.1.0.7'])));
    expect(corrupt.out).toMatch(new RegExp(`^ipv4: full sync \\(state file ${file} is corrupt: truncated \\(no end line\\)\\); `));
    expect(corrupt.err).toBe('');

    const foreign = await apply(other, list(BASE));
    expect(foreign.out).toMatch(/^ipv4: full sync \(state file .* does not belong here: it is for another network namespace/);
    const back = await step(list(withEndpoints('web', ['10.1.0.6'])));
    expect(back.out).toMatch(/^ipv4: full sync \(state file .* does not belong here/);
    expect(back.err).toBe('');

    // Our canary emptied behind our back: the record is not trusted, whatever the input.
    await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-F', 'KUBE-SVCRULES-CANARY']);
    const flushed = await step(list(withEndpoints('web', ['10.1.0.5'])));
    expect(flushed.out).toMatch(/^ipv4: full sync \(the nat table was written since the state was saved \(KUBE-SVCRULES-CANARY holds no token, not svcrules:[0-9a-f]{16}\)\); /);
    expect(flushed.err).toBe('');
    const after = await step(list(withEndpoints('web', ['10.1.0.4'])));
    expect(after.err).toMatch(/^ipv4: 1 Service compiled/);
  });

  test('kube-proxy present: refused and the state dropped; the next run is a full sync', async () => {
    await step(list(BASE));
    await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-N', 'KUBE-PROXY-CANARY']);
    try {
      const refused = await apply(ns, list(withEndpoints('web', ['10.1.0.3'])));
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/^svcrules: refusing to apply: a live kube-proxy owns the ipv4 KUBE-\* chains/);
    } finally {
      await mustExec('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-X', 'KUBE-PROXY-CANARY']);
    }
    const r = await step(list(withEndpoints('web', ['10.1.0.3'])));
    expect(r.out).toMatch(new RegExp(`^ipv4: full sync \\(no state file ${file}\\); `));
  });
});
