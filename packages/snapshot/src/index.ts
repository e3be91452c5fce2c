export {};
export { endpointSlicesToYaml } from './emit.js';
export { loadSnapshot, snapshotFromObjects } from './load.js';
export type { EndpointsStandIn, IgnoredInput, IgnoredObject, LoadOptions, LoadResult, ObjectsLoadResult } from './load.js';
export { DIAGNOSTIC_CODES } from './codes.js';
export type { DiagnosticCode } from './codes.js';
