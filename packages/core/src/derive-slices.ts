import { withDerivedEndpointSlices } from './endpointslice-controller.js';
import type { Snapshot } from './model.js';

/** A snapshot whose endpoints are all EndpointSlices: what buildModel and the backends read. */
export type SliceSnapshot = Omit<Snapshot, 'pods'> & { readonly pods?: never };

/**
 * The step before the compiler: Services with a selector and no slices of their own (per family)
 * get the slices the EndpointSlice controller would write for their Pods, and the Pods go.
 * Precedence per Service and family is: EndpointSlices given, then v1 Endpoints, then Pods. The
 * snapshot loader (packages/snapshot, mirror.ts) has already turned Endpoints into slices, the
 * placeholder included, so a family the Endpoints speak for is not derived from Pods here.
 */
export function deriveSlices(snapshot: Snapshot): SliceSnapshot {
  const { pods, ...slicesOnly } = snapshot.pods !== undefined && snapshot.pods.length > 0 ? withDerivedEndpointSlices(snapshot) : snapshot;
  return slicesOnly;
}
