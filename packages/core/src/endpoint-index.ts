/**
 * One Service's endpoints per service port, kept up to date slice by slice: what `buildEndpointsMap`
 * computes from all the Service's slices, at the cost of the slices that changed. A Service with
 * 100k endpoints in 1000 slices otherwise re-reads, de-duplicates and sorts all of them when one
 * endpoint moves (kube-proxy's endpointslicecache also keeps slices apart and merges per sync).
 *
 * Per port it keeps the sorted, de-duplicated endpoints and, per endpoint, how many slice entries
 * offer it. An endpoint offered once takes its one entry; one offered by several is settled by
 * `buildEndpointsMap`'s rule, re-reading the Service's slices in their order (rare: duplicates).
 */
import type { EndpointInfo } from './endpoints.js';
import { compareEndpoints, compareSlices, sliceEndpoints, sliceInScope, wins } from './endpoints.js';
import type { EndpointSlice, IPFamily } from './model.js';

interface PortState {
  /** Winners, sorted by endpoint. */
  readonly sorted: EndpointInfo[];
  /** endpoint -> number of slice entries offering it. */
  readonly offers: Map<string, number>;
}

interface SliceState {
  readonly rank: number;
  readonly slice: EndpointSlice;
  readonly ports: Map<string, EndpointInfo[]>;
}

const bySliceOrder = (a: SliceState, b: SliceState): number => compareSlices(a.slice, b.slice) || a.rank - b.rank;

/** Index of the first element of `sorted` whose endpoint is not less than `endpoint`. */
function lowerBound(sorted: readonly EndpointInfo[], endpoint: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.endpoint < endpoint) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class ServiceEndpointIndex {
  private readonly slices = new Map<string, SliceState>();
  private readonly ports = new Map<string, PortState>();

  /**
   * The index of `slices` (store key -> slice), built in one pass. `rank` orders slices that
   * compare equal (the compiler's given slices before its derived ones).
   */
  constructor(
    private readonly family: IPFamily,
    private readonly nodeName: string,
    slices: ReadonlyMap<string, EndpointSlice> = new Map(),
    private readonly rank: (key: string) => number = () => 0,
  ) {
    const states: SliceState[] = [];
    for (const [key, slice] of slices) {
      if (!sliceInScope(slice, family)) continue;
      const st = { rank: rank(key), slice, ports: sliceEndpoints(slice, nodeName) };
      this.slices.set(key, st);
      states.push(st);
    }
    const winners = new Map<string, Map<string, EndpointInfo>>();
    for (const st of states.sort(bySliceOrder)) {
      for (const [pk, list] of st.ports) {
        let port = this.ports.get(pk);
        let w = winners.get(pk);
        if (!port || !w) {
          this.ports.set(pk, (port = { sorted: [], offers: new Map() }));
          winners.set(pk, (w = new Map()));
        }
        for (const info of list) {
          port.offers.set(info.endpoint, (port.offers.get(info.endpoint) ?? 0) + 1);
          if (wins(w.get(info.endpoint), info)) w.set(info.endpoint, info);
        }
      }
    }
    for (const [pk, w] of winners) for (const info of w.values()) this.ports.get(pk)!.sorted.push(info);
    for (const port of this.ports.values()) port.sorted.sort(compareEndpoints);
  }

  /** Sets (or, with undefined, removes) the slice stored under `key`. */
  set(key: string, slice: EndpointSlice | undefined): void {
    const old = this.slices.get(key);
    if (old?.slice === slice) return;
    const next = slice !== undefined && sliceInScope(slice, this.family) ? { rank: this.rank(key), slice, ports: sliceEndpoints(slice, this.nodeName) } : undefined;
    const touched = new Map<string, Set<string>>();
    const touch = (pk: string, endpoint: string) => {
      let s = touched.get(pk);
      if (!s) touched.set(pk, (s = new Set()));
      s.add(endpoint);
    };
    for (const [pk, list] of old?.ports ?? []) {
      const port = this.ports.get(pk)!;
      for (const info of list) {
        port.offers.set(info.endpoint, port.offers.get(info.endpoint)! - 1);
        touch(pk, info.endpoint);
      }
    }
    if (next) this.slices.set(key, next);
    else this.slices.delete(key);
    // The new slice's own offers: endpoint -> its entry (null when the slice lists it twice).
    const own = new Map<string, Map<string, EndpointInfo | null>>();
    for (const [pk, list] of next?.ports ?? []) {
      let port = this.ports.get(pk);
      if (!port) this.ports.set(pk, (port = { sorted: [], offers: new Map() }));
      const mine = new Map<string, EndpointInfo | null>();
      own.set(pk, mine);
      for (const info of list) {
        port.offers.set(info.endpoint, (port.offers.get(info.endpoint) ?? 0) + 1);
        mine.set(info.endpoint, mine.has(info.endpoint) ? null : info);
        touch(pk, info.endpoint);
      }
    }
    for (const [pk, endpoints] of touched) {
      const port = this.ports.get(pk)!;
      for (const endpoint of endpoints) {
        const n = port.offers.get(endpoint)!;
        const at = lowerBound(port.sorted, endpoint);
        const present = at < port.sorted.length && port.sorted[at]!.endpoint === endpoint;
        if (n === 0) {
          port.offers.delete(endpoint);
          if (present) port.sorted.splice(at, 1);
          continue;
        }
        const info = (n === 1 ? own.get(pk)?.get(endpoint) : undefined) ?? this.settle(pk, endpoint);
        if (present) port.sorted[at] = info;
        else port.sorted.splice(at, 0, info);
      }
    }
    // A port some slice still lists keeps its (possibly empty) entry, as buildEndpointsMap does.
    for (const pk of [...(old?.ports.keys() ?? [])]) if (this.ports.get(pk)?.offers.size === 0 && !this.listsPort(pk)) this.ports.delete(pk);
  }

  /** The endpoints per port key, as `buildEndpointsMap` of the current slices returns them (new arrays). */
  map(): Map<string, EndpointInfo[]> {
    const out = new Map<string, EndpointInfo[]>();
    for (const [pk, port] of this.ports) out.set(pk, port.sorted.slice());
    return out;
  }

  /** The winner among every offer of `endpoint`, in slice order. */
  private settle(pk: string, endpoint: string): EndpointInfo {
    let best: EndpointInfo | undefined;
    for (const s of [...this.slices.values()].sort(bySliceOrder)) {
      for (const info of s.ports.get(pk) ?? []) if (info.endpoint === endpoint && wins(best, info)) best = info;
    }
    return best!;
  }

  private listsPort(pk: string): boolean {
    for (const s of this.slices.values()) if (s.ports.has(pk)) return true;
    return false;
  }
}
