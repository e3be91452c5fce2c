/**
 * `migrate` on kube-proxy's TestOverallIPTablesRules snapshot and on every feature fixture: each
 * difference has a reason, the differences are exactly the ones the nftables KEP documents for what
 * the fixture holds, and nothing else (the kernel check is migrate-kernel.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate, type MigrateReport, type Snapshot } from '@svcrules/core';
import { loadSnapshot } from '@svcrules/snapshot';
import { FIXTURES, findCases } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

/** The fixture's snapshot and the compile flags of its cmd that migrate shares. */
function load(dir: string): { snapshot: Snapshot; family: 'IPv4' | 'IPv6'; interfaceAddresses?: string[] } {
  const cmd = readFileSync(join(dir, 'cmd'), 'utf8').trim().split(/\s+/);
  const files = cmd.filter((t) => /\.(ya?ml|json)$/.test(t));
  const loaded = loadSnapshot(files.map((f) => ({ name: f, text: readFileSync(join(dir, f), 'utf8') })), { skipInvalid: true });
  const interfaceAddresses = cmd.flatMap((t, i) => (cmd[i - 1] === '--interface-address' ? [t] : []));
  return { snapshot: loaded.snapshot, family: cmd.includes('ipv6') ? 'IPv6' : 'IPv4', ...(interfaceAddresses.length > 0 ? { interfaceAddresses } : {}) };
}

const features = findCases(join(FIXTURES, 'compile'), 'cmd').filter((d) => /\/feature-/.test(d));
const UPSTREAM = join(FIXTURES, 'compile', 'upstream', 'TestOverallIPTablesRules');

/** The KEP's differences that depend on more than the fixture's shape: the fixtures that show them. */
const SHOWN_BY: Readonly<Record<string, readonly string[]>> = {
  'no-endpoints-from-node': ['feature-duplicate-external-ips', 'feature-etp-local-healthcheck', 'feature-externalips', 'feature-loadbalancer'],
  'source-ranges-without-endpoints': ['feature-loadbalancer-source-ranges'],
  'masquerade-all-section': ['feature-masquerade-all'],
  'node-port-addresses-primary': [],
  'unallocated-cluster-ip': [],
};

function report(dir: string): MigrateReport {
  const { snapshot, ...options } = load(dir);
  return migrate(snapshot, dir === UPSTREAM ? { ...options, masqueradeMark: '0x4000' } : options);
}

describe.each([UPSTREAM, ...features].map((d) => [d.slice(d.lastIndexOf('/') + 1), d]))('migrate %s', (name, dir) => {
  const r = report(dir);
  const ids = (id: string) => r.differences.filter((d) => d.reason?.id === id);

  test('every difference is explained', () => {
    expect(r.differences.filter((d) => d.reason === null).map((d) => d.flow)).toEqual([]);
  });

  test('each cluster IP: its unused port is rejected in nftables mode only', () => {
    const clusterIPs = new Set(r.flows.filter((f) => f.kind === 'unused-port').map((f) => f.dst));
    expect(new Set(ids('unused-cluster-ip-port').map((d) => d.flow.dst))).toEqual(clusterIPs);
  });

  test('localhost node ports: differ exactly where iptables mode serves them', () => {
    const { snapshot, family } = load(dir);
    const cfg = snapshot.config;
    const loopbackIncluded = (cfg?.nodePortAddresses ?? []).length === 0 || (cfg?.nodePortAddresses ?? []).some((c) => c.startsWith('127.') || c === '0.0.0.0/0');
    const served = family === 'IPv4' && (cfg?.localhostNodePorts ?? true) && loopbackIncluded;
    const localhost = r.flows.filter((f) => f.kind === 'localhost-node-port');
    expect(ids('localhost-node-ports').length).toBe(served ? localhost.length : 0);
  });

  test('health-check node ports: each one loses its accept rule', () => {
    expect(ids('health-check-node-port').map((d) => d.flow.dport).sort()).toEqual(r.flows.filter((f) => f.kind === 'health-check').map((f) => f.dport).sort());
  });

  test('the other documented differences appear only where the fixture has them', () => {
    for (const [id, shownBy] of Object.entries(SHOWN_BY)) expect([id, ids(id).length > 0]).toEqual([id, shownBy.includes(name)]);
  });

  test('nothing else: flows to served ports agree unless a rule above explains them', () => {
    const explained = new Set(Object.keys(SHOWN_BY).concat('unused-cluster-ip-port', 'localhost-node-ports', 'health-check-node-port'));
    expect(r.differences.filter((d) => !explained.has(d.reason!.id))).toEqual([]);
  });
});

describe('migrate: node ports on a second node address (nodePortAddresses unset)', () => {
  const dir = join(FIXTURES, 'migrate', 'node-addresses');
  test('served on both addresses in iptables mode, only on the primary one in nftables mode', () => {
    const { snapshot } = load(dir);
    const r = migrate(snapshot, { interfaceAddresses: ['192.168.0.2', '192.168.1.2'] });
    const primary = r.differences.filter((d) => d.reason?.id === 'node-port-addresses-primary');
    expect(primary.map((d) => `${d.flow.from} ${d.flow.dst}`).sort()).toEqual(['external 192.168.1.2', 'node 192.168.1.2', 'pod 192.168.1.2']);
    expect(primary[0]!.reason!.keep).toMatch(/nodePortAddresses: \["0\.0\.0\.0\/0"\]/);
  });

  test('the suggested configuration keeps the behaviour: no node-port difference remains', () => {
    const { snapshot } = load(dir);
    const fixed: Snapshot = { ...snapshot, config: { ...snapshot.config, nodePortAddresses: ['0.0.0.0/0'] } };
    const r = migrate(fixed, { interfaceAddresses: ['192.168.0.2', '192.168.1.2'] });
    expect(r.differences.filter((d) => d.flow.kind === 'node-port')).toEqual([]);
  });
});

describe('migrate: unallocated addresses of the service CIDRs', () => {
  const unallocated = (r: MigrateReport) => r.differences.filter((d) => d.reason?.id === 'unallocated-cluster-ip');

  test('--service-cidr: one flow per CIDR of the family, to an address no Service holds, dropped in nftables mode only', () => {
    const { snapshot } = load(UPSTREAM);
    const r = migrate(snapshot, { serviceCIDRs: ['172.30.0.0/16', '10.96.0.0/12', 'fd00:30::/112'] });
    const flows = r.flows.filter((f) => f.kind === 'unallocated-cluster-ip');
    expect(flows.map((f) => f.dst)).toEqual(['10.96.0.1', '172.30.0.1']);
    expect(unallocated(r).map((d) => d.flow)).toEqual(flows);
    for (const d of unallocated(r)) {
      expect(['error' in d.nftables ? d.nftables.error : d.nftables.text, 'error' in d.iptables ? d.iptables.error : d.iptables.text]).toEqual(['dropped', 'accepted, forwarded untranslated']);
      expect(snapshot.services.some((s) => s.clusterIPs.includes(d.flow.dst))).toBe(false);
    }
  });

  test('addresses Services hold are skipped; a CIDR without a free address gives no flow', () => {
    const { snapshot } = load(UPSTREAM);
    const kinds = (r: MigrateReport) => r.flows.filter((f) => f.kind === 'unallocated-cluster-ip').map((f) => f.dst);
    // 172.30.0.40/29: .41-.46 are usable (.47 is the broadcast address) and all are cluster IPs.
    expect(kinds(migrate(snapshot, { serviceCIDRs: ['172.30.0.40/29'] }))).toEqual([]);
    const without44 = { ...snapshot, services: snapshot.services.filter((s) => s.clusterIP !== '172.30.0.44') };
    expect(kinds(migrate(without44, { serviceCIDRs: ['172.30.0.40/29'] }))).toEqual(['172.30.0.44']);
  });

  test('ServiceCIDR objects count as the CIDRs; without any, no such flow', () => {
    const { snapshot } = load(join(FIXTURES, 'migrate', 'service-cidr'));
    expect(unallocated(migrate(snapshot)).map((d) => d.flow.dst)).toEqual(['172.30.0.1']);
    expect(migrate({ ...snapshot, serviceCIDRs: [] }).flows.filter((f) => f.kind === 'unallocated-cluster-ip')).toEqual([]);
  });
});

describe('migrate: masqueradeAll', () => {
  test('the suggested nftables section keeps the behaviour', () => {
    const { snapshot } = load(join(FIXTURES, 'compile', 'feature-masquerade-all'));
    const before = migrate(snapshot);
    expect(before.differences.some((d) => d.reason?.id === 'masquerade-all-section')).toBe(true);
    const after = migrate({ ...snapshot, config: { ...snapshot.config, nftables: { masqueradeAll: true } } });
    expect(after.differences.filter((d) => d.reason?.id === 'masquerade-all-section')).toEqual([]);
  });
});

describe('svcrules migrate (CLI)', () => {
  test('bad input: exit 1 with the object named, nothing on stdout', async () => {
    const r = await runCli(['migrate', 'in.yaml'], '/', { files: { 'in.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: b\nspec:\n  clusterIP: 10.0.0.1\n  ports:\n  - port: 99999\n' } });
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/b\/a/);
  });

  test('a bad --pod-ip is a usage error', async () => {
    const r = await runCli(['migrate', '--pod-ip', 'nope', 'in.yaml'], '/', { files: { 'in.yaml': '' } });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--pod-ip: "nope"/);
  });

  test('exit 0 with differences found; --json is the same report', async () => {
    const dir = join(FIXTURES, 'migrate', 'node-addresses');
    const args = ['--interface-address', '192.168.0.2', '--interface-address', '192.168.1.2', 'input.yaml'];
    const text = await runCli(['migrate', ...args], dir);
    const json = await runCli(['migrate', '--json', ...args], dir);
    expect([text.code, json.code]).toEqual([0, 0]);
    const parsed = JSON.parse(json.out) as { differences: { reason: { id: string } }[] };
    expect(parsed.differences.map((d) => d.reason.id)).toEqual([...text.out.matchAll(/why \(([a-z-]+)\)/g)].map((m) => m[1]));
  });
});
