import type { Diagnostic, EndpointSlice, IPFamily, NodeInfo, Origin, Pod, ProxyConfig, Service, ServiceCIDR, Snapshot } from '@svcrules/core';
import type { DiagnosticCode } from './codes.js';
import { describeObject, readObjects, readSource } from './documents.js';
import { readSourceFast } from './fast-json.js';
import type { RawObject } from './documents.js';
import { formatPath, fromIssue } from './issues.js';
import { endpointsFamilies, LABEL_MANAGED_BY, LEADER_ANNOTATION, MAX_ENDPOINTS_PER_SUBSET, MIRRORING_CONTROLLER, mirrorEndpoints, standInSlices } from './mirror.js';
import { endpointSliceKind, endpointSliceV1beta1Kind, LABEL_SERVICE_NAME } from './schemas/endpoint-slice.js';
import { endpointsKind } from './schemas/endpoints.js';
import type { EndpointsObject } from './schemas/endpoints.js';
import type { BuildContext, KindModule, Path } from './schemas/kind.js';
import { kubeProxyConfigKind } from './schemas/kube-proxy-config.js';
import { isMapping } from './schemas/metadata.js';
import { nodeKind } from './schemas/node.js';
import { podKind } from './schemas/pod.js';
import { serviceKind } from './schemas/service.js';
import { serviceCIDRKind } from './schemas/service-cidr.js';
import { Sink } from './sink.js';
import { displayName, show } from './words.js';

export interface LoadOptions {
  /** Leave invalid objects out and report them as warnings instead of errors. */
  readonly skipInvalid?: boolean;
  /**
   * Read v1 Endpoints strictly as the EndpointSlice mirroring controller does: only those of
   * selectorless Services without the skip-mirror label. By default the Endpoints of any Service
   * stand in for the EndpointSlices a dump left out (see `EndpointsStandIn`).
   */
  readonly endpointsAsMirrored?: boolean;
}

/**
 * A Service whose EndpointSlices (of some families) are missing from the input, so its v1 Endpoints
 * object was used instead, as the EndpointSlice controller would have published the same addresses.
 * Precedence per Service and family: EndpointSlices given, then Endpoints, then slices from Pods.
 */
export interface EndpointsStandIn {
  /** `namespace/name` of the Service and of its Endpoints. */
  readonly object: string;
  /** The Endpoints object's place: origin for texts, index for objects. */
  readonly origin?: Origin;
  readonly index?: number;
  readonly families: readonly IPFamily[];
  readonly ready: number;
  readonly notReady: number;
  /** Why the mirroring controller would not have mirrored it. */
  readonly because: string;
}

/** An object that is not part of the snapshot, and why (unknown kind, Endpoints not mirrored, ...). */
export interface IgnoredObject {
  readonly kind: string;
  /** `namespace/name` (or `name` for cluster-scoped kinds). */
  readonly object: string;
  readonly origin: Origin;
  readonly reason: string;
}

export interface LoadResult {
  /** Only the valid objects, whatever the diagnostics say. */
  readonly snapshot: Snapshot;
  /** In input order. Any `error` means the input is not fit to compile (strict mode). */
  readonly diagnostics: Diagnostic[];
  readonly ignored: IgnoredObject[];
  readonly standIns: EndpointsStandIn[];
}

/** Like IgnoredObject, for objects given without positions: `index` is their place in the argument. */
export interface IgnoredInput {
  readonly kind: string;
  readonly object: string;
  readonly index: number;
  readonly reason: string;
}

export interface ObjectsLoadResult {
  readonly snapshot: Snapshot;
  readonly diagnostics: Diagnostic[];
  readonly ignored: IgnoredInput[];
  readonly standIns: EndpointsStandIn[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKind = KindModule<any, unknown>;
const KINDS: readonly AnyKind[] = [serviceKind, endpointSliceKind, endpointSliceV1beta1Kind, endpointsKind, nodeKind, podKind, kubeProxyConfigKind, serviceCIDRKind];

interface Loaded {
  readonly raw: RawObject;
  readonly mod: AnyKind;
  readonly ref: string;
  readonly origin: Origin | undefined;
  readonly model: unknown;
  valid: boolean;
}

interface StandIn {
  readonly l: Loaded;
  readonly object: string;
  readonly families: IPFamily[];
  readonly ready: number;
  readonly notReady: number;
  readonly because: string;
}

const publicStandIn = ({ l, ...rest }: StandIn, withIndex: boolean): EndpointsStandIn =>
  withIndex ? { ...rest, index: l.raw.index ?? 0 } : { ...rest, ...(l.origin ? { origin: l.origin } : {}) };

interface Ignored {
  readonly raw: RawObject;
  readonly object: string;
  readonly reason: string;
}

function identity(raw: RawObject, namespaced: boolean): string | undefined {
  if (raw.kind === kubeProxyConfigKind.kind) return raw.kind;
  const meta = isMapping(raw.value.metadata) ? raw.value.metadata : undefined;
  if (!meta || typeof meta.name !== 'string') return undefined;
  const ns = namespaced ? (typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default') : '';
  return `${raw.kind}\u0000${ns}\u0000${meta.name}`;
}

const where = (l: Loaded): string => (l.origin ? `${l.origin.file}:${l.origin.line}:${l.origin.column}` : `objects[${l.raw.index ?? 0}]`);

function validate(raws: readonly RawObject[], sink: Sink): { loaded: Loaded[]; ignored: Ignored[] } {
  const loaded: Loaded[] = [];
  const ignored: Ignored[] = [];
  for (const raw of raws) {
    const mod = KINDS.find((k) => k.kind === raw.kind && k.apiVersion === raw.apiVersion);
    if (!mod) {
      const known = KINDS.find((k) => k.kind === raw.kind);
      const object = describeObject(raw.value, known ? known.namespaced : isMapping(raw.value.metadata) && raw.value.metadata.namespace !== undefined);
      if (known) {
        sink.warning(raw.locate(['apiVersion']), `${displayName(raw.kind)} ${object}`, 'apiVersion', 'unsupported-api-version', `expected apiVersion ${known.apiVersion} for ${known.kind}, got ${show(raw.apiVersion)}; the object is ignored`);
        ignored.push({ raw, object, reason: `apiVersion ${displayName(raw.apiVersion)} is not read (svcrules reads ${known.apiVersion})` });
      } else if (raw.kind === 'ConfigMap') ignored.push({ raw, object, reason: 'not kube-proxy\'s ConfigMap (svcrules reads a ConfigMap only for its data["config.conf"])' });
      else ignored.push({ raw, object, reason: 'svcrules does not read this kind' });
      continue;
    }
    const ref = mod.kind === kubeProxyConfigKind.kind ? mod.kind : `${mod.kind} ${describeObject(raw.value, mod.namespaced)}`;
    let errors = 0;
    const report = (severity: 'error' | 'warning', path: Path, code: DiagnosticCode, message: string, atKey = false) => {
      if (severity === 'error') errors++;
      sink.add(severity, raw.locate(path, atKey), ref, formatPath(path), code, message);
    };
    const ctx: BuildContext = {
      error: (path, code, message, opts) => report('error', path, code, message, opts?.atKey === true),
      warning: (path, code, message) => report('warning', path, code, message),
    };
    const parsed = mod.schema.safeParse(raw.value, { reportInput: true });
    let model: unknown;
    if (parsed.success) model = mod.build(parsed.data, ctx);
    else for (const issue of parsed.error.issues) {
      const d = fromIssue(issue);
      report('error', d.path, d.code, d.message, d.atKey);
    }
    const origin = raw.locate([]).origin;
    loaded.push({ raw, mod, ref, origin, model, valid: parsed.success && errors === 0 });
  }

  // Duplicates: every copy is left out (which one is "right" would depend on document order).
  const groups = new Map<string, Loaded[]>();
  for (const l of loaded) {
    const id = identity(l.raw, l.mod.namespaced);
    if (id === undefined) continue;
    const g = groups.get(id);
    if (g) g.push(l);
    else groups.set(id, [l]);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    const first = g[0]!;
    for (const l of g) l.valid = false;
    for (const l of g.slice(1)) {
      const path = l.mod.kind === kubeProxyConfigKind.kind ? [] : ['metadata', 'name'];
      sink.error(l.raw.locate(path), l.ref, formatPath(path), 'duplicate-object', `expected each ${l.mod.kind} once, got a second definition (the first is at ${where(first)})`);
    }
  }
  return { loaded, ignored };
}

function withOrigin<T extends object>(model: T, origin: Origin | undefined): T {
  return origin ? { ...model, origin } : model;
}

/**
 * The load-time half of turning endpoints into EndpointSlices: v1 Endpoints become the slices the
 * mirroring controller writes (selectorless Services), or, unless `endpointsAsMirrored`, stand in
 * for the slices a dump left out. Precedence per Service and family: EndpointSlices given, then
 * Endpoints, then Pods; the Pods' slices are derived after loading, by core's `deriveSlices`
 * (compile() runs it first), which leaves every family that has a slice here alone.
 */
function slicesFromEndpoints(
  endpoints: readonly { ep: EndpointsObject; l: Loaded }[],
  services: readonly Service[],
  endpointSlices: readonly EndpointSlice[],
  sink: Sink,
  ignored: Ignored[],
  options: LoadOptions,
): { mirrored: EndpointSlice[]; standIns: StandIn[] } {
  const serviceByKey = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const mirroredFor = new Set(
    endpointSlices.filter((s) => s.labels[LABEL_MANAGED_BY] === MIRRORING_CONTROLLER && s.labels[LABEL_SERVICE_NAME]).map((s) => `${s.namespace}/${s.labels[LABEL_SERVICE_NAME]}`),
  );
  const explicitFamilies = new Map<string, Set<string>>();
  for (const s of endpointSlices) {
    if (s.serviceName === '') continue;
    const key = `${s.namespace}/${s.serviceName}`;
    explicitFamilies.set(key, (explicitFamilies.get(key) ?? new Set()).add(s.addressType));
  }
  const mirrored: EndpointSlice[] = [];
  const standIns: StandIn[] = [];
  for (const { ep, l } of endpoints) {
    const key = `${ep.namespace}/${ep.name}`;
    const service = serviceByKey.get(key);
    const r = mirrorEndpoints(ep, service, mirroredFor.has(key));
    if (!r.mirrored) {
      // Not the mirroring controller's: unless strict, it stands in for the slices of the families
      // the input has none of (a leader-election record or an Endpoints without Service never does).
      if (options.endpointsAsMirrored !== true && service && !ep.annotationKeys.includes(LEADER_ANNOTATION)) {
        if (service.clusterIP === 'None' || service.type === 'ExternalName') {
          ignored.push({ raw: l.raw, object: key, reason: `its Service is ${service.type === 'ExternalName' ? 'of type ExternalName' : 'headless'}: kube-proxy writes no rules for it` });
          continue;
        }
        const given = explicitFamilies.get(key);
        const families = endpointsFamilies(ep, service).filter((f) => !given?.has(f));
        if (families.length > 0) {
          const slices = standInSlices(ep, service, families);
          for (const s of slices) mirrored.push(withOrigin(s, l.origin));
          const eps = slices.flatMap((s) => s.endpoints);
          standIns.push({ l, object: key, families, ready: eps.filter((e) => e.ready === true).length, notReady: eps.filter((e) => e.ready === false).length, because: r.reason });
          continue;
        }
        ignored.push({ raw: l.raw, object: key, reason: `the input has EndpointSlices of every family of Service ${key}, which take precedence` });
        continue;
      }
      ignored.push({ raw: l.raw, object: key, reason: `not mirrored to EndpointSlices: ${r.reason}` });
      continue;
    }
    if (r.skippedAddresses > 0) {
      sink.warning(l.raw.locate(['subsets']), l.ref, 'subsets', 'endpoints-truncated', `expected at most ${MAX_ENDPOINTS_PER_SUBSET} addresses per subset, got more: ${r.skippedAddresses} address${r.skippedAddresses === 1 ? ' is' : 'es are'} not mirrored (as the mirroring controller does)`);
    }
    for (const s of r.slices) mirrored.push(withOrigin(s, l.origin));
  }
  return { mirrored, standIns };
}

function assemble(raws: readonly RawObject[], sink: Sink, options: LoadOptions): { snapshot: Snapshot; ignored: Ignored[]; standIns: StandIn[] } {
  const { loaded, ignored } = validate(raws, sink);
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  const endpoints: { ep: EndpointsObject; l: Loaded }[] = [];
  const nodes: NodeInfo[] = [];
  const pods: Pod[] = [];
  const serviceCIDRs: ServiceCIDR[] = [];
  let config: ProxyConfig | undefined;
  for (const l of loaded) {
    if (!l.valid) continue;
    switch (l.mod.kind) {
      case serviceKind.kind:
        services.push(withOrigin(l.model as Service, l.origin));
        break;
      case endpointSliceKind.kind:
        endpointSlices.push(withOrigin(l.model as EndpointSlice, l.origin));
        break;
      case endpointsKind.kind:
        endpoints.push({ ep: l.model as EndpointsObject, l });
        break;
      case nodeKind.kind:
        nodes.push(withOrigin(l.model as NodeInfo, l.origin));
        break;
      case podKind.kind:
        pods.push(withOrigin(l.model as Pod, l.origin));
        break;
      case kubeProxyConfigKind.kind:
        config = withOrigin(l.model as ProxyConfig, l.origin);
        break;
      case serviceCIDRKind.kind:
        serviceCIDRs.push(withOrigin(l.model as ServiceCIDR, l.origin));
        break;
    }
  }

  const { mirrored, standIns } = slicesFromEndpoints(endpoints, services, endpointSlices, sink, ignored, options);

  const snapshot: Snapshot = {
    services,
    endpointSlices: [...endpointSlices, ...mirrored],
    nodes,
    ...(pods.length > 0 ? { pods } : {}),
    ...(config ? { config } : {}),
    ...(serviceCIDRs.length > 0 ? { serviceCIDRs } : {}),
  };
  return { snapshot, ignored, standIns };
}

/**
 * Reads kubectl output (YAML streams or JSON; `kind: List` and typed lists unwrapped) into a
 * validated snapshot. Every invalid object is reported with file:line:column, object and field
 * path; the snapshot holds only the valid objects. With `skipInvalid` the same reports are warnings.
 */
export function loadSnapshot(sources: readonly { readonly name: string; readonly text: string }[], options: LoadOptions = {}): LoadResult {
  // The fast path (fast-json.ts) when it has nothing to report; otherwise the diagnostic path, since
  // objects read by the fast path know only their own positions.
  let sink = new Sink();
  const read = sources.map((s, i) => readSourceFast(s, i, sink));
  let loaded = assemble(read.flatMap((r) => r.raws), sink, options);
  if (read.some((r) => r.fast) && sink.diagnostics(false).length > 0) {
    sink = new Sink();
    loaded = assemble(sources.flatMap((s, i) => readSource(s, i, sink)), sink, options);
  }
  const { snapshot, ignored, standIns } = loaded;
  return {
    snapshot,
    diagnostics: sink.diagnostics(options.skipInvalid === true),
    ignored: ignored.map((i) => ({ kind: displayName(i.raw.kind), object: i.object, origin: i.raw.locate([]).origin!, reason: i.reason })),
    standIns: standIns.map((s) => publicStandIn(s, false)),
  };
}

/** The same for API objects already parsed (e.g. from a client library): no positions in diagnostics. */
export function snapshotFromObjects(objects: readonly unknown[], options: LoadOptions = {}): ObjectsLoadResult {
  const sink = new Sink();
  const raws = readObjects(objects, sink);
  const { snapshot, ignored, standIns } = assemble(raws, sink, options);
  return {
    snapshot,
    diagnostics: sink.diagnostics(options.skipInvalid === true),
    ignored: ignored.map((i) => ({ kind: displayName(i.raw.kind), object: i.object, index: i.raw.index ?? 0, reason: i.reason })),
    standIns: standIns.map((s) => publicStandIn(s, true)),
  };
}

