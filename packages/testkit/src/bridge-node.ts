/**
 * A network-namespace "node" built like a real one, for tests that compare the tracer with the kernel:
 * bridges (cni0, docker0, ...) with pod/container namespaces on veth ports, an uplink to a client
 * namespace ("outside"), and servers answering `<name> <source it saw>` (cluster.ts's SERVER_JS).
 *
 *   client ns --veth-- [ext0] node ns [cni0]--veth-- pod ns ...
 *                                     [docker0]--veth-- container ns
 *
 * Everything lives in namespaces this class creates (`ip -n NS`); `destroy()` kills the servers and
 * deletes every namespace, also after a failed build.
 */
import { randomBytes } from 'node:crypto';
import { NetnsLab, mustExec } from './cluster.js';

export interface Servers {
  readonly tcp?: readonly number[];
  readonly udp?: readonly number[];
}

export class BridgeNode extends NetnsLab {
  readonly node: string;
  private vethCount = 0;

  private constructor(id: string) {
    super(id);
    this.node = `${id}-node`;
  }

  /** A node namespace with forwarding on and rp_filter off; `build` adds the rest (torn down on failure). */
  static async create(build: (n: BridgeNode) => Promise<void>): Promise<BridgeNode> {
    const n = new BridgeNode(`svcr-${process.pid}-${randomBytes(2).toString('hex')}`);
    try {
      await n.addNs(n.node);
      await n.sysctl(n.node, ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
      await build(n);
      return n;
    } catch (e) {
      await n.destroy();
      throw e;
    }
  }

  ip(ns: string, ...args: string[]): Promise<string> {
    return mustExec('ip', ['-n', ns, ...args]);
  }

  sysctl(ns: string, settings: readonly string[]): Promise<string> {
    return mustExec('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings]);
  }

  /** A bridge in the node with its gateway address (`10.244.0.1/24`). */
  async bridge(name: string, cidr: string): Promise<void> {
    await this.ip(this.node, 'link', 'add', name, 'type', 'bridge');
    await this.ip(this.node, 'addr', 'add', cidr, 'dev', name);
    await this.ip(this.node, 'link', 'set', name, 'up');
  }

  /**
   * A namespace whose eth0 (`ip/len`) is a veth port of `bridge` (hairpin mode on unless told), default
   * route via `gateway`, running `servers` under `name`. Returns the namespace.
   */
  async attach(bridge: string, name: string, cidr: string, gateway: string, servers: Servers = {}, hairpin = true): Promise<string> {
    const ns = `${this.id}-${name}`;
    const veth = `veth${this.vethCount++}`;
    await this.addNs(ns);
    await this.ip(this.node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.ip(this.node, 'link', 'set', veth, 'master', bridge);
    // As the CNI bridge plugin does (hairpinMode): a pod reaching itself through a Service.
    if (hairpin) await this.ip(this.node, 'link', 'set', veth, 'type', 'bridge_slave', 'hairpin', 'on');
    await this.ip(this.node, 'link', 'set', veth, 'up');
    await this.ip(ns, 'addr', 'add', cidr, 'dev', 'eth0');
    await this.ip(ns, 'link', 'set', 'eth0', 'up');
    await this.ip(ns, 'route', 'add', 'default', 'via', gateway);
    await this.serve(ns, name, servers);
    return ns;
  }

  /** A namespace "outside" the node, linked by `uplink` (node side) with the node's addresses on it. */
  async outside(name: string, uplink: string, nodeCidrs: readonly string[], cidrs: readonly string[], gateway: string, servers: Servers = {}): Promise<string> {
    const ns = `${this.id}-${name}`;
    await this.addNs(ns);
    await this.ip(this.node, 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    for (const c of nodeCidrs) await this.ip(this.node, 'addr', 'add', c, 'dev', uplink);
    await this.ip(this.node, 'link', 'set', uplink, 'up');
    for (const c of cidrs) await this.ip(ns, 'addr', 'add', c, 'dev', 'eth0');
    await this.ip(ns, 'link', 'set', 'eth0', 'up');
    await this.ip(ns, 'route', 'add', 'default', 'via', gateway);
    await this.serve(ns, name, servers);
    return ns;
  }

  /** Starts a server in `ns` answering as `name` (nothing without ports). */
  async serve(ns: string, name: string, servers: Servers): Promise<void> {
    if ((servers.tcp?.length ?? 0) + (servers.udp?.length ?? 0) === 0) return;
    await this.startServer(ns, name, servers.tcp ?? [], servers.udp ?? []);
  }
}
