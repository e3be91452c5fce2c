import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FIXTURES, repoRoot } from '@svcrules/testkit';
import { run } from '../src/program.js';
import type { CliIO } from '../src/io.js';
import { parseDestination, type TraceJson } from '../src/commands/trace.js';

const EXAMPLE = join(repoRoot(), 'examples', 'basic');
const IPV6_CASE = join(FIXTURES, 'trace', 'upstream', 'TestNodePorts-ipv6-localhost-nodeports-enabled');

/** Runs `svcrules argv` in process in `dir`; `files` are extra in-memory files. */
async function svcrules(argv: string[], dir = EXAMPLE, files: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const io: CliIO = {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    readFile: async (p) => {
      if (p in files) return files[p]!;
      return readFileSync(resolve(dir, p), 'utf8');
    },
    cwd: dir,
    stdoutIsTTY: false,
    env: {},
  };
  const code = await run(argv, io);
  return { out, err, code };
}

async function traceJson(argv: string[], dir?: string, files?: Record<string, string>): Promise<TraceJson> {
  const r = await svcrules(['trace', '--json', ...argv], dir, files);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  return JSON.parse(r.out) as TraceJson;
}

describe('--dst', () => {
  test.each([
    ['10.96.0.1:443', { ip: '10.96.0.1', port: 443, protocol: 'tcp' }],
    ['10.96.0.10:53/udp', { ip: '10.96.0.10', port: 53, protocol: 'udp' }],
    ['10.96.0.10:53/SCTP', { ip: '10.96.0.10', port: 53, protocol: 'sctp' }],
    ['[fd00::1]:80', { ip: 'fd00::1', port: 80, protocol: 'tcp' }],
  ])('%s', (text, want) => expect(parseDestination(text)).toEqual(want));

  test.each(['10.96.0.1', '10.96.0.1:0', '10.96.0.1:65536', '10.96.0.1:80/icmp', 'fd00::1:80', 'web:80', '10.96.0.300:80'])('%s is refused', (text) => {
    expect(() => parseDestination(text)).toThrow(`--dst: "${text}" is not IP:PORT[/tcp|udp|sctp] (IPv6 as [IP]:PORT)`);
  });
});

describe('svcrules trace', () => {
  test('where the packet starts: node for a local source, pod for a pod address, else outside', async () => {
    const node = await traceJson(['--src', '192.168.0.10', '--dst', '10.96.10.10:80', 'services.yaml']);
    expect(node.from).toBe('node');
    expect(node.outcomes[0]!.path[0]).toMatchObject({ hook: 'OUTPUT', table: 'nat', chain: 'OUTPUT' });
    expect((await traceJson(['--src', '10.244.9.9', '--dst', '10.96.10.10:80', 'services.yaml'])).from).toBe('pod');
    expect((await traceJson(['--src', '198.51.100.7', '--dst', '10.96.10.10:80', 'services.yaml'])).from).toBe('external');
    expect((await traceJson(['--from', 'node', '--src', '198.51.100.7', '--dst', '10.96.10.10:80', 'services.yaml'])).outcomes[0]!.path[0]!.hook).toBe('OUTPUT');
  });

  test('the family follows the packet; a contradicting --family is a usage error', async () => {
    const v6 = await traceJson(['--src', 'fd00:10::2', '--dst', '[fd00:172:30::41]:80', ...readFileSync(join(IPV6_CASE, 'compile-args'), 'utf8').trim().split(/\s+/).filter((w) => w !== '--family' && w !== 'ipv6'), 'input.yaml'], IPV6_CASE);
    expect(v6.family).toBe('IPv6');
    expect(v6.outcomes.map((o) => o.destination)).toEqual(['[fd00:10:180::1]:80', '[fd00:10:180::2:1]:80']);
    expect(v6.outcomes[0]!.reasons[0]).toBe('[fd00:172:30::41]:80/tcp is the cluster IP of ns1/svc1:p80');
    const bad = await svcrules(['trace', '--family', 'ipv4', '--src', 'fd00:10::2', '--dst', '[fd00:172:30::41]:80', 'input.yaml'], IPV6_CASE);
    expect(bad).toEqual({ out: '', err: "svcrules: --family ipv4 does not match the packet's addresses (IPv6)\n", code: 2 });
    const mixed = await svcrules(['trace', '--src', '10.0.0.1', '--dst', '[fd00::1]:80', 'services.yaml']);
    expect(mixed).toEqual({ out: '', err: 'svcrules: --src 10.0.0.1 and --dst fd00::1 are of different IP families\n', code: 2 });
  });

  test('--no-hooks traces the restore text as it is: nothing jumps into kube-proxy chains', async () => {
    const r = await traceJson(['--no-hooks', '--src', '10.244.9.9', '--dst', '10.96.10.10:80', 'services.yaml']);
    expect(r.rules.addedHooks).toEqual([]);
    expect(r.outcomes.map((o) => [o.verdict, o.delivery, o.destination, o.path.length])).toEqual([['ACCEPT', 'forward', '10.96.10.10:80', 0]]);
    expect(r.outcomes[0]!.reasons).toEqual(['no kube-proxy rule matched 10.96.10.10:80/tcp: it is not a Service address and port on this node, so the packet is routed on unchanged']);
  });

  test('--rules with snapshot files: node addresses and endpoint names come from the snapshot', async () => {
    const compiled = await svcrules(['compile', 'services.yaml']);
    expect(compiled.code).toBe(0);
    const files = { 'node.rules': compiled.out };
    const r = await traceJson(['--rules', 'node.rules', '--src', '203.0.113.5', '--dst', '192.168.0.10:30036', 'services.yaml'], EXAMPLE, files);
    expect(r.localAddresses).toEqual(['192.168.0.10']);
    expect(r.rules).toMatchObject({ from: 'read from node.rules', node: 'node-1' });
    expect(r.outcomes.map((o) => o.reasons.at(-1))).toEqual(['→ 10.244.1.12:8080 (on node node-1)', '→ 10.244.2.14:8080 (on node node-2)']);
    // Without the node's address the node port is not local: the packet is routed on unchanged.
    const alone = await traceJson(['--rules', 'node.rules', '--src', '203.0.113.5', '--dst', '192.168.0.10:30036'], EXAMPLE, files);
    expect(alone.outcomes.map((o) => [o.verdict, o.delivery, o.destination])).toEqual([['ACCEPT', 'forward', '192.168.0.10:30036']]);
    const local = await traceJson(['--rules', 'node.rules', '--local-address', '192.168.0.10', '--src', '203.0.113.5', '--dst', '192.168.0.10:30036'], EXAMPLE, files);
    expect(local.outcomes.map((o) => o.destination)).toEqual(['10.244.1.12:8080', '10.244.2.14:8080']);
  });

  test('interfaces, source port and mark: labelled branches when unknown, decided when given', async () => {
    const rules = ['*filter', ':FORWARD ACCEPT [0:0]', '-A FORWARD -i cni0 -p tcp --sport 1024:65535 -m mark ! --mark 0x1/0x1 -j DROP', 'COMMIT', ''].join('\n');
    const files = { 'x.rules': rules };
    const base = ['--rules', 'x.rules', '--src', '10.1.1.1', '--dst', '10.2.2.2:80'];
    const open = await traceJson(base, EXAMPLE, files);
    expect(open.outcomes.map((o) => `${o.verdict} | ${o.given.map((g) => `${g.holds ? '+' : '-'}${g.key}`).join(' ')}`)).toEqual([
      'DROP | +in=cni0 +sport=1024:65535',
      'ACCEPT | +in=cni0 -sport=1024:65535',
      'ACCEPT | -in=cni0',
    ]);
    expect(open.scenarios.map((s) => s.outcomes)).toEqual([[0], [1], [2]]);
    const text = await svcrules(['trace', ...base], EXAMPLE, files);
    expect(text.code).toBe(0);
    expect(text.out).toContain("  if the packet arrives on cni0 (unknown: give --in-interface or the node's routes)   [asked by filter FORWARD rule 1]\n");
    const dropped = await traceJson([...base, '--in-interface', 'cni0', '--sport', '40000'], EXAMPLE, files);
    expect(dropped.outcomes.map((o) => o.verdict)).toEqual(['DROP']);
    const marked = await traceJson([...base, '--in-interface', 'cni0', '--sport', '40000', '--mark', '0x1'], EXAMPLE, files);
    expect(marked.outcomes.map((o) => [o.verdict, o.mark])).toEqual([['ACCEPT', '0x1']]);
    expect(await svcrules(['trace', ...base, '--sport', '70000'], EXAMPLE, files)).toMatchObject({ code: 2, err: 'svcrules: --sport: "70000" is not a number in 0-65535\n' });
  });

  test('a REJECT says what it sends: icmp-host-prohibited is "no route to host", not "connection refused"', async () => {
    const files = { 'c.rules': ['*filter', ':FORWARD ACCEPT [0:0]', '-A FORWARD -j REJECT --reject-with icmp-host-prohibited', 'COMMIT', ''].join('\n') };
    const r = await svcrules(['trace', '--rules', 'c.rules', '--src', '203.0.113.5', '--dst', '10.2.2.2:80'], EXAMPLE, files);
    expect(r.out).toContain('    filter FORWARD rule 1 (not a kube-proxy rule) → REJECT with icmp-host-prohibited (the client sees "no route to host", EHOSTUNREACH)\n');
    const j = await traceJson(['--rules', 'c.rules', '--src', '203.0.113.5', '--dst', '10.2.2.2:80/udp'], EXAMPLE, files);
    expect(j.outcomes[0]!.reject).toEqual({ with: 'icmp-host-prohibited', tcp: 'EHOSTUNREACH', udp: 'EHOSTUNREACH', text: 'no route to host' });
  });

  test('a NodePort traced with no node address known suggests --local-address', async () => {
    const compiled = await svcrules(['compile', 'services.yaml']);
    const files = { 'node.rules': compiled.out };
    const r = await svcrules(['trace', '--rules', 'node.rules', '--src', '203.0.113.5', '--dst', '192.168.0.10:30036'], EXAMPLE, files);
    expect(r.out).toContain(
      "port 30036 is a NodePort (default/shop:http), but no address of the node is known, so 192.168.0.10 is not LOCAL and the NodePort rules cannot match: give the node's address with --local-address (or the node's state with --node-state / --ip-addr)",
    );
    const given = await svcrules(['trace', '--rules', 'node.rules', '--local-address', '192.168.0.10', '--src', '203.0.113.5', '--dst', '192.168.0.10:30036'], EXAMPLE, files);
    expect(given.out).not.toContain('--local-address');
  });

  test('node state: ip -j address/route decide interfaces; bad files are located', async () => {
    const rules = ['*filter', ':FORWARD DROP [0:0]', '-A FORWARD -i eth0 -o cni0 -j ACCEPT', 'COMMIT', ''].join('\n');
    const addr = JSON.stringify([
      { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
      { ifindex: 2, ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.0.10', prefixlen: 24 }] },
      { ifindex: 3, ifname: 'cni0', addr_info: [{ family: 'inet', local: '10.244.1.1', prefixlen: 24 }] },
    ]);
    const route = `${JSON.stringify([
      { dst: 'default', gateway: '192.168.0.1', dev: 'eth0' },
      { dst: '10.244.1.0/24', dev: 'cni0', scope: 'link' },
      { type: 'local', dst: '192.168.0.10', dev: 'eth0', table: 'local' },
    ])}\n${JSON.stringify([{ dst: 'fe80::/64', dev: 'eth0' }])}\n`;
    const files = { 'x.rules': rules, 'addr.json': addr, 'route.json': route, 'bad.json': '[{"dst": "default",}]', 'bad2.json': '[{"dst": "10.0.0.300/8"}]' };
    const base = ['--rules', 'x.rules', '--ip-addr', 'addr.json', '--ip-route', 'route.json', '--src', '203.0.113.5'];
    const fwd = await traceJson([...base, '--dst', '10.244.1.7:80'], EXAMPLE, files);
    expect(fwd.outcomes.map((o) => [o.verdict, o.inInterface, o.outInterface, o.given.length])).toEqual([['ACCEPT', 'eth0', 'cni0', 0]]);
    expect(fwd.localAddresses).toEqual(['192.168.0.10', '10.244.1.1']);
    expect(fwd.nodeState).toMatchObject({ from: 'addr.json, route.json', interfaces: 3, routes: 4, ipsets: null });
    const local = await traceJson([...base, '--dst', '192.168.0.10:80'], EXAMPLE, files);
    expect(local.outcomes.map((o) => [o.verdict, o.delivery])).toEqual([['ACCEPT', 'local']]);
    expect(await svcrules(['trace', ...base.slice(0, 4), '--ip-route', 'bad.json', '--src', '1.1.1.1', '--dst', '10.0.0.1:80'], EXAMPLE, files)).toMatchObject({
      code: 1,
      err: expect.stringMatching(/^svcrules: bad\.json:1:20: not valid JSON/),
    });
    expect(await svcrules(['trace', ...base.slice(0, 4), '--ip-route', 'bad2.json', '--src', '1.1.1.1', '--dst', '10.0.0.1:80'], EXAMPLE, files)).toEqual({
      out: '',
      code: 1,
      err: 'svcrules: bad2.json[0].dst: "10.0.0.300/8" is not an address, a network or "default"\n',
    });
  });

  test('ipsets: --ipsets decides -m set; an unknown set stays a labelled branch', async () => {
    const rules = ['*filter', ':FORWARD ACCEPT [0:0]', '-A FORWARD -m set --match-set blocked src -j DROP', '-A FORWARD -m set --match-set svc dst,dst -j REJECT', 'COMMIT', ''].join('\n');
    const sets = ['create blocked hash:net family inet hashsize 1024 maxelem 65536', 'add blocked 203.0.113.0/24', 'add blocked 203.0.113.128/25 nomatch', 'create svc hash:ip,port family inet', 'add svc 10.2.2.2,tcp:80', ''].join('\n');
    const files = { 'x.rules': rules, 'sets.txt': sets, 'bad.txt': 'add nothing 1.2.3.4\n' };
    const t = (src: string, dst: string) => traceJson(['--rules', 'x.rules', '--ipsets', 'sets.txt', '--src', src, '--dst', dst], EXAMPLE, files);
    expect((await t('203.0.113.5', '10.2.2.2:81')).outcomes.map((o) => o.verdict)).toEqual(['DROP']);
    expect((await t('203.0.113.200', '10.2.2.2:81')).outcomes.map((o) => o.verdict)).toEqual(['ACCEPT']);
    expect((await t('198.51.100.1', '10.2.2.2:80')).outcomes.map((o) => o.verdict)).toEqual(['REJECT']);
    expect(await svcrules(['trace', '--rules', 'x.rules', '--ipsets', 'bad.txt', '--src', '1.1.1.1', '--dst', '10.0.0.1:80'], EXAMPLE, files)).toEqual({
      out: '',
      code: 1,
      err: 'svcrules: bad.txt:1: "add" to set nothing, which no earlier "create" declared\n',
    });
  });

  test('bad input is reported, not thrown', async () => {
    expect(await svcrules(['trace', '--src', '10.0.0.1', '--dst', '10.96.0.1:80'])).toEqual({
      out: '',
      err: 'svcrules: no input: give snapshot files to compile, --rules FILE, or --node-state FILE\n',
      code: 2,
    });
    expect(await svcrules(['trace', '--src', 'ten', '--dst', '10.96.0.1:80', 'services.yaml'])).toMatchObject({ code: 2, err: 'svcrules: --src: "ten" is not an IP address\n' });
    expect(await svcrules(['trace', '--rules', 'missing.rules', '--src', '10.0.0.1', '--dst', '10.96.0.1:80'])).toMatchObject({
      code: 1,
      err: 'svcrules: --rules: cannot read missing.rules: no such file\n',
    });
    const broken = await svcrules(['trace', '--rules', 'b.rules', '--src', '10.0.0.1', '--dst', '10.96.0.1:80'], EXAMPLE, { 'b.rules': '*filter\n-A FORWARD -j "ACCEPT\nCOMMIT\n' });
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/^svcrules: b\.rules:2:\d+: /);
    expect((await svcrules(['trace', '--src', '10.0.0.1', '--dst', '10.96.0.1:80', '--from', 'moon', 'services.yaml'])).code).toBe(2);
  });
});
