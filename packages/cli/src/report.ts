import type { EndpointSlice, IPFamily, Origin, Snapshot } from '@svcrules/core';
import { serviceSkipReason } from '@svcrules/core';
import type { LoadResult } from '@svcrules/snapshot';
import type { CliIO } from './io.js';
import { UserError } from './errors.js';
import { note, plural, type InputFlags } from './compile-input.js';

const at = (o: Origin | undefined) => (o ? `${o.file}:${o.line}:${o.column}: ` : '');
const SKIP_LABELS = ['service.kubernetes.io/service-proxy-name', 'service.kubernetes.io/headless'];

/** Why kube-proxy would not use a slice, or undefined when it does. */
function sliceSkipReason(slice: EndpointSlice, services: ReadonlySet<string>): string | undefined {
  if (slice.addressType === 'FQDN') return 'addressType FQDN (kube-proxy reads only IPv4 and IPv6 slices)';
  if (slice.serviceName === '') return 'no kubernetes.io/service-name label (kube-proxy cannot tell its Service)';
  const label = SKIP_LABELS.find((l) => Object.hasOwn(slice.labels, l));
  if (label !== undefined) return `labelled ${label} (kube-proxy does not watch it)`;
  if (!services.has(`${slice.namespace}/${slice.serviceName}`)) return `no Service ${slice.namespace}/${slice.serviceName} in the input`;
  return undefined;
}

/**
 * What the compiled rules leave out and why: Services without rules for this family, slices kube-proxy
 * would not read, objects the loader ignored. Each with its reason under --verbose; otherwise one note
 * counting them.
 */
export function reportLeftOut(io: CliIO, flags: InputFlags, loaded: LoadResult, family: IPFamily): void {
  const { snapshot } = loaded;
  const lines: string[] = [];
  let services = 0;
  for (const svc of snapshot.services) {
    const reason = serviceSkipReason(svc, family);
    if (reason === undefined) continue;
    services++;
    lines.push(`${at(svc.origin)}Service ${svc.namespace}/${svc.name} has no ${family} rules: ${reason}`);
  }
  const names = new Set(snapshot.services.map((s) => `${s.namespace}/${s.name}`));
  let objects = loaded.ignored.length;
  for (const slice of snapshot.endpointSlices) {
    const reason = sliceSkipReason(slice, names);
    if (reason === undefined) continue;
    objects++;
    lines.push(`${at(slice.origin)}ignored EndpointSlice ${slice.namespace}/${slice.name}: ${reason}`);
  }
  if (flags.verbose) for (const l of lines) io.stderr(`${l}\n`);
  else if (services + objects > 0) {
    const parts = [...(services > 0 ? [`${plural(services, 'Service yields', 'Services yield')} no ${family} rules`] : []), ...(objects > 0 ? [`${plural(objects, 'object was', 'objects were')} ignored`] : [])];
    note(io, flags, `${parts.join(' and ')} (--verbose says why)`);
  }
}

/** An input without any Service: what applying its rules means. */
export const EMPTY_INPUT = 'the input has no Service: its rules hold only the fixed chains, and applying them would delete every service chain';

export function warnIfEmpty(io: CliIO, snapshot: Snapshot): void {
  if (snapshot.services.length === 0) io.stderr(`svcrules: warning: ${EMPTY_INPUT}\n`);
}

/** apply and diff refuse an input without any Service unless --allow-empty. */
export class EmptyInputError extends UserError {}

export function refuseEmpty(snapshot: Snapshot, allowEmpty: boolean | undefined): void {
  if (snapshot.services.length === 0 && allowEmpty !== true) {
    throw new EmptyInputError('the input has no Service: this would delete every service chain (--allow-empty to do it anyway)', 1);
  }
}
