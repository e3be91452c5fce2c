/**
 * A one-node "cluster" made of network namespaces, for tests that need real kernel traffic:
 *
 *   client ns (203.0.113.10, .200) --veth-- node ns (192.168.0.2) --veth--> pod ns (10.180.0.x), ...
 *
 * Pods are routed /32s behind the node (every packet crosses the node's netfilter, like a routed CNI):
 * each pod's eth0 holds its IP, its default route points at the node IP on the veth; the node routes
 * each pod IP to its veth. Each pod runs a tiny TCP and UDP server answering `<pod name> <source it
 * saw>`. The client namespace reaches the node IP (and LoadBalancer/external IPs) via the node.
 *
 * Nothing is created in the machine's own namespace: every link is made with `ip -n NS`. `destroy()`
 * kills the servers it started and deletes every namespace it created, even after a failed create.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args` (no shell) and collects its output; never rejects for a non-zero exit. */
export function execFile(cmd: string, args: readonly string[], stdin?: string, env?: Record<string, string>): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { shell: false, env: env ? { ...process.env, ...env } : process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}

/** Like execFile, but rejects with the command and its stderr on a non-zero exit. */
export async function mustExec(cmd: string, args: readonly string[], stdin?: string): Promise<string> {
  const r = await execFile(cmd, args, stdin);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Which of `commands` are missing on this machine (tests skip with a message naming them). */
export async function missingCommands(commands: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const c of commands) {
    const r = await execFile('sh', ['-c', 'command -v "$1"', 'sh', c]).catch(() => ({ code: 1 }));
    if (r.code !== 0) missing.push(c);
  }
  return missing;
}

/**
 * Synchronous check for `describe`-time skipping: root, the commands, and a namespace that can be
 * created. Returns undefined when everything is there, else the reason to print with the skip.
 */
export function netnsSkipReason(commands: readonly string[] = ['ip', 'iptables', 'iptables-save', 'iptables-restore']): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  const missing = commands.filter((c) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', c]).status !== 0);
  if (missing.length > 0) return `missing commands: ${missing.join(', ')}`;
  const name = uniqueName('probe');
  if (spawnSync('ip', ['netns', 'add', name]).status !== 0) return 'cannot create network namespaces';
  spawnSync('ip', ['netns', 'del', name]);
  return undefined;
}

/** Whether this process may create network namespaces (root with CAP_SYS_ADMIN). */
export async function canCreateNetns(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const name = uniqueName('probe');
  const r = await execFile('ip', ['netns', 'add', name]).catch(() => ({ code: 1 }));
  if (r.code !== 0) return false;
  await execFile('ip', ['netns', 'del', name]);
  return true;
}

/** `svcr-<pid>-<random>-<suffix>`: unique per test process and per call. */
export function uniqueName(suffix: string): string {
  return `svcr-${process.pid}-${randomBytes(3).toString('hex')}-${suffix}`;
}

export interface PodSpec {
  readonly name: string;
  /** IPv4 address of the pod, e.g. 10.180.0.1. */
  readonly ip: string;
  readonly tcpPorts?: readonly number[];
  readonly udpPorts?: readonly number[];
}

export interface ClusterSpec {
  readonly pods: readonly PodSpec[];
}

export interface Probe {
  readonly proto: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
  /** Attempts (each a new connection / a new socket). Default 1. */
  readonly count?: number;
  /** Per attempt. Default 1500 ms. */
  readonly timeoutMs?: number;
  readonly localAddress?: string;
  /** Fixed source port (UDP flows that must look like one conntrack entry). */
  readonly localPort?: number;
}

/** One attempt's outcome: the answering pod and the source it saw, or the error (ECONNREFUSED, TIMEOUT, ...). */
export type ProbeResult = { readonly ok: true; readonly pod: string; readonly source: string } | { readonly ok: false; readonly error: string };

const SERVER_JS = String.raw`
const net = require('net'), dgram = require('dgram');
const [name, tcp, udp] = process.argv.slice(2);
const ports = (s) => (s ? s.split(',').filter(Boolean).map(Number) : []);
const plain = (a) => a.replace(/^::ffff:/, '');
let pending = 0;
const done = () => { if (--pending === 0) process.stdout.write('ready\n'); };
for (const p of ports(tcp)) {
  pending++;
  net.createServer((s) => { s.on('error', () => {}); s.end(name + ' ' + plain(s.remoteAddress) + '\n'); }).listen(p, '0.0.0.0', done);
}
for (const p of ports(udp)) {
  pending++;
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(name + ' ' + plain(r.address) + '\n', r.port, r.address));
  u.bind(p, '0.0.0.0', done);
}
if (pending === 0) process.stdout.write('ready\n');
`;

const CLIENT_JS = String.raw`
const net = require('net'), dgram = require('dgram');
const probe = JSON.parse(process.argv[2]);
const timeout = probe.timeoutMs ?? 1500;
function parse(text) { const [pod, source] = text.trim().split(' '); return { ok: true, pod, source }; }
function tcp() {
  return new Promise((resolve) => {
    let data = '', settled = false;
    const finish = (r) => { if (!settled) { settled = true; clearTimeout(t); s.destroy(); resolve(r); } };
    const opts = { host: probe.host, port: probe.port };
    if (probe.localAddress) opts.localAddress = probe.localAddress;
    if (probe.localPort) opts.localPort = probe.localPort;
    const s = net.connect(opts);
    const t = setTimeout(() => finish({ ok: false, error: 'TIMEOUT' }), timeout);
    s.on('data', (d) => (data += d));
    s.on('end', () => finish(data ? parse(data) : { ok: false, error: 'EMPTY' }));
    s.on('error', (e) => finish({ ok: false, error: e.code || String(e) }));
  });
}
function udp() {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    let settled = false;
    const finish = (r) => { if (!settled) { settled = true; clearTimeout(t); try { u.close(); } catch {} resolve(r); } };
    const t = setTimeout(() => finish({ ok: false, error: 'TIMEOUT' }), timeout);
    u.on('message', (m) => finish(parse(m.toString())));
    u.on('error', (e) => finish({ ok: false, error: e.code || String(e) }));
    u.bind({ address: probe.localAddress || '0.0.0.0', port: probe.localPort || 0 }, () => {
      u.connect(probe.port, probe.host, (e) => { if (e) return finish({ ok: false, error: e.code }); u.send('ping'); });
    });
  });
}
(async () => {
  const out = [];
  for (let i = 0; i < (probe.count ?? 1); i++) out.push(await (probe.proto === 'udp' ? udp() : tcp()));
  process.stdout.write(JSON.stringify(out));
})();
`;

export const NODE_NAME = 'test-node';
export const NODE_IP = '192.168.0.2';
export const CLIENT_IPS = ['203.0.113.10', '203.0.113.200'] as const;
const CLIENT_GW = '203.0.113.1';

/**
 * Namespaces, servers and a scratch directory a test created, with what every topology needs: make a
 * namespace, start a server in one, probe from one, and tear everything down.
 */
export class NetnsLab {
  protected readonly servers: ChildProcess[] = [];
  protected readonly namespaces: string[] = [];
  protected readonly dir: string;

  protected constructor(readonly id: string) {
    this.dir = mkdtempSync(join(tmpdir(), `${id}-`));
    writeFileSync(join(this.dir, 'server.cjs'), SERVER_JS);
    writeFileSync(join(this.dir, 'client.cjs'), CLIENT_JS);
  }

  protected async addNs(name: string): Promise<void> {
    await mustExec('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await mustExec('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /** Starts a server in `ns` answering `<name> <source>` on the ports; resolves once it listens. */
  protected startServer(ns: string, name: string, tcpPorts: readonly number[], udpPorts: readonly number[]): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(this.dir, 'server.cjs'), name, tcpPorts.join(','), udpPorts.join(',')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.servers.push(child);
    return new Promise((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`server ${name} did not start: ${err}`)), 10_000);
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      child.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`server ${name} exited ${code}: ${err}`));
      });
    });
  }

  /** Runs a command inside namespace `ns`. */
  exec(ns: string, cmd: string, args: readonly string[], stdin?: string): Promise<ExecResult> {
    return execFile('ip', ['netns', 'exec', ns, cmd, ...args], stdin);
  }

  /** Sends `probe` from namespace `ns`; one result per attempt. */
  async probe(ns: string, probe: Probe): Promise<ProbeResult[]> {
    const r = await this.exec(ns, process.execPath, [join(this.dir, 'client.cjs'), JSON.stringify(probe)]);
    if (r.code !== 0) throw new Error(`probe from ${ns} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as ProbeResult[];
  }

  /** Kills the servers and deletes every namespace this lab created. Safe to call twice. */
  async destroy(): Promise<void> {
    for (const s of this.servers.splice(0)) {
      if (s.exitCode === null && s.signalCode === null) {
        const exited = new Promise<void>((r) => s.once('exit', () => r()));
        s.kill('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      }
    }
    for (const ns of this.namespaces.splice(0).reverse()) await execFile('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class NetnsCluster extends NetnsLab {
  readonly node: string;
  readonly client: string;
  private readonly podNs = new Map<string, string>();

  private constructor(id: string) {
    super(id);
    this.node = `${id}-node`;
    this.client = `${id}-cli`;
  }

  /** Builds the namespaces and starts the pod servers; on any failure, tears down what was built. */
  static async create(spec: ClusterSpec): Promise<NetnsCluster> {
    const c = new NetnsCluster(`svcr-${process.pid}-${randomBytes(2).toString('hex')}`);
    try {
      await c.build(spec);
      return c;
    } catch (e) {
      await c.destroy();
      throw e;
    }
  }

  /** The namespace of pod `name`. */
  pod(name: string): string {
    const ns = this.podNs.get(name);
    if (!ns) throw new Error(`no pod ${name}`);
    return ns;
  }

  private async build(spec: ClusterSpec): Promise<void> {
    const ip = (ns: string, ...args: string[]) => mustExec('ip', ['-n', ns, ...args]);
    await this.addNs(this.node);
    await mustExec('ip', ['netns', 'exec', this.node, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    // Unknown destinations (ClusterIPs, LB IPs) need a route for locally generated packets; DNAT then
    // reroutes. A veth whose peer stays down is a sink (no dummy module needed).
    await ip(this.node, 'link', 'add', 'svc0', 'type', 'veth', 'peer', 'name', 'svc1');
    await ip(this.node, 'link', 'set', 'svc0', 'up');
    await ip(this.node, 'route', 'add', 'default', 'dev', 'svc0');

    await this.addNs(this.client);
    await ip(this.node, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.client);
    await ip(this.node, 'addr', 'add', `${NODE_IP}/24`, 'dev', 'ext0');
    await ip(this.node, 'addr', 'add', `${CLIENT_GW}/24`, 'dev', 'ext0');
    await ip(this.node, 'link', 'set', 'ext0', 'up');
    for (const a of CLIENT_IPS) await ip(this.client, 'addr', 'add', `${a}/24`, 'dev', 'eth0');
    await ip(this.client, 'link', 'set', 'eth0', 'up');
    await ip(this.client, 'route', 'add', 'default', 'via', CLIENT_GW);

    let i = 0;
    for (const p of spec.pods) {
      const ns = `${this.id}-p${i}`;
      const veth = `vp${i}`;
      i++;
      await this.addNs(ns);
      this.podNs.set(p.name, ns);
      await ip(this.node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip(this.node, 'addr', 'add', `${NODE_IP}/32`, 'dev', veth, 'noprefixroute');
      await ip(this.node, 'link', 'set', veth, 'up');
      await ip(this.node, 'route', 'add', `${p.ip}/32`, 'dev', veth);
      await ip(ns, 'addr', 'add', `${p.ip}/32`, 'dev', 'eth0');
      await ip(ns, 'link', 'set', 'eth0', 'up');
      await ip(ns, 'route', 'add', NODE_IP, 'dev', 'eth0', 'scope', 'link');
      await ip(ns, 'route', 'add', 'default', 'via', NODE_IP, 'dev', 'eth0');
      if ((p.tcpPorts?.length ?? 0) + (p.udpPorts?.length ?? 0) > 0) await this.startServer(ns, p.name, p.tcpPorts ?? [], p.udpPorts ?? []);
    }
  }
}

/** Summary helpers for assertions. */
export function podsOf(results: readonly ProbeResult[]): string[] {
  return [...new Set(results.filter((r) => r.ok).map((r) => (r as { pod: string }).pod))].sort();
}

export function errorsOf(results: readonly ProbeResult[]): string[] {
  return [...new Set(results.filter((r) => !r.ok).map((r) => (r as { error: string }).error))].sort();
}
