import fc from 'fast-check';
import { checkRuleset, parseRuleset } from '@svcrules/iptables';
import { parseDump, renderDump } from '@svcrules/nftables';
import { scaledRuns } from '@svcrules/testkit';
import { run } from '../src/program.js';
import type { CliIO } from '../src/io.js';

/**
 * No input can inject a rule: hostile text in any string field that reaches the output is either
 * refused (with a diagnostic, exit 1, nothing on stdout) or comes out as harmless words.
 */
const hostile = fc.oneof(
  fc.constantFrom(
    'a" -j ACCEPT "',
    'x\n-A KUBE-SERVICES -j ACCEPT',
    'p80 cluster IP" -j DNAT --to-destination 6.6.6.6:1 -m comment --comment "',
    'COMMIT\n*filter',
    "it's",
    'back\\slash',
    'tab\there',
    'ünïcode',
    '-X KUBE-SERVICES',
    '10.0.0.1 -j ACCEPT',
    '10.0.0.0/8" ! -s "1.1.1.1',
    'veth+ -j ACCEPT',
    ' ',
    '',
    'a'.repeat(300),
  ),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

type Path = (string | number)[];
const FIELDS: Path[] = [
  [0, 'metadata', 'name'],
  [0, 'metadata', 'namespace'],
  [0, 'spec', 'clusterIP'],
  [0, 'spec', 'clusterIPs', 0],
  [0, 'spec', 'ports', 0, 'name'],
  [0, 'spec', 'ports', 0, 'protocol'],
  [0, 'spec', 'externalIPs', 0],
  [0, 'spec', 'loadBalancerSourceRanges', 0],
  [0, 'status', 'loadBalancer', 'ingress', 0, 'ip'],
  [1, 'metadata', 'labels', 'kubernetes.io/service-name'],
  [1, 'ports', 0, 'name'],
  [1, 'endpoints', 0, 'addresses', 0],
  [1, 'endpoints', 0, 'nodeName'],
  [1, 'endpoints', 0, 'hints', 'forZones', 0, 'name'],
  [2, 'metadata', 'name'],
  [2, 'status', 'addresses', 0, 'address'],
  [3, 'hostnameOverride'],
  [3, 'clusterCIDR'],
  [3, 'detectLocal', 'interfaceNamePrefix'],
  [3, 'detectLocal', 'bridgeInterface'],
  [3, 'nodePortAddresses', 0],
];

function objects() {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'svc1', namespace: 'ns1' },
      spec: {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.41',
        clusterIPs: ['172.30.0.41'],
        ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }],
        externalIPs: ['192.168.99.11'],
        loadBalancerSourceRanges: ['203.0.113.0/25'],
      },
      status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'svc1-abc', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } },
      addressType: 'IPv4',
      ports: [{ name: 'p80', port: 80, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.180.0.1'], nodeName: 'test-node', hints: { forZones: [{ name: 'zone-a' }] } }],
    },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'test-node' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.2' }] } },
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      hostnameOverride: 'test-node',
      clusterCIDR: '10.0.0.0/8',
      detectLocalMode: 'ClusterCIDR',
      detectLocal: { interfaceNamePrefix: 'veth', bridgeInterface: 'cbr0' },
      nodePortAddresses: ['192.168.0.0/16'],
    },
  ];
}

function setPath(root: unknown[], path: Path, value: string): void {
  let o = root as unknown as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path[path.length - 1]!] = value;
}

async function compileText(text: string, extra: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: (s) => void (out += s), stderr: (s) => void (err += s), readFile: async () => text, cwd: '/', stdoutIsTTY: false, env: {} };
  const code = await run(['compile', ...extra, 'input.json'], io);
  return { out, err, code };
}

/** Never an internal error; a refusal is exit 1 with nothing on stdout and a file:line:column. */
function refused(r: { out: string; err: string; code: number }): boolean {
  expect(r.err).not.toMatch(/internal error/);
  if (r.code === 0) return false;
  expect(r.code).toBe(1);
  expect(r.out).toBe('');
  expect(r.err).toMatch(/input\.json:\d+:\d+/);
  return true;
}

describe('no input can inject into the restore text', () => {
  test('the unmodified input compiles (the property below starts from valid input)', async () => {
    const r = await compileText(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects() }), []);
    expect(r.code).toBe(0);
    expect(r.out).toContain('KUBE-FW-XPGD46QRK7WJZT7O');
  });

  test('hostile text in any field is refused or harmless', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FIELDS), hostile, fc.boolean(), async (path, value, skipInvalid) => {
        const objs = objects();
        setPath(objs, path, value);
        // kubectl -o json: JSON escapes carry quotes, newlines and control characters into the strings.
        const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }, null, 1);
        const r = await compileText(text, skipInvalid ? ['--skip-invalid'] : []);
        if (refused(r)) return;
        const parsed = parseRuleset(r.out);
        expect(checkRuleset(parsed)).toEqual([]);
        const lines = r.out.split('\n').filter((l) => l !== '');
        const commands = parsed.tables.reduce((n, t) => n + t.chains.length + t.commands.length + 2, 0);
        expect(lines).toHaveLength(commands);
        // Nothing but kube-proxy's own targets, and no DNAT anywhere but to the real endpoint.
        for (const l of lines.filter((x) => x.includes('--to-destination'))) expect(l).toMatch(/--to-destination 10\.180\.0\.1:80$/);
        expect(r.out).not.toContain('6.6.6.6');
        expect(lines.filter((l) => / -j ACCEPT$/.test(l)).every((l) => /KUBE-(FORWARD|NODEPORTS) /.test(l))).toBe(true);
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });
});

/** What could end an nft command, open a block, name a set or a variable, or add a verdict. */
const hostileNft = fc.oneof(
  hostile,
  fc.constantFrom(
    'a } drop',
    '1.2.3.4 ; flush ruleset',
    'x\nflush ruleset',
    'p80 # rest',
    '$var',
    '@cluster-ips',
    'goto reject-chain',
    '10.0.0.0/8 } accept {',
    'veth* accept',
    'a" ; flush ruleset ; "',
    '172.30.0.0/16,0.0.0.0/0',
    '6.6.6.6:1',
  ),
);

const NFT_FIELDS: Path[] = [...FIELDS, [4, 'metadata', 'name'], [4, 'spec', 'cidrs', 0]];

function nftObjects() {
  return [...objects(), { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['172.30.0.0/16'] } }];
}

describe('no input can inject into the nft text (--mode nftables)', () => {
  const compileNft = (objs: unknown[], extra: string[]) =>
    compileText(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }, null, 1), ['--mode', 'nftables', ...extra]);

  test('the unmodified input compiles', async () => {
    const r = await compileNft(nftObjects(), []);
    expect(r.code).toBe(0);
    expect(r.out).toContain('add rule ip kube-proxy firewall-ULMVA6XW-ns1/svc1/tcp/p80 ip saddr != { 203.0.113.0/25 } drop');
  });

  test('hostile text in any field is refused or harmless', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...NFT_FIELDS), hostileNft, fc.boolean(), async (path, value, skipInvalid) => {
        const objs = nftObjects();
        setPath(objs, path, value);
        const r = await compileNft(objs, skipInvalid ? ['--skip-invalid'] : []);
        if (refused(r)) return;
        // The strict parser reads one command per line back to the same text: no line became two.
        expect(renderDump(parseDump(r.out))).toBe(r.out);
        const lines = r.out.split('\n').filter((l) => l !== '');
        expect(lines.every((l) => l.startsWith('add '))).toBe(true);
        for (const l of lines.filter((x) => x.includes(' dnat to '))) expect(l).toMatch(/ dnat to 10\.180\.0\.1:80$/);
        expect(r.out).not.toContain('6.6.6.6');
        // Outside kube-proxy's own comments, no verdict or command it never writes.
        const bare = r.out.replace(/ comment "[^"]*"/g, '');
        expect(bare).not.toMatch(/\baccept\b|flush|\$/);
        // The service CIDR stays one CIDR: nothing else joins the drop of unallocated cluster IPs.
        for (const l of lines.filter((x) => x.includes('unallocated'))) expect(l).toMatch(/ip daddr \{ [0-9./]+ \} drop comment/);
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });
});
