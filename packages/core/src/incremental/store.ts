import { ServiceEndpointIndex } from '../endpoint-index.js';
import type { EndpointInfo } from '../endpoints.js';
import { deriveEndpointSlices } from '../endpointslice-controller.js';
import type { EndpointSlice, IPFamily, NodeInfo, Pod, ProxyConfig, Service, Snapshot } from '../model.js';
import type { SnapshotChanges } from '../incremental.js';

export const nsKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Structural equality of plain snapshot data, ignoring `origin` (where an object was read from). */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao).filter((k) => k !== 'origin' && ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => k !== 'origin' && bo[k] !== undefined);
  if (keys.length !== bKeys.length) return false;
  for (const k of keys) if (!sameData(ao[k], bo[k])) return false;
  return true;
}

type SliceKind = 'g' | 'd';

/**
 * The incremental compiler's snapshot, by key (the last object per namespace/name wins), with what
 * it needs to find work: the slices of each Service, the Services touched since the last sync, and
 * per Service an endpoint index fed only the slices that changed. Given slices and the slices
 * derived from Pods are kept apart: the Pods' derivation is redone on every change of the snapshot.
 */
export class ObjectStore {
  private readonly services = new Map<string, Service>();
  private readonly givenSlices = new Map<string, EndpointSlice>();
  private readonly derivedSlices = new Map<string, EndpointSlice>();
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly pods = new Map<string, Pod>();
  private config: ProxyConfig | undefined;
  /** Slices (by store key `g:ns/name` / `d:ns/name`) per Service key `ns/serviceName`. */
  private readonly slicesByService = new Map<string, Set<string>>();
  /** Services to recompile: `true` when their endpoints must be rebuilt from their slices too. */
  private dirty = new Map<string, boolean>();
  /**
   * Endpoint indexes of Services recompiled since the indexes were reset (made on their first
   * use), and the slices (store key -> slice, or undefined when gone) changed since.
   */
  private readonly indexes = new Map<string, ServiceEndpointIndex>();
  private readonly pendingSlices = new Map<string, Map<string, EndpointSlice | undefined>>();

  constructor(private readonly family: IPFamily) {}

  /** Applies a batch of watch events. */
  apply(changes: SnapshotChanges): void {
    for (const s of changes.services?.upsert ?? []) this.putService(s);
    for (const r of changes.services?.remove ?? []) this.dropService(nsKey(r.namespace, r.name));
    for (const s of changes.endpointSlices?.upsert ?? []) this.putSlice('g', s);
    for (const r of changes.endpointSlices?.remove ?? []) this.dropSlice('g', nsKey(r.namespace, r.name));
    for (const n of changes.nodes?.upsert ?? []) this.nodes.set(n.name, n);
    for (const n of changes.nodes?.remove ?? []) this.nodes.delete(n);
    for (const p of changes.pods?.upsert ?? []) this.pods.set(nsKey(p.namespace, p.name), p);
    for (const r of changes.pods?.remove ?? []) this.pods.delete(nsKey(r.namespace, r.name));
    if (changes.config !== undefined) this.config = changes.config ?? undefined;
    this.rederive();
  }

  /** Replaces the whole snapshot; objects equal by value to the stored ones count as unchanged. */
  replace(snapshot: Snapshot): void {
    const svcKeys = new Set<string>();
    for (const s of snapshot.services) {
      svcKeys.add(nsKey(s.namespace, s.name));
      this.putService(s);
    }
    for (const k of [...this.services.keys()]) if (!svcKeys.has(k)) this.dropService(k);
    const sliceKeys = new Set<string>();
    for (const s of snapshot.endpointSlices) {
      sliceKeys.add(nsKey(s.namespace, s.name));
      this.putSlice('g', s);
    }
    for (const k of [...this.givenSlices.keys()]) if (!sliceKeys.has(k)) this.dropSlice('g', k);
    this.nodes.clear();
    for (const n of snapshot.nodes) this.nodes.set(n.name, n);
    this.pods.clear();
    for (const p of snapshot.pods ?? []) this.pods.set(nsKey(p.namespace, p.name), p);
    this.config = snapshot.config;
    this.rederive();
  }

  /** The snapshot (a new object, objects in key order; derived slices are not part of it). */
  snapshot(): Snapshot {
    return {
      services: [...this.services.values()],
      endpointSlices: [...this.givenSlices.values()],
      nodes: [...this.nodes.values()],
      ...(this.pods.size > 0 ? { pods: [...this.pods.values()] } : {}),
      ...(this.config !== undefined ? { config: this.config } : {}),
    };
  }

  /** What the CompileContext is made of: nodes and configuration. */
  contextInput(): Snapshot {
    return { services: [], endpointSlices: [], nodes: [...this.nodes.values()], ...(this.config ? { config: this.config } : {}) };
  }

  serviceKeys(): IterableIterator<string> {
    return this.services.keys();
  }

  service(key: string): Service | undefined {
    return this.services.get(key);
  }

  /** The Services touched since the last call (`true`: their slices changed too). */
  takeDirty(): Map<string, boolean> {
    const out = this.dirty;
    this.dirty = new Map();
    return out;
  }

  /** Forgets the endpoint indexes (the node changed: every endpoint's locality may have). */
  resetIndexes(): void {
    this.indexes.clear();
    this.pendingSlices.clear();
  }

  /** The Service's slices, given ones first (the order compile() sees them in: given, then derived). */
  slicesOf(svcKey: string): EndpointSlice[] {
    const given: EndpointSlice[] = [];
    const derived: EndpointSlice[] = [];
    for (const storeKey of this.slicesByService.get(svcKey) ?? []) {
      const s = this.sliceAt(storeKey);
      if (s !== undefined) (storeKey[0] === 'g' ? given : derived).push(s);
    }
    return derived.length === 0 ? given : [...given, ...derived];
  }

  /** The Service's endpoints per port, from its index (made on first use, then fed the changed slices). */
  indexedEndpoints(svcKey: string, nodeName: string): Map<string, EndpointInfo[]> {
    let index = this.indexes.get(svcKey);
    const pending = this.pendingSlices.get(svcKey);
    this.pendingSlices.delete(svcKey);
    if (!index) this.indexes.set(svcKey, (index = new ServiceEndpointIndex(this.family, nodeName, this.sliceEntriesOf(svcKey), (k) => (k[0] === 'g' ? 0 : 1))));
    else for (const [storeKey, s] of pending ?? []) index.set(storeKey, s);
    return index.map();
  }

  private sliceAt(storeKey: string): EndpointSlice | undefined {
    return (storeKey[0] === 'g' ? this.givenSlices : this.derivedSlices).get(storeKey.slice(2));
  }

  /** The Service's slices by store key, given ones first. */
  private sliceEntriesOf(svcKey: string): Map<string, EndpointSlice> {
    const out = new Map<string, EndpointSlice>();
    for (const kind of ['g', 'd'] as const) {
      for (const storeKey of this.slicesByService.get(svcKey) ?? []) {
        if (storeKey[0] !== kind) continue;
        const s = this.sliceAt(storeKey);
        if (s !== undefined) out.set(storeKey, s);
      }
    }
    return out;
  }

  private markDirty(key: string, endpoints: boolean) {
    this.dirty.set(key, endpoints || (this.dirty.get(key) ?? false));
  }

  private indexSlice(storeKey: string, s: EndpointSlice, add: boolean) {
    if (s.serviceName === '') return;
    const svcKey = nsKey(s.namespace, s.serviceName);
    let set = this.slicesByService.get(svcKey);
    if (this.indexes.has(svcKey)) {
      let pending = this.pendingSlices.get(svcKey);
      if (!pending) this.pendingSlices.set(svcKey, (pending = new Map()));
      pending.set(storeKey, add ? s : undefined);
    }
    if (add) {
      if (!set) this.slicesByService.set(svcKey, (set = new Set()));
      set.add(storeKey);
    } else if (set) {
      set.delete(storeKey);
      if (set.size === 0) this.slicesByService.delete(svcKey);
    }
    this.markDirty(svcKey, true);
  }

  private putSlice(kind: SliceKind, s: EndpointSlice) {
    const store = kind === 'g' ? this.givenSlices : this.derivedSlices;
    const k = nsKey(s.namespace, s.name);
    const old = store.get(k);
    if (old !== undefined && (old === s || sameData(old, s))) {
      store.set(k, s);
      return;
    }
    const storeKey = `${kind}:${k}`;
    if (old !== undefined) this.indexSlice(storeKey, old, false);
    store.set(k, s);
    this.indexSlice(storeKey, s, true);
  }

  private dropSlice(kind: SliceKind, k: string) {
    const store = kind === 'g' ? this.givenSlices : this.derivedSlices;
    const old = store.get(k);
    if (old === undefined) return;
    store.delete(k);
    this.indexSlice(`${kind}:${k}`, old, false);
  }

  private putService(s: Service) {
    const k = nsKey(s.namespace, s.name);
    const old = this.services.get(k);
    this.services.set(k, s);
    if (old === undefined || (old !== s && !sameData(old, s))) this.markDirty(k, false);
  }

  private dropService(k: string) {
    if (this.services.delete(k)) this.markDirty(k, false);
  }

  /** Re-derives the controller's slices (Pods present): diffed against the previous derivation. */
  private rederive() {
    if (this.pods.size === 0 && this.derivedSlices.size === 0) return;
    const next = this.pods.size > 0 ? deriveEndpointSlices(this.snapshot()) : [];
    const seen = new Set<string>();
    for (const s of next) {
      seen.add(nsKey(s.namespace, s.name));
      this.putSlice('d', s);
    }
    for (const k of [...this.derivedSlices.keys()]) if (!seen.has(k)) this.dropSlice('d', k);
  }
}
