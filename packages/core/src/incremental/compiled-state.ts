import type { CompileContext } from '../context.js';
import type { EndpointInfo } from '../endpoints.js';
import { RenderedPort } from '../iptables/assemble.js';
import { serviceRules } from '../iptables/service-rules.js';
import type { ServicePortRules } from '../iptables/service-rules.js';
import { comparePorts, endpointsOfPort, planPort } from '../proxy-model.js';
import type { ServicePortPlan } from '../service-plan.js';
import type { ServicePortInfo } from '../service-port.js';

/** One service port's plan and rules, and the Service it belongs to. */
export class PortPiece extends RenderedPort {
  constructor(
    readonly svcKey: string,
    readonly plan: ServicePortPlan,
    rules: ServicePortRules,
    /** The port's endpoints before categorizing (what kube-proxy counts for large-cluster mode). */
    readonly endpoints: number,
  ) {
    super(rules);
  }
  get info(): ServicePortInfo {
    return this.plan.info;
  }
}

/** One Service's compiled pieces (all its ports, in canonical order). */
export interface ServiceEntry {
  readonly key: string;
  readonly ports: readonly PortPiece[];
  /** Endpoints of this Service by portKey (only rebuilt when its slices or the node change). */
  readonly endpointsMap: ReadonlyMap<string, readonly EndpointInfo[]>;
  readonly endpoints: number;
}

/** One Service's decisions before rendering: what large-cluster mode is computed from. */
export interface PlannedService {
  readonly key: string;
  readonly plans: readonly ServicePortPlan[];
  readonly counts: readonly number[];
  readonly endpointsMap: ReadonlyMap<string, readonly EndpointInfo[]>;
  readonly endpoints: number;
}

/** The plans of a Service's ports (`infos` in canonical order) over its endpoints. */
export function planService(key: string, infos: readonly ServicePortInfo[], endpointsMap: ReadonlyMap<string, readonly EndpointInfo[]>, ctx: CompileContext): PlannedService {
  let endpoints = 0;
  const counts: number[] = [];
  const plans = [...infos].sort(comparePorts).map((info) => {
    const eps = endpointsOfPort(endpointsMap, info);
    counts.push(eps.length);
    endpoints += eps.length;
    return planPort(info, eps, ctx);
  });
  return { key, plans, counts, endpointsMap, endpoints };
}

/** The piece of the same service port in `e`, if any. */
function samePort(e: ServiceEntry | undefined, info: ServicePortInfo): PortPiece | undefined {
  return e?.ports.find((p) => p.info.name === info.name && p.info.protocol === info.protocol);
}

/**
 * Renders planned ports; `old`: the Service's previous entry, whose unchanged SEP chains and ladder
 * rules are reused (service-rules.ts `RuleReuse`; none when the large-cluster mode differs).
 */
export function renderService(p: PlannedService, ctx: CompileContext, largeClusterMode: boolean, old?: ServiceEntry): ServiceEntry {
  const ports = p.plans.map((plan, i) => {
    const prev = samePort(old, plan.info);
    const piece = new PortPiece(p.key, plan, serviceRules(plan, ctx, largeClusterMode, prev?.rules, true), p.counts[i]!);
    if (prev) piece.reuseDecls(prev);
    return piece;
  });
  return { key: p.key, ports, endpointsMap: p.endpointsMap, endpoints: p.endpoints };
}

/** An entry's plans again, for a re-render (large-cluster mode flipped; plans and endpoints unchanged). */
export function replanned(e: ServiceEntry): PlannedService {
  return { key: e.key, plans: e.ports.map((p) => p.plan), counts: e.ports.map((p) => p.endpoints), endpointsMap: e.endpointsMap, endpoints: e.endpoints };
}

/** Index of the first port of `ports` greater than (`strict`) or not less than `x`. */
function bound(ports: readonly PortPiece[], x: ServicePortInfo, strict: boolean): number {
  let lo = 0;
  let hi = ports.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = comparePorts(ports[mid]!.info, x);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * What the last sync compiled: per Service its entry, every service port in the canonical order,
 * the totals a CompileStats needs, and the large-cluster mode the entries were rendered in.
 */
export class CompiledState {
  private readonly entries = new Map<string, ServiceEntry>();
  /** Every port of every entry, in the canonical order (mutated in place: copy to keep). */
  readonly ports: PortPiece[] = [];
  endpoints = 0;
  filterRules = 0;
  natRules = 0;
  natChains = 0;
  largeClusterMode = false;

  get(key: string): ServiceEntry | undefined {
    return this.entries.get(key);
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  values(): IterableIterator<ServiceEntry> {
    return this.entries.values();
  }

  clear(): void {
    this.entries.clear();
    this.ports.length = 0;
    this.endpoints = this.filterRules = this.natRules = this.natChains = 0;
  }

  /** Replaces the Service's entry (`undefined`: it has none), keeping ports and totals in step. */
  set(key: string, next: ServiceEntry | undefined): void {
    const old = this.entries.get(key);
    if (old === next) return;
    if (old) {
      this.count(old, -1);
      for (const p of old.ports) {
        const to = bound(this.ports, p.info, true);
        for (let i = bound(this.ports, p.info, false); i < to; i++) {
          if (this.ports[i]!.svcKey === key) {
            this.ports.splice(i, 1);
            break;
          }
        }
      }
    }
    if (next) {
      this.count(next, 1);
      this.entries.set(key, next);
      for (const p of next.ports) this.ports.splice(bound(this.ports, p.info, true), 0, p);
    } else this.entries.delete(key);
  }

  /** Fills an empty state in one go (ports sorted once, not inserted one by one). */
  fill(entries: Iterable<ServiceEntry>): void {
    for (const e of entries) {
      this.entries.set(e.key, e);
      this.count(e, 1);
      for (const p of e.ports) this.ports.push(p);
    }
    this.ports.sort((a, b) => comparePorts(a.info, b.info));
  }

  private count(e: ServiceEntry, sign: 1 | -1) {
    this.endpoints += sign * e.endpoints;
    for (const p of e.ports) {
      this.filterRules += sign * p.rules.filterRules.length;
      this.natRules += sign * p.rules.natRules.length;
      this.natChains += sign * p.rules.natChains.length;
    }
  }
}
