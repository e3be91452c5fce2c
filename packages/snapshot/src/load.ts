import type { Diagnostic, EndpointSlice, NodeInfo, Origin, Pod, ProxyConfig, Service, Snapshot } from '@svcrules/core';
import type { DiagnosticCode } from './codes.js';
import { describeObject, readObjects, readSource } from './documents.js';
import { readSourcesFast } from './fast-json.js';
import type { RawObject } from './documents.js';
import { formatPath, fromIssue } from './issues.js';
import { LABEL_MANAGED_BY, MAX_ENDPOINTS_PER_SUBSET, MIRRORING_CONTROLLER, mirrorEndpoints } from './mirror.js';
import { endpointSliceKind, LABEL_SERVICE_NAME } from './schemas/endpoint-slice.js';
import { endpointsKind } from './schemas/endpoints.js';
import type { EndpointsObject } from './schemas/endpoints.js';
import type { BuildContext, KindModule, Path } from './schemas/kind.js';
import { kubeProxyConfigKind } from './schemas/kube-proxy-config.js';
import { isMapping } from './schemas/metadata.js';
import { nodeKind } from './schemas/node.js';
import { podKind } from './schemas/pod.js';
import { serviceKind } from './schemas/service.js';
import { Sink } from './sink.js';
import { displayName, show } from './words.js';

export interface LoadOptions {
  /** Leave invalid objects out and report them as warnings instead of errors. */
  readonly skipInvalid?: boolean;
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
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKind = KindModule<any, unknown>;
const KINDS: readonly AnyKind[] = [serviceKind, endpointSliceKind, endpointsKind, nodeKind, podKind, kubeProxyConfigKind];

interface Loaded {
  readonly raw: RawObject;
  readonly mod: AnyKind;
  readonly ref: string;
  readonly origin: Origin | undefined;
  readonly model: unknown;
  valid: boolean;
}

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
      } else ignored.push({ raw, object, reason: 'svcrules does not read this kind' });
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

function assemble(raws: readonly RawObject[], sink: Sink): { snapshot: Snapshot; ignored: Ignored[] } {
  const { loaded, ignored } = validate(raws, sink);
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  const endpoints: { ep: EndpointsObject; l: Loaded }[] = [];
  const nodes: NodeInfo[] = [];
  const pods: Pod[] = [];
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
    }
  }

  const serviceByKey = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const mirroredFor = new Set(
    endpointSlices.filter((s) => s.labels[LABEL_MANAGED_BY] === MIRRORING_CONTROLLER && s.labels[LABEL_SERVICE_NAME]).map((s) => `${s.namespace}/${s.labels[LABEL_SERVICE_NAME]}`),
  );
  const mirrored: EndpointSlice[] = [];
  for (const { ep, l } of endpoints) {
    const key = `${ep.namespace}/${ep.name}`;
    const r = mirrorEndpoints(ep, serviceByKey.get(key), mirroredFor.has(key));
    if (!r.mirrored) {
      ignored.push({ raw: l.raw, object: key, reason: `not mirrored to EndpointSlices: ${r.reason}` });
      continue;
    }
    if (r.skippedAddresses > 0) {
      sink.warning(l.raw.locate(['subsets']), l.ref, 'subsets', 'endpoints-truncated', `expected at most ${MAX_ENDPOINTS_PER_SUBSET} addresses per subset, got more: ${r.skippedAddresses} address${r.skippedAddresses === 1 ? ' is' : 'es are'} not mirrored (as the mirroring controller does)`);
    }
    for (const s of r.slices) mirrored.push(withOrigin(s, l.origin));
  }

  const snapshot: Snapshot = {
    services,
    endpointSlices: [...endpointSlices, ...mirrored],
    nodes,
    ...(pods.length > 0 ? { pods } : {}),
    ...(config ? { config } : {}),
  };
  return { snapshot, ignored };
}

/**
 * Reads kubectl output (YAML streams or JSON; `kind: List` and typed lists unwrapped) into a
 * validated snapshot. Every invalid object is reported with file:line:column, object and field
 * path; the snapshot holds only the valid objects. With `skipInvalid` the same reports are warnings.
 */
export function loadSnapshot(sources: readonly { readonly name: string; readonly text: string }[], options: LoadOptions = {}): LoadResult {
  // The fast path (fast-json.ts) when it has nothing to report; otherwise the diagnostic path.
  let sink = new Sink();
  const fastRaws = readSourcesFast(sources, sink);
  let loaded = fastRaws && assemble(fastRaws, sink);
  if (!loaded || sink.diagnostics(false).length > 0) {
    sink = new Sink();
    loaded = assemble(
      sources.flatMap((s, i) => readSource(s, i, sink)),
      sink,
    );
  }
  const { snapshot, ignored } = loaded;
  return {
    snapshot,
    diagnostics: sink.diagnostics(options.skipInvalid === true),
    ignored: ignored.map((i) => ({ kind: displayName(i.raw.kind), object: i.object, origin: i.raw.locate([]).origin!, reason: i.reason })),
  };
}

/** The same for API objects already parsed (e.g. from a client library): no positions in diagnostics. */
export function snapshotFromObjects(objects: readonly unknown[], options: LoadOptions = {}): ObjectsLoadResult {
  const sink = new Sink();
  const raws = readObjects(objects, sink);
  const { snapshot, ignored } = assemble(raws, sink);
  return {
    snapshot,
    diagnostics: sink.diagnostics(options.skipInvalid === true),
    ignored: ignored.map((i) => ({ kind: displayName(i.raw.kind), object: i.object, index: i.raw.index ?? 0, reason: i.reason })),
  };
}

