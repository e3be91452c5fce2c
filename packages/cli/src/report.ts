import type { IPFamily, Snapshot } from '@svcrules/core';
import { serviceSkipReason, sliceSkipReason } from '@svcrules/core';
import type { LoadResult } from '@svcrules/snapshot';
import type { CliIO } from './io.js';
import { UserError } from './errors.js';
import { note, placeOf, plural, type InputFlags } from './compile-input.js';

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
    lines.push(`${placeOf(svc.origin)}Service ${svc.namespace}/${svc.name} has no ${family} rules: ${reason}`);
  }
  const names = new Set(snapshot.services.map((s) => `${s.namespace}/${s.name}`));
  let objects = loaded.ignored.length;
  for (const slice of snapshot.endpointSlices) {
    const reason = sliceSkipReason(slice, names);
    if (reason === undefined) continue;
    objects++;
    lines.push(`${placeOf(slice.origin)}ignored EndpointSlice ${slice.namespace}/${slice.name}: ${reason}`);
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
