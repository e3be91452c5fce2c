/**
 * The nftables applier in an ip6 table on the real kernel: a node namespace and a pod namespace
 * joined by a veth pair, the pod holding the endpoint addresses and answering with the address it
 * was reached at. The compiled ip6 `kube-proxy` table is applied (a staged first sync, forced at
 * this size by `stagedLoadAbove: 0`), partially synced (an endpoint moves, then the Service loses
 * its endpoints), and after each step TCP connections from the node to the v6 ClusterIP reach
 * exactly the endpoints compiled; the ip family's tables stay as they were.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { compileNFTables, type Snapshot } from '@svcrules/core';
import { createNetns, deleteNetns, kernelGate, mustRunIn } from '@svcrules/testkit';
import { createExecNftHost, createNftApplier } from '../src/index.js';
import { endpoints, service, slice, snapshot } from './helpers.js';

const kernel = kernelGate(['ip', 'nft']);

const CLUSTER_IP = 'fd00:172:30::1';
const EPS = ['fd00:10:180::1', 'fd00:10:180::2', 'fd00:10:180::3'];

// Answers every connection on port 8080 with the address it was reached at.
const SERVER = `require('net').createServer((s) => { s.on('error', () => {}); s.end(s.localAddress + '\\n'); }).listen(8080, '::', () => process.stdout.write('ready\\n'));`;
// Connects `count` times to [host]:port; prints one line per attempt: the answer, the error code or TIMEOUT after `ms`.
const CLIENT = `const [host, port, count, ms] = process.argv.slice(1);
const one = () => new Promise((done) => { let d = ''; const s = require('net').connect({ host, port: Number(port) });
  const t = setTimeout(() => { s.destroy(); done('TIMEOUT'); }, Number(ms));
  s.on('data', (b) => (d += b)); s.on('end', () => { clearTimeout(t); done(d.trim()); }); s.on('error', (e) => { clearTimeout(t); done(e.code); }); });
(async () => { for (let i = 0; i < Number(count); i++) console.log(await one()); })();`;

function snap(eps: readonly string[]): Snapshot {
  const svc = service('ns1', 'web', CLUSTER_IP, { ipFamilies: ['IPv6'], clusterIPs: [CLUSTER_IP], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 0 }] });
  return snapshot([svc], [slice(svc, endpoints(eps))], true);
}

function ip6Table(s: Snapshot) {
  const r = compileNFTables(s, { family: 'IPv6', proxyMode: 'nftables', serviceCIDRs: ['fd00:172:30::/112'] });
  expect(r.ruleset.table).toEqual({ family: 'ip6', name: 'kube-proxy', comment: 'rules for kube-proxy' });
  return r.ruleset;
}

/** The answers (sorted, distinct) or errors of `count` connections from the node to the ClusterIP. */
function reached(node: string, count: number, ms = 700): string[] {
  const out = mustRunIn(node, process.execPath, ['-e', CLIENT, CLUSTER_IP, '80', String(count), String(ms)]);
  return [...new Set(out.trim().split('\n'))].sort();
}

kernel.describe('nftables applier, ip6 table, on the real kernel', () => {
  let node = '';
  let pod = '';
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    node = createNetns('nf6n');
    pod = createNetns('nf6p');
    mustRunIn(node, 'ip', ['link', 'add', 'v6n', 'type', 'veth', 'peer', 'name', 'v6p', 'netns', pod]);
    for (const [ns, dev] of [[node, 'v6n'], [pod, 'v6p']] as const) {
      mustRunIn(ns, 'ip', ['link', 'set', 'lo', 'up']);
      mustRunIn(ns, 'ip', ['link', 'set', dev, 'up']);
    }
    mustRunIn(node, 'ip', ['-6', 'addr', 'add', 'fd00:1::1/64', 'dev', 'v6n', 'nodad']);
    mustRunIn(pod, 'ip', ['-6', 'addr', 'add', 'fd00:1::2/64', 'dev', 'v6p', 'nodad']);
    for (const ep of EPS) mustRunIn(pod, 'ip', ['-6', 'addr', 'add', `${ep}/128`, 'dev', 'lo']);
    // The node reaches the ClusterIP range and the pods through the veth; the pod answers back the same way.
    mustRunIn(node, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:1::2']);
    mustRunIn(pod, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:1::1']);
    server = spawn('ip', ['netns', 'exec', pod, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }, 30_000);

  afterAll(() => {
    server?.kill();
    if (node) deleteNetns(node);
    if (pod) deleteNetns(pod);
  });

  test('apply, partial syncs, and packets to the v6 ClusterIP after each; the ip family untouched', async () => {
    mustRunIn(node, 'nft', ['-f', '-'], { input: 'add table ip kube-proxy\nadd chain ip kube-proxy mine\n' });
    const ipBefore = mustRunIn(node, 'nft', ['list', 'table', 'ip', 'kube-proxy']);
    // Before any table: nothing answers at the ClusterIP (the pod does not hold it).
    expect(reached(node, 1)).not.toContain(CLUSTER_IP);
    const clock = { now: 1_000_000 };
    const applier = createNftApplier({ host: createExecNftHost({ netns: node }), family: 'ipv6', clock: () => clock.now, stagedLoadAbove: 0 });

    const first = await applier.apply(ip6Table(snap(EPS.slice(0, 2))));
    expect(first.mode).toBe('full');
    expect(first.transaction).not.toMatch(/^delete table/m);
    expect(mustRunIn(node, 'nft', ['list', 'table', 'ip6', 'kube-proxy'])).toContain(`ip6 daddr . meta l4proto . th dport vmap @service-ips`);
    expect(reached(node, 16)).toEqual(EPS.slice(0, 2));

    clock.now += 2000;
    const moved = await applier.apply(ip6Table(snap([EPS[0]!, EPS[2]!])));
    expect(moved).toMatchObject({ mode: 'partial', applied: true });
    expect(moved.transaction).toMatch(/^flush chain ip6 kube-proxy service-/m);
    expect(reached(node, 16)).toEqual([EPS[0]!, EPS[2]!]);

    clock.now += 2000;
    const none = await applier.apply(ip6Table(snap([])));
    expect(none.mode).toBe('partial');
    expect(none.transaction).toMatch(/^add element ip6 kube-proxy no-endpoint-services \{ fd00:172:30::1 \. tcp \. 80 comment "ns1\/web:http" : goto reject-chain }$/m);
    // kube-proxy rejects connections to a Service without endpoints (ICMPv6 port unreachable; the
    // kernel may drop the first error, so the wait covers a SYN retransmission; a drop times out).
    expect(reached(node, 1, 2500)).toEqual(['ECONNREFUSED']);

    const again = await applier.apply(ip6Table(snap([])));
    expect(again).toMatchObject({ mode: 'partial', transaction: '' });
    expect(mustRunIn(node, 'nft', ['list', 'table', 'ip', 'kube-proxy'])).toBe(ipBefore);
  }, 60_000);
});
